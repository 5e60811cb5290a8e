"""``bundle build`` / ``bundle add-task`` end to end on the tiny ViT: build, personalize, rank, resume, grow, DDP."""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from aesthetic_curator.cli import main
from aesthetic_curator.engine.bundle import Bundle
from aesthetic_curator.engine.session import ModelSession
from aesthetic_curator.engine.test_bundle import TINY_MODEL
from aesthetic_curator.errors import BundleError
from aesthetic_curator.factory.build import TrainingRequest, build_bundle
from aesthetic_curator.factory.datasets import parse_task_source
from aesthetic_curator.factory.recipe import TrainingRecipe

RECIPE_ARGS = [
    "--head-steps", "150", "--head-batch-size", "32", "--finetune-steps", "12", "--finetune-batch-size", "8",
    "--checkpoint-every", "4", "--decode-workers", "0", "--device", "cpu", "-q",
]  # fmt: skip
RECIPE = TrainingRecipe(
    head_steps=60, head_batch_size=16, finetune_steps=12, finetune_batch_size=8, checkpoint_every=3, workers=0
)


def _brightness_photos(folder: Path, n: int, seed: int) -> list[tuple[str, float]]:
    """Photos whose score is their brightness: a task the tiny ViT can genuinely learn."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        level = rng.uniform(0.1, 0.9)
        pixels = np.clip(rng.normal(level, 0.15, (40, 56, 3)), 0, 1)
        name = f"{seed}_{i:04d}.jpg"
        Image.fromarray((pixels * 255).astype(np.uint8)).save(folder / name)
        rows.append((name, level))
    return rows


@pytest.fixture(scope="module")
def koniq(tmp_path_factory) -> Path:
    """A KonIQ-10k tree (published layout and sets file) with one corrupt photo."""
    root = tmp_path_factory.mktemp("koniq10k")
    rows = _brightness_photos(root / "1024x768", 100, seed=1)
    with (root / "koniq10k_scores_and_distributions.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image_name", "c1", "MOS", "SD"])
        writer.writerows([name, 1, 1 + 4 * level, 0.5] for name, level in rows)
    with (root / "koniq10k_distributions_sets.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image_name", "MOS", "set"])
        writer.writerows([name, 0, "test" if i % 5 == 0 else "training"] for i, (name, _) in enumerate(rows))
    (root / "1024x768" / rows[3][0]).write_bytes(b"not a jpeg")
    return root


@pytest.fixture(scope="module")
def base_weights(test_bundle) -> Path:
    """The test bundle's pre-trained tiny tower stands in for an OpenCLIP base."""
    return test_bundle.path / "base.safetensors"


@pytest.fixture(scope="module")
def built(tmp_path_factory, koniq, base_weights, livec) -> Path:
    out = tmp_path_factory.mktemp("built") / "bundle"
    args = ["bundle", "build", "--out", str(out), "--base", TINY_MODEL, "--base-weights", str(base_weights)]
    tasks = ["--task", f"livec=csv:{livec / 'scores.csv'},range=0:100", "--task", f"koniq=koniq10k:{koniq}"]
    assert main([*args, *tasks, *RECIPE_ARGS]) == 0
    return out


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_task_build_personalizes_and_ranks(built, livec):
    bundle = Bundle.load(built)
    assert bundle.task_names == ["livec", "koniq"]
    assert not bundle.verify_files() and not bundle.is_test_bundle
    assert bundle.manifest.base.weights_file  # a local base file is embedded
    koniq = bundle.task("koniq")
    assert koniq.dataset == "KonIQ-10k" and koniq.score_range == (1.0, 5.0)
    assert set(koniq.metrics) == {"test_srocc", "test_plcc", "head_only_test_srocc"}
    assert koniq.metrics["test_srocc"] > 0.8  # brightness is learnable: the recipe really trains
    assert "1 unreadable images skipped" in koniq.notes and "published split" in koniq.notes
    assert "seeded 20% test split" in bundle.task("livec").notes
    assert not built.with_name("bundle.build").exists()  # the work folder goes once the bundle is written

    images = sorted((livec / "images").glob("*.jpg"))[:30]
    session = ModelSession(bundle, "cpu")
    result = session.personalize([(path, float(i % 5)) for i, path in enumerate(images[:12])])
    ranking = session.rank(session.profile_from(result), images)
    assert len(ranking.ranked) == 30


def _killer_script(out: Path, koniq: Path, base_weights: Path, kill_at: int) -> str:
    return f"""
import os, signal
from pathlib import Path
import torch
from aesthetic_curator.factory.build import TrainingRequest, build_bundle
from aesthetic_curator.factory.datasets import parse_task_source
from aesthetic_curator.factory.recipe import TrainingRecipe

def progress(report):  # a hard kill, as from the OOM killer or a power cut: nothing gets to clean up
    if report.stage.endswith("fine-tune") and report.done >= {kill_at}:
        os.kill(os.getpid(), signal.SIGKILL)

request = TrainingRequest([parse_task_source("koniq=koniq10k:{koniq}")], TrainingRecipe(**{RECIPE.__dict__!r}),
                          torch.device("cpu"))
build_bundle(Path({str(out)!r}), request, base={TINY_MODEL!r}, base_weights=Path({str(base_weights)!r}),
             progress=progress)
"""


def test_killed_build_resumes_to_the_same_weights(tmp_path, koniq, base_weights, caplog):
    source = [parse_task_source(f"koniq=koniq10k:{koniq}")]
    request = TrainingRequest(source, RECIPE, torch.device("cpu"))
    common = {"base": TINY_MODEL, "base_weights": base_weights}
    reference = build_bundle(tmp_path / "reference", request, **common)

    out = tmp_path / "resumed"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    killed = subprocess.run([sys.executable, "-c", _killer_script(out, koniq, base_weights, 7)], env=env, check=False)
    assert killed.returncode == -9
    work = tmp_path / "resumed.build" / "koniq"
    assert (work / "finetune.pt").is_file() and not out.exists()

    changed = TrainingRecipe(**{**RECIPE.__dict__, "head_steps": 61})
    with pytest.raises(BundleError, match="other data, base or recipe"):
        build_bundle(out, replace(request, recipe=changed), **common)

    with caplog.at_level(logging.INFO, logger="aesthetic_curator"):
        resumed = build_bundle(out, replace(request, keep_work=True), **common)
    assert "resuming fine-tuning at step 6 of 12" in caplog.text
    assert _sha(out / "tasks" / "koniq.safetensors") == _sha(reference.path / "tasks" / "koniq.safetensors")
    assert resumed.task("koniq").metrics == reference.task("koniq").metrics

    caplog.clear()  # --restart throws the finished work away and trains again from scratch
    with caplog.at_level(logging.INFO, logger="aesthetic_curator"):
        again = build_bundle(out, replace(request, restart=True), overwrite=True, **common)
    assert "resuming" not in caplog.text and "already trained" not in caplog.text
    assert _sha(again.path / "tasks" / "koniq.safetensors") == _sha(reference.path / "tasks" / "koniq.safetensors")


def test_add_task_keeps_existing_tasks_bit_identical(built, tmp_path, base_weights):
    bundle = Bundle.load(built)
    before = {t.name: _sha(built / t.file) for t in bundle.tasks}
    entries_before = bundle.manifest.tasks
    rows = _brightness_photos(tmp_path / "themes", 60, seed=2)
    with (tmp_path / "themes.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "score", "theme"])
        writer.writerows([name, 1 - level, "dark" if level < 0.5 else "light"] for name, level in rows)
    task = f"mine=csv:{tmp_path / 'themes.csv'},images={tmp_path / 'themes'}"
    args = ["bundle", "add-task", str(built), "--task", task, "--split-by", "mine=theme", "--min-group", "10"]
    assert main([*args, *RECIPE_ARGS]) == 0

    grown = Bundle.load(built)
    assert grown.task_names == ["livec", "koniq", "mine-dark", "mine-light"]
    assert {t.name: _sha(built / t.file) for t in grown.tasks[:2]} == before
    assert grown.manifest.tasks[:2] == entries_before
    assert grown.bundle_id != bundle.bundle_id and not grown.verify_files()
    assert "theme = dark" in grown.task("mine-dark").dataset

    from aesthetic_curator.engine.merge import MergedScorer

    merged = MergedScorer.from_bundle(grown)
    assert merged.n_tasks == 4
    assert main([*args, *RECIPE_ARGS]) == 2  # mine-dark and mine-light are in the bundle already
    assert main(["bundle", "add-task", str(built), "--task", f"koniq=csv:{tmp_path / 'themes.csv'}", "-q"]) == 2


def test_torchrun_ddp_build_on_cpu(tmp_path, koniq, base_weights):
    """Two processes through PyTorch's own launcher (Gloo on the CPU); the main one writes the bundle."""
    out = tmp_path / "ddp"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "aesthetic_curator", "bundle", "build", "--out", str(out), "--base", TINY_MODEL,
        "--base-weights", str(base_weights), "--task", f"koniq=koniq10k:{koniq}", *RECIPE_ARGS,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    bundle = Bundle.load(out)
    assert bundle.task_names == ["koniq"] and bundle.task("koniq").metrics["test_srocc"] > 0.8
