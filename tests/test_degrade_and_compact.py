"""Self-supervised degrade tasks, the int8 task encoding, PARA's columns as users and the eval baselines."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from aesthetic_curator.cli import main
from aesthetic_curator.engine.bundle import INT8, Bundle
from aesthetic_curator.engine.loading import load_images
from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.engine.task_vector import TaskVector
from aesthetic_curator.engine.test_bundle import TINY_MODEL
from aesthetic_curator.errors import RatingsError
from aesthetic_curator.evaluation.baselines import linear_probe_scores
from aesthetic_curator.evaluation.user_datasets import PARA_ATTRIBUTE_COLUMNS, PARA_MIXES, read_user_dataset
from aesthetic_curator.factory.datasets import DatasetError, parse_task_source, read_dataset
from aesthetic_curator.factory.degradations import KINDS, LEVELS, Degradation, parse_kinds

SHARED_PARA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "para-dev"


def _photos(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    paths = []
    for i in range(n):
        # smooth gradients with a little texture: every degradation visibly changes them
        y, x = np.mgrid[0:192, 0:256]  # about the network's input size, where the strengths are defined
        base = np.stack([x / 256, y / 192, (x + y) / 448], axis=-1) * 200 + rng.uniform(0, 40, 3)
        base += 25 * np.sin(x / 5.0)[..., None] * np.cos(y / 7.0)[..., None]  # detail for blur and JPEG to remove
        pixels = np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8)
        path = folder / f"p{i:03d}.jpg"
        Image.fromarray(pixels).save(path, quality=95)
        paths.append(path)
    return paths


def test_every_kind_degrades_more_at_each_level_and_is_deterministic(tmp_path):
    photo = Image.open(_photos(tmp_path, 1)[0]).convert("RGB")
    original = np.asarray(photo, dtype=np.float32)
    for kind in KINDS:
        assert Degradation((kind,), 0, "a.jpg").apply(photo) is photo
        changes = []
        for level in range(1, LEVELS):
            degraded = Degradation((kind,), level, "a.jpg", seed=1).apply(photo)
            again = Degradation((kind,), level, "a.jpg", seed=1).apply(photo)
            assert np.array_equal(np.asarray(degraded), np.asarray(again)), kind
            resized = np.asarray(degraded.resize(photo.size), dtype=np.float32)
            changes.append(float(np.abs(resized - original).mean()))
        assert changes[0] > 0.3, (kind, changes)
        assert changes[-1] >= changes[0], (kind, changes)


def test_degrade_task_argument_and_reader(tmp_path):
    folder = tmp_path / "album"
    _photos(folder, 10)
    (folder / ".hidden").mkdir()
    _photos(folder / ".hidden", 2)
    source = parse_task_source(f"mine=degrade:noise+jpeg:{folder},title=My noise")
    assert (source.reader, source.path, source.options["kind"]) == ("degrade", folder, "noise+jpeg")
    dataset = read_dataset(source, seed=0, test_fraction=0.3)
    assert dataset.pairwise and dataset.title == "My noise"
    assert len(dataset.items) == 10 * LEVELS  # hidden folders are skipped
    for start in range(0, len(dataset.items), LEVELS):  # each photo's versions together, best first, one split
        group = dataset.items[start : start + LEVELS]
        assert len({item.path for item in group}) == 1 and len({item.split for item in group}) == 1
        assert [item.score for item in group] == [3.0, 2.0, 1.0, 0.0]
    with pytest.raises(DatasetError, match="KIND"):
        parse_task_source(f"x=degrade:{folder}")
    with pytest.raises(DatasetError, match="unknown degradation 'smudge'"):
        read_dataset(parse_task_source(f"x=degrade:smudge:{folder}"))
    assert parse_kinds("blur+colour") == ("blur", "colour")


def test_degrade_task_trains_with_the_rank_loss_and_ships_compact(tmp_path, test_bundle):
    """A real (tiny) build: the task learns to put originals above their degraded versions."""
    folder = tmp_path / "album"
    _photos(folder, 24)
    out = tmp_path / "bundle"
    args = ["bundle", "build", "--out", str(out), "--base", TINY_MODEL]
    args += ["--base-weights", str(test_bundle.path / "base.safetensors"), "--compact"]
    args += ["--task", f"noise=degrade:noise:{folder}", "--test-fraction", "0.3"]
    args += ["--head-steps", "200", "--head-batch-size", "32", "--head-lr", "1e-3", "--finetune-steps", "8"]
    args += ["--finetune-batch-size", "8", "--finetune-lr", "1e-4", "--decode-workers", "0", "-q"]
    assert main(args) == 0
    bundle = Bundle.load(out)
    info = bundle.task("noise")
    assert info.encoding == INT8
    assert info.metrics["test_pair_accuracy"] > 0.7, info.metrics
    assert set(info.metrics) == {"head_only_test_srocc", "test_srocc", "test_pair_accuracy"}


def test_int8_encoding_round_trips_within_half_a_step_and_keeps_zero_layers_out():
    torch.manual_seed(0)
    tau = {
        "w": torch.randn(8, 3, 3, 3) * torch.logspace(-4, 0, 8).view(-1, 1, 1, 1),  # rows of very different size
        "b": torch.randn(8) * 1e-3,
        "z": torch.zeros(4, 4),
    }
    stored, zero = TaskVector(tau).encode_int8()
    assert zero == ["z"] and "z" not in stored
    assert stored["w"].dtype == torch.int8 and stored["b"].dtype == torch.float16

    decoded = TaskVector.decode_int8(stored, {k: list(v.shape) for k, v in tau.items()}, zero, "test")
    step = tau["w"].abs().flatten(1).amax(1) / 127
    assert ((decoded["w"] - tau["w"]).abs().flatten(1).amax(1) <= step / 2 + 1e-12).all()
    assert torch.equal(decoded["z"], torch.zeros(4, 4))


def test_linear_probe_recovers_a_linear_taste():
    torch.manual_seed(0)
    features = torch.randn(120, 16)
    taste = features @ torch.randn(16)
    order = torch.randperm(120)
    support, test = order[:40], order[40:]
    scores = linear_probe_scores(features, support, taste, seed=0)
    from aesthetic_curator.engine.metrics import srocc

    assert srocc(scores[test].numpy(), taste[test].numpy()) > 0.9


def _para_layout(root: Path) -> None:
    (root / "images" / "s1").mkdir(parents=True)
    header = ["image", "semantic", *PARA_ATTRIBUTE_COLUMNS, "aestheticScore_mean", "qualityScore_mean"]
    with (root / "scores.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "aesthetic", "quality"])
        writer.writerows([f"s1/{i}.jpg", 1 + i / 10, 5 - i / 10] for i in range(20))
    with (root / "attributes.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i in range(10):
            semantic = "portrait" if i % 2 else "animal"
            writer.writerow([f"s1/{i}.jpg", semantic, *[i] * len(PARA_ATTRIBUTE_COLUMNS), i, 10 - i])


def test_para_columns_become_users(tmp_path):
    _para_layout(tmp_path)
    users = {u.user: u for u in read_user_dataset(f"para-columns:{tmp_path}")}
    expected = {"aesthetic", "quality", *PARA_ATTRIBUTE_COLUMNS.values(), *(m[0] for m in PARA_MIXES)}
    assert set(users) == expected
    assert len(users["aesthetic"].items) == 20 and len(users["composition"].items) == 10
    portraits = dict(users["aesthetic+likes-portraits"].items)
    # photo 1 (portrait) gets the bonus, photo 2 (animal) does not: 1 now ranks above 2
    assert portraits[tmp_path / "images" / "s1/1.jpg"] > portraits[tmp_path / "images" / "s1/2.jpg"]
    with pytest.raises(RatingsError, match=r"scores\.csv"):
        read_user_dataset(f"para-columns:{tmp_path / 'images'}")


@pytest.mark.skipif(not (SHARED_PARA / "scores.csv").is_file(), reason="../shared/data/para-dev is absent")
def test_the_real_para_dev_has_every_column():
    users = {u.user: len(u.items) for u in read_user_dataset(f"para-columns:{SHARED_PARA}")}
    assert users["aesthetic"] == users["quality"] == 6000
    assert all(users[name] == 1500 for name in PARA_ATTRIBUTE_COLUMNS.values())


def test_eval_on_para_columns_with_baselines_and_zero_shot(tmp_path, test_bundle, capsys):
    """The command docs/evaluation.md runs, on a PARA-shaped folder of synthetic photos and the test bundle."""
    import json

    from aesthetic_curator.engine.synthetic import synthetic_photos

    _para_layout(tmp_path)
    for i, photo in enumerate(synthetic_photos(20, 48, seed=5)):
        photo.save(tmp_path / "images" / "s1" / f"{i}.jpg")
    out = tmp_path / "eval.json"
    args = ["eval", "--bundle", str(test_bundle.path), "--dataset", f"para-columns:{tmp_path}", "--shots", "5"]
    args += ["--trials", "2", "--solver", "fast", "--baseline", "linear probe", "best-fit FT"]
    args += ["--finetune-steps", "2", "--max-photos", "8", "--json", str(out), "-q"]
    assert main(args) == 0
    report = json.loads(out.read_text())
    methods = set(report["results"]["5"])
    assert {"best single task", "adaptive init", "linear probe", "best-fit FT", "fast"} <= methods
    assert all(len(report["results"]["5"][m]["per_trial"]) == 2 for m in methods)
    assert set(report["zero_shot"]) == set(report["users"]) and len(report["users"]) == 13
    assert report["settings"]["best_fit_finetune"]["steps"] == 2
    printed = capsys.readouterr().out
    assert "| 5 | linear probe |" in printed and "Each task alone" in printed

    assert main([*args[:-3], "--trials", "0", "--json", str(out), "-q"]) == 0  # zero-shot only
    assert "| 5 |" not in capsys.readouterr().out


def test_margin_rank_loss_stops_pushing_once_the_margin_is_kept():
    """Why degrade tasks do not saturate: kept margins cost nothing and give no gradient."""
    from aesthetic_curator.engine.rank_loss import margin_pair_loss, preference_pairs

    targets = torch.tensor([3.0, 2.0, 1.0, 0.0])
    pairs = preference_pairs(targets)
    kept = torch.tensor([6.0, 5.0, 4.0, 3.0], requires_grad=True)  # one point per level
    loss = margin_pair_loss(kept, targets, pairs, 1.0)
    loss.backward()
    assert float(loss.detach()) == 0.0 and float(kept.grad.abs().sum()) == 0.0
    reversed_scores = torch.tensor([3.0, 4.0, 5.0, 6.0], requires_grad=True)
    loss = margin_pair_loss(reversed_scores, targets, pairs, 1.0)
    loss.backward()
    assert float(loss.detach()) > 0 and reversed_scores.grad[0] < 0 < reversed_scores.grad[3]


def test_int4_encoding_round_trips_within_half_a_step_in_a_quarter_of_float16():
    torch.manual_seed(0)
    tau = {
        "w": torch.randn(8, 5, 3, 3) * torch.logspace(-4, 0, 8).view(-1, 1, 1, 1),  # odd row length: 45
        "m": torch.randn(16, 64),
        "b": torch.randn(8) * 1e-3,
        "z": torch.zeros(4, 4),
    }
    stored, zero = TaskVector(tau).encode_int4()
    assert zero == ["z"] and stored["m"].dtype == torch.uint8 and stored["m"].shape == (16, 32)
    assert stored["b"].dtype == torch.float16
    decoded = TaskVector.decode_int4(stored, {k: list(v.shape) for k, v in tau.items()}, zero, "test")
    for name in ("w", "m"):
        step = tau[name].abs().flatten(1).amax(1) / 7
        assert ((decoded[name] - tau[name]).abs().flatten(1).amax(1) <= step * 0.51 + 1e-6).all()
    matrix_bytes = stored["m"].numel() + 2 * stored["m#scale"].numel()
    assert matrix_bytes <= 0.27 * 2 * tau["m"].numel()  # a quarter of float16, plus one scale per row


def test_recode_makes_an_int4_copy_that_ranks_like_the_original(test_bundle, tmp_path, livec):
    from aesthetic_curator.engine.bundle_writer import recode_bundle
    from aesthetic_curator.engine.metrics import srocc

    copy = recode_bundle(test_bundle, tmp_path / "int4", "int4")
    assert {t.encoding for t in copy.tasks} == {"int4"} and copy.bundle_id != test_bundle.bundle_id
    assert copy.manifest.format_version == 3 and not copy.verify_files()
    task_bytes = sum(copy.file(t.file).stat().st_size for t in copy.tasks)
    dense_bytes = sum(test_bundle.file(t.file).stat().st_size for t in test_bundle.tasks)
    assert task_bytes < 0.3 * dense_bytes * (2 / test_bundle.dtype.itemsize)  # against float16
    photos = sorted((livec / "images").glob("*.jpg"))[:40]
    alpha = torch.full((len(copy.tasks), len(copy.layers)), 1.0 / len(copy.tasks))
    scores = []
    for bundle in (test_bundle, copy):
        scorer = MergedScorer.bake_from_bundle(bundle, alpha)
        images = load_images(photos, Preprocessor.for_scorer(scorer))[1]
        with torch.inference_mode():
            scores.append(scorer(images).numpy())
    assert srocc(scores[1], scores[0]) >= 0.99
