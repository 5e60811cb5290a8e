"""``bundle import-official`` on synthetic checkpoints in exactly the authors' format (tiny CLIP)."""

from __future__ import annotations

import copy
from pathlib import Path

import open_clip
import pytest
import torch
from safetensors.torch import save_file

from aesthetic_curator.cli import main
from aesthetic_curator.engine.base_model import create_base_scorer
from aesthetic_curator.engine.bundle import Bundle
from aesthetic_curator.engine.scorer import packaged_model_config, register_model_config
from aesthetic_curator.engine.session import ModelSession
from aesthetic_curator.engine.test_bundle import TINY_MODEL

HIDDEN = 24  # head width of the synthetic checkpoints (the authors use 512; the import reads it from the file)


def _tiny_clip(seed: int) -> torch.nn.Module:
    register_model_config(TINY_MODEL, packaged_model_config(TINY_MODEL))
    torch.manual_seed(seed)
    return open_clip.create_model(TINY_MODEL, pretrained=None)


def _write_checkpoint(path: Path, base: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """A fine-tuned copy: image tower moved, text tower untouched, a trained head; saved like the authors'."""
    generator = torch.Generator().manual_seed(seed)
    tuned = copy.deepcopy(base)
    with torch.no_grad():
        for name, param in tuned.named_parameters():
            if name.startswith("visual."):
                param.add_(0.01 * torch.randn(param.shape, generator=generator))
    embed = tuned.visual.output_dim
    head = {
        "score_predictor.projection.0.weight": 0.1 * torch.randn(HIDDEN, embed, generator=generator),
        "score_predictor.projection.0.bias": torch.zeros(HIDDEN),
        "score_predictor.projection.3.weight": 0.1 * torch.randn(10, HIDDEN, generator=generator),
        "score_predictor.projection.3.bias": torch.zeros(10),
    }
    state = {f"backbone.{k}": v for k, v in tuned.state_dict().items()} | head
    torch.save({"model": state, "epoch": 3}, path)
    return {k: v for k, v in tuned.state_dict().items() if k.startswith("visual.")}


def write_official_checkpoints(root: Path) -> tuple[Path, Path, torch.nn.Module, dict]:
    """``root/checkpoints`` with two tasks in the authors' format and ``root/base.safetensors`` they came from."""
    root.mkdir(parents=True, exist_ok=True)
    base = _tiny_clip(seed=11)
    save_file({k: v.contiguous() for k, v in base.state_dict().items()}, str(root / "base.safetensors"))
    folder = root / "checkpoints"
    folder.mkdir()
    tuned = {
        task: _write_checkpoint(folder / f"clip_B_3fc_{task}.pth", base, i) for i, task in enumerate(["ava", "koniq"])
    }
    return folder, root / "base.safetensors", base, tuned


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    """A checkpoint folder with two tasks, and the base weights file they were made from."""
    root = tmp_path_factory.mktemp("official")
    _, _, base, tuned = write_official_checkpoints(root)
    return root, base, tuned


def test_import_makes_a_bundle_that_personalizes_and_ranks(official, tmp_path, livec):
    root, base, tuned = official
    out = tmp_path / "bundle"
    args = ["bundle", "import-official", str(root / "checkpoints"), "--out", str(out)]
    assert main([*args, "--base", TINY_MODEL, "--base-weights", str(root / "base.safetensors"), "-q"]) == 0
    bundle = Bundle.load(out)
    assert bundle.task_names == ["ava", "koniq"]
    assert [t.dataset for t in bundle.tasks] == ["AVA", "KonIQ-10k"]
    tau = bundle.load_task_vector("ava")
    key = "visual.conv1.weight"
    expected = tuned["ava"][key] - base.state_dict()[key]
    assert torch.allclose(tau[key], expected, atol=1e-3)  # float16 storage
    scorer = create_base_scorer(bundle)
    assert torch.allclose(scorer.state_dict()[key], base.state_dict()[key])
    assert scorer.head.projection[0].weight.shape == (HIDDEN, base.visual.output_dim)

    images = sorted((livec / "images").glob("*.jpg"))[:30]
    rated = [(path, float(i % 5)) for i, path in enumerate(images[:12])]
    session = ModelSession(bundle, "cpu")
    result = session.personalize(rated)
    ranking = session.rank(session.profile_from(result), images)
    assert len(ranking.ranked) == 30


def test_wrong_base_is_refused(official, tmp_path):
    root, _, _ = official
    other = _tiny_clip(seed=99)  # a different "pretrained" model: its text tower differs
    wrong = tmp_path / "other-base.safetensors"
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, str(wrong))
    args = ["bundle", "import-official", str(root / "checkpoints"), "--out", str(tmp_path / "b")]
    assert main([*args, "--base", TINY_MODEL, "--base-weights", str(wrong), "-q"]) == 2
    assert not (tmp_path / "b").exists()
    from aesthetic_curator.engine.official_import import import_official
    from aesthetic_curator.errors import BundleError

    with pytest.raises(BundleError, match="was not fine-tuned from"):
        import_official(root / "checkpoints", tmp_path / "c", base=TINY_MODEL, base_weights=wrong)


def test_mixed_architectures_and_pickles_are_refused(official, tmp_path):
    from aesthetic_curator.engine.official_import import import_official, load_checkpoint
    from aesthetic_curator.errors import BundleError

    root, _, _ = official
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for path in (root / "checkpoints").glob("*.pth"):
        (mixed / path.name).write_bytes(path.read_bytes())
    state = torch.load(mixed / "clip_B_3fc_ava.pth", weights_only=True)
    state["model"]["backbone.visual.conv1.weight"] = torch.zeros(3, 3)
    torch.save(state, mixed / "clip_B_3fc_tad.pth")
    with pytest.raises(BundleError, match="different architectures"):
        import_official(mixed, tmp_path / "out", base=TINY_MODEL, base_weights=root / "base.safetensors")

    class Payload:  # anything but tensors must not be unpickled
        def __reduce__(self):
            return (print, ("unpickled!",))

    evil = tmp_path / "clip_B_3fc_evil.pth"
    torch.save({"model": Payload()}, evil)
    with pytest.raises(BundleError, match="cannot be read"):
        load_checkpoint(evil)
