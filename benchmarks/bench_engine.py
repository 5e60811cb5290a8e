"""Benchmark of the core engine on a real architecture (random weights are fine for timing).

Times one personalization step of the paper recipe at K = 10 and K = 100 and extrapolates the full
500-step recipe; runs the fast (damped Gauss-Newton) solver in full at the same K; and measures
ranking throughput (model only, and end to end from JPEG files).
Prints a Markdown table and appends it, with the machine description, to docs/benchmarks.md.

    python benchmarks/bench_engine.py --arch ViT-B-16 --device auto
"""

from __future__ import annotations

import argparse
import logging
import resource
import statistics
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image
from report import publish

from aesthetic_curator.engine.devices import resolve_device
from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.personalize import PersonalizeConfig, personalize
from aesthetic_curator.engine.ranking import rank_paths
from aesthetic_curator.engine.scorer import ScorerSpec, create_scorer

log = logging.getLogger("bench_engine")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def random_task_vectors(base, n_tasks: int, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    return [
        {
            name: 0.01 * torch.randn(p.shape, generator=gen) * (p.detach().float().std().cpu() + 1e-3)
            for name, p in base.named_parameters()
        }
        for _ in range(n_tasks)
    ]


def time_steps(merged: MergedScorer, k: int, steps: int, device: torch.device) -> tuple[float, float, int]:
    """Seconds per training step (median), zero-shot + final scoring seconds, and passes per 500 steps."""
    size = merged.base.image_size
    images = torch.randn(k, 3, size, size, generator=torch.Generator().manual_seed(k))
    ratings = [float(i % 5) for i in range(k)]
    per_step: list[float] = []
    last = [time.perf_counter()]

    def on_progress(progress) -> None:
        if progress.stage == "training":
            sync(device)
            now = time.perf_counter()
            per_step.append(now - last[0])
            last[0] = now
        elif progress.stage == "zero-shot" and progress.done == progress.total:
            sync(device)
            last[0] = time.perf_counter()

    started = time.perf_counter()
    config = PersonalizeConfig.for_solver("paper", steps=steps)
    result = personalize(merged, images, ratings, config, progress=on_progress)
    total = time.perf_counter() - started
    step = statistics.median(per_step[1:] if len(per_step) > 1 else per_step)
    if steps >= 500:  # the whole recipe ran: report what it took, not a median times 500
        step = sum(per_step) / len(per_step)
    per_step_passes = (result.passes.total - (merged.n_tasks + 1) * k) // steps
    return step, total - sum(per_step), (merged.n_tasks + 1) * k + 500 * per_step_passes


def time_fast(merged: MergedScorer, k: int) -> tuple[float, int]:
    """Seconds and passes of one complete run of the fast solver (measured, not extrapolated)."""
    size = merged.base.image_size
    images = torch.randn(k, 3, size, size, generator=torch.Generator().manual_seed(k))
    ratings = [float(i % 5) for i in range(k)]
    started = time.perf_counter()
    result = personalize(merged, images, ratings, PersonalizeConfig(solver="fast"))
    return time.perf_counter() - started, result.passes.total


def fast_rows(fast: dict[int, tuple[float, int]], paper: dict[int, tuple[float, int]]) -> list[str]:
    """Table rows for the fast solver, with its speed-up over the paper recipe (same run, same K)."""

    def cell(k: int, text) -> str:
        return text(k) if k in fast else "not run"

    return [
        "| fast solver, complete run (measured) | "
        + " | ".join(cell(k, lambda k: f"{fast[k][0]:.1f} s") for k in (10, 100))
        + " |",
        "| fast solver passes (forward + backward) | "
        + " | ".join(cell(k, lambda k: f"{fast[k][1]:,}") for k in (10, 100))
        + " |",
        "| paper recipe / fast solver: time, passes | "
        + " | ".join(
            cell(k, lambda k: f"{paper[k][0] / fast[k][0]:.1f}x, {paper[k][1] / fast[k][1]:.1f}x") for k in (10, 100)
        )
        + " |",
    ]


def ranking_throughput(scorer, device: torch.device, n_files: int, batch: int) -> tuple[float, float]:
    size = scorer.image_size
    images = torch.randn(batch, 3, size, size, device=device)
    with torch.inference_mode():
        scorer(images)
        sync(device)
        started = time.perf_counter()
        repeats = 3
        for _ in range(repeats):
            scorer(images)
        sync(device)
    model_only = repeats * batch / (time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i in range(n_files):
            path = Path(folder) / f"{i:04d}.jpg"
            Image.effect_noise((1600, 1200), 40 + i % 50).convert("RGB").save(path, quality=90)
            paths.append(path)
        result = rank_paths(scorer, paths, batch_size=batch)
    return model_only, result.images_per_second


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="ViT-B-16", help="OpenCLIP architecture (random weights)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--tasks", type=int, default=6)
    parser.add_argument(
        "--steps", type=int, default=3, help="training steps actually measured per K (500: the whole recipe)"
    )
    parser.add_argument("--fast-k", type=int, nargs="*", default=[10, 100], help="K values for full fast-solver runs")
    parser.add_argument("--files", type=int, default=64, help="JPEG files for end-to-end ranking")
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to docs/benchmarks.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    device = resolve_device(args.device)
    base = create_scorer(ScorerSpec(args.arch), device=device)
    merged = MergedScorer(base, random_task_vectors(base, args.tasks))
    n_layers = merged.n_layers
    rows = []
    for k in (10, 100):
        step, other, passes = time_steps(merged, k, args.steps, device)
        full = 500 * step + other
        rows.append((k, step, other, full, passes))
        log.info("K=%d: %.3fs/step, zero-shot+final %.2fs, 500 steps ~ %.0fs", k, step, other, full)
    fast = {}
    for k in args.fast_k:
        fast[k] = time_fast(merged, k)
        log.info("K=%d: fast solver %.1fs, %d passes", k, *fast[k])
    batch = 64 if device.type == "cuda" else 16
    model_only, end_to_end = ranking_throughput(merged.bake(), device, args.files, batch)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu_mb = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None

    recipe_source = "measured in full" if args.steps >= 500 else f"extrapolated from {args.steps} measured"
    publish(
        f"Engine: {args.arch}, {args.tasks} tasks x {n_layers} layers, {device.type}",
        [
            "| measure | K = 10 | K = 100 |",
            "|---|---|---|",
            f"| one training step (batch = min(K, 32)) | {rows[0][1]:.3f} s | {rows[1][1]:.3f} s |",
            f"| zero-shot scoring ({args.tasks} tasks) + final scoring | {rows[0][2]:.2f} s | {rows[1][2]:.2f} s |",
            f"| paper recipe, 500 steps ({recipe_source}) | {rows[0][3]:.1f} s | {rows[1][3]:.1f} s |",
            f"| image passes of the full recipe (forward + backward) | {rows[0][4]:,} | {rows[1][4]:,} |",
            *fast_rows(fast, {k: (full, passes) for k, _, _, full, passes in rows}),
            "",
            "| ranking | images/s |",
            "|---|---|",
            f"| model only, batch {batch} | {model_only:.1f} |",
            f"| end to end from {args.files} 1600x1200 JPEGs (decode + preprocess + model) | {end_to_end:.1f} |",
            "",
            f"Peak host memory {peak_mb:.0f} MB" + (f", peak GPU memory {gpu_mb:.0f} MB." if gpu_mb else "."),
        ],
        append=not args.no_append,
        device=device,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
