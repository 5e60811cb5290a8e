"""Benchmark of ``bundle build`` on a real architecture (random weights are fine for timing).

Runs the real task trainer's three phases on LIVE-C photos (or generated JPEGs) and times them:
the embedding pass (decode + forward), stage-1 head steps on cached embeddings, and stage-2
backbone + head steps. From those rates it estimates, per public dataset, the time the paper's
recipe takes for one task on this machine. Prints a Markdown table and appends it to docs/benchmarks.md.

    python benchmarks/bench_build.py --arch ViT-B-16 --device auto
"""

from __future__ import annotations

import argparse
import copy
import itertools
import logging
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from report import publish

from aesthetic_curator.engine.devices import resolve_device
from aesthetic_curator.engine.scorer import ScorerSpec, create_scorer
from aesthetic_curator.factory.datasets import TRAIN, ScoredDataset, ScoredImage
from aesthetic_curator.factory.recipe import TrainingRecipe
from aesthetic_curator.factory.training import TaskTrainer

log = logging.getLogger("bench_build")

LIVEC = Path(__file__).resolve().parents[2] / "shared" / "data" / "livec-sample" / "images"

#: Images per dataset (train + test), as the paper's Table 1 counts them.
DATASET_SIZES = {
    "AVA": 255_500,
    "Flickr-AES": 40_000,
    "TAD66K": 67_125,
    "PARA": 31_220,
    "KonIQ-10k": 10_073,
    "SPAQ": 11_125,
}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def photos(count: int, folder: Path) -> list[Path]:
    found = sorted(LIVEC.glob("*.jpg"))[:count]
    if len(found) >= count:
        return found
    rng = np.random.default_rng(0)
    made = []
    for i in range(count):
        path = folder / f"photo{i:04d}.jpg"
        Image.fromarray(rng.integers(0, 255, (600, 800, 3), dtype=np.uint8)).save(path, quality=90)
        made.append(path)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--arch", default="ViT-B-16")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--images", type=int, default=None, help="photos in the embedding pass (CPU 64, GPU 1024)")
    parser.add_argument("--steps", type=int, default=None, help="stage-2 steps timed (CPU 3, GPU 30)")
    parser.add_argument("--batch", type=int, default=None, help="stage-2 batch timed (CPU 8, GPU 32)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--no-append", action="store_true", help="print only; do not add to docs/benchmarks.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    n_images = args.images or (1024 if gpu else 64)
    steps = args.steps or (30 if gpu else 3)
    batch = args.batch or (32 if gpu else 8)

    base = create_scorer(ScorerSpec(model_name=args.arch, pretrained=None))
    with tempfile.TemporaryDirectory() as tmp:
        paths = photos(n_images, Path(tmp))
        items = tuple(ScoredImage(p, float(i % 10), TRAIN) for i, p in enumerate(paths))
        dataset = ScoredDataset("csv", "bench", Path(tmp), (0.0, 10.0), items, False)
        recipe = TrainingRecipe(
            head_steps=300, finetune_steps=steps, finetune_batch_size=batch, checkpoint_every=10**6,
            workers=args.workers, embed_batch_size=64 if gpu else 16,
        )  # fmt: skip
        trainer = TaskTrainer(base, dataset, recipe, Path(tmp) / "work", name="bench", device=device)

        sync(device)
        start = time.perf_counter()
        embeddings, _ = trainer.embeddings("train", list(items))
        sync(device)
        embed_rate = n_images / (time.perf_counter() - start)
        log.info("embedding pass: %.1f images/s", embed_rate)

        repeated = embeddings.repeat(max(1, 4096 // len(embeddings)), 1)
        targets = torch.rand(len(repeated), device=device) * 9 + 1
        head_copy = copy.deepcopy(base.head).to(device)
        sync(device)
        start = time.perf_counter()
        trainer._train_head(head_copy, repeated, targets)
        sync(device)
        head_step = (time.perf_counter() - start) / recipe.head_steps
        log.info("head step (batch %d): %.2f ms", recipe.head_batch_size, head_step * 1e3)

        stamps: list[float] = []

        def on_progress(progress) -> None:
            if progress.stage.endswith("fine-tune"):
                sync(device)
                stamps.append(time.perf_counter())

        trainer.progress = on_progress
        trainer.finetune_stage(head_copy, list(items))
        durations = [b - a for a, b in itertools.pairwise(stamps[1:])] or [stamps[-1] - stamps[0]]
        step_time = statistics.median(durations)
        train_rate = batch / step_time
        log.info("stage-2 step (batch %d): %.2f s, %.1f images/s", batch, step_time, train_rate)

    paper = TrainingRecipe()
    stage2 = paper.finetune_steps * paper.finetune_batch_size / train_rate
    stage1 = paper.head_steps * head_step
    body = [
        f"| measure ({args.arch}, {device.type}) | value |",
        "|---|---|",
        f"| embedding pass, decode + forward ({n_images} photos, {args.workers} decode workers) | "
        f"{embed_rate:.1f} images/s |",
        f"| stage 1: one head step on cached embeddings, batch {paper.head_batch_size} | {head_step * 1e3:.2f} ms |",
        f"| stage 2: one backbone + head step, batch {batch} (median of {max(1, len(stamps) - 2)}) | "
        f"{step_time:.2f} s ({train_rate:.1f} images/s) |",
        "",
        "Estimated time for one task with the paper's recipe on this machine "
        f"(60,000 head steps + {paper.finetune_steps:,} x {paper.finetune_batch_size} fine-tuning images, "
        "extrapolated from the rates above):",
        "",
        "| dataset | images | embedding pass | stage 1 | stage 2 | total |",
        "|---|---|---|---|---|---|",
    ]
    for name, size in DATASET_SIZES.items():
        embed = size / embed_rate
        total = embed + stage1 + stage2
        body.append(
            f"| {name} | {size:,} | {embed / 60:.0f} min | {stage1 / 60:.1f} min | {stage2 / 60:.0f} min | "
            f"{total / 3600:.1f} h |"
        )
    publish(f"Bundle build: {args.arch}, {device.type}", body, append=not args.no_append, device=device)


if __name__ == "__main__":
    main()
