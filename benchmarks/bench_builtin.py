"""Benchmark of the built-in model on real photos: personalization time and ranking throughput.

Personalizes the built-in bundle (EfficientNet-Lite0 with its shipped task vectors) with the default
fast solver and top tuning at K = 10 and K = 100 (and K = 100 once more with the coefficients alone, for the
tuning's share, and K = 10 and 40 with the coefficients fitted before the tuning, the earlier
default, and as now) on LIVE-C photos and their human scores, then ranks 12-megapixel JPEGs end to end (decode +
preprocess + model) with the baked personal model, and ranks the same files with a ViT-B-16 scorer
(random weights: only the time counts) in the same run, for the ratio.
Like the app, it first tunes glibc's malloc (aesthetic_curator.host_memory); the same K = 100
personalization in a child process with glibc's defaults, and the Jacobian by per-photo backward
in this process, are the baselines for the speed-ups. Prints a Markdown table and appends it, with
the machine description, to docs/benchmarks.md.

    python benchmarks/bench_builtin.py [--shared ../shared] [--files 48] [--no-append]
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image
from report import publish

from aesthetic_curator.builtin_model import require_builtin_bundle
from aesthetic_curator.engine.bundle import Bundle
from aesthetic_curator.engine.devices import resolve_device
from aesthetic_curator.engine.loading import load_images
from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.personalize import PersonalizeConfig, personalize
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.engine.ranking import rank_paths
from aesthetic_curator.engine.scorer import ScorerSpec, create_scorer
from aesthetic_curator.engine.solvers.base import PassCounter
from aesthetic_curator.engine.solvers.jacobian import _jacobian_batched, _jacobian_by_backward
from aesthetic_curator.engine.top_delta import tuned_scorer
from aesthetic_curator.host_memory import OPT_OUT, is_tuned, keep_freed_memory

log = logging.getLogger("bench_builtin")


def livec(shared: Path, n: int) -> tuple[list[Path], list[float]]:
    folder = shared / "data" / "livec-sample"
    with (folder / "scores.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:n]
    return [folder / "images" / r["image"] for r in rows], [float(r["mos"]) for r in rows]


def twelve_megapixel_jpegs(sources: list[Path], folder: Path, n: int) -> list[Path]:
    """Real photo content at 4000x3000 (upscaled LIVE-C photos, JPEG quality 92), like a phone's files."""
    paths = []
    for i in range(n):
        with Image.open(sources[i % len(sources)]) as photo:
            big = photo.convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC)
        path = folder / f"IMG_{i:04d}.jpg"
        big.save(path, quality=92)
        paths.append(path)
    return paths


def time_personalize(
    model: MergedScorer, images: torch.Tensor, ratings: list[float], config: PersonalizeConfig | None = None
):
    started = time.perf_counter()
    result = personalize(model, images, ratings, config or PersonalizeConfig(solver="fast"))
    return time.perf_counter() - started, result.passes.total, result.train_srocc, result.alpha, result


def jacobian_seconds(model: MergedScorer, images: torch.Tensor, alpha: torch.Tensor) -> tuple[float, float, float]:
    """Seconds for the Jacobian of ``images`` by per-photo backward and batched, and their largest relative gap."""
    started = time.perf_counter()
    _, plain, _ = _jacobian_by_backward(model, images, alpha, PassCounter(), None, None)
    middle = time.perf_counter()
    _, batched, _ = _jacobian_batched(model, images, alpha, PassCounter(), None, None)
    ended = time.perf_counter()
    gap = float((plain - batched).abs().max() / plain.abs().max())
    return middle - started, ended - middle, gap


def personalize_in_child(shared: Path) -> float:
    """K = 100 personalization seconds in a fresh process with glibc's default malloc (the baseline)."""
    env = {**os.environ, OPT_OUT: "1"}
    command = [sys.executable, __file__, "--shared", str(shared), "--personalize-only"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])["seconds"]


def model_only(scorer, device: torch.device, batch: int) -> float:
    images = torch.randn(batch, 3, scorer.image_size, scorer.image_size, device=device)
    with torch.inference_mode():
        scorer(images)
        started = time.perf_counter()
        for _ in range(3):
            scorer(images)
    return 3 * batch / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--files", type=int, default=48, help="12 MP JPEGs to rank end to end")
    parser.add_argument("--compare-arch", default="ViT-B-16", help="OpenCLIP architecture ranked for the ratio")
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to docs/benchmarks.md")
    parser.add_argument("--personalize-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    keep_freed_memory()
    device = resolve_device(args.device)
    bundle = Bundle.load(require_builtin_bundle())
    started = time.perf_counter()
    model = MergedScorer.from_bundle(bundle, device)
    load_seconds = time.perf_counter() - started
    paths, mos = livec(args.shared, 100)
    _, images, _ = load_images(paths, Preprocessor.for_scorer(model.base))
    if args.personalize_only:
        print(json.dumps({"seconds": time_personalize(model, images, mos)[0], "tuned": is_tuned()}))
        return 0
    runs = {}
    for k in (10, 100):
        runs[k] = time_personalize(model, images[:k], mos[:k])
        log.info("K=%d: %.1f s, %d passes", k, *runs[k][:2])
    # The earlier defaults (`FastOptions.init_only_below=0`): the coefficients fitted at 10 and 40 photos too.
    # Both warm (the first K = 10 above also warms torch up), so their ratio is the rule's alone.
    fitted_10 = time_personalize(model, images[:10], mos[:10], PersonalizeConfig.for_solver("fast", init_only_below=0))
    warm_10 = time_personalize(model, images[:10], mos[:10])
    fitted_40 = time_personalize(model, images[:40], mos[:40], PersonalizeConfig.for_solver("fast", init_only_below=0))
    warm_40 = time_personalize(model, images[:40], mos[:40])
    coefficients_only = time_personalize(model, images, mos, PersonalizeConfig(tune_top=False))[0]
    default_malloc = personalize_in_child(args.shared) if is_tuned() else float("nan")
    plain_jacobian, batched_jacobian, jacobian_gap = jacobian_seconds(model, images, runs[100][3])
    baked = tuned_scorer(model.bake(runs[100][3].to(device)), runs[100][4].top_delta)  # the profile's model
    batch = 64 if device.type == "cuda" else 16
    compare = create_scorer(ScorerSpec(args.compare_arch), device=device)
    with tempfile.TemporaryDirectory() as folder:
        files = twelve_megapixel_jpegs(paths, Path(folder), args.files)
        ours = rank_paths(baked, files, batch_size=batch).images_per_second
        theirs = rank_paths(compare, files, batch_size=batch).images_per_second
    ours_model, theirs_model = model_only(baked, device, batch), model_only(compare, device, batch)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    publish(
        f"Built-in model: {bundle.spec.model_name}, {len(bundle.tasks)} tasks x {len(bundle.layers)} layers, "
        f"{device.type}",
        [
            "| personalization (fast solver, real LIVE-C photos and MOS) | K = 10 | K = 100 |",
            "|---|---|---|",
            f"| complete run | {runs[10][0]:.1f} s | {runs[100][0]:.1f} s |",
            f"| passes (forward + backward) | {runs[10][1]:,} | {runs[100][1]:,} |",
            f"| SROCC on the rated photos | {runs[10][2]:.3f} | {runs[100][2]:.3f} |",
            f"| of which the top tuning (the run less a coefficients-only run) | | "
            f"{runs[100][0] - coefficients_only:.1f} s |",
            f"| K = 10 again, warm: the coefficients fitted first (`init_only_below=0`, the default until "
            f"2026-12-06; baseline) | {fitted_10[0]:.1f} s, {fitted_10[1]:,} passes | |",
            f"| K = 10 again, warm, as now | {warm_10[0]:.1f} s ({fitted_10[0] / warm_10[0]:.2f}x faster) | |",
            f"| K = 40, warm: the coefficients fitted first (the default at 30-49 photos until 2026-12-06, night; "
            f"baseline) | "
            f"{fitted_40[0]:.1f} s, {fitted_40[1]:,} passes | |",
            f"| K = 40, warm, as now | {warm_40[0]:.1f} s ({fitted_40[0] / warm_40[0]:.2f}x faster), "
            f"{warm_40[1]:,} passes | |",
            "",
            "| K = 100, same run | seconds | vs baseline |",
            "|---|---:|---:|",
            f"| personalization, glibc's default malloc (child process; baseline) | {default_malloc:.1f} | 1.00x |",
            f"| personalization, malloc tuned (host_memory, as the app runs) | {runs[100][0]:.1f} | "
            f"{default_malloc / runs[100][0]:.2f}x faster |",
            f"| one Jacobian, per-photo backward (baseline) | {plain_jacobian:.1f} | 1.00x |",
            f"| one Jacobian, batched (batched_jacobian) | {batched_jacobian:.1f} | "
            f"{plain_jacobian / batched_jacobian:.2f}x faster |",
            "",
            f"The two Jacobians differ by at most {jacobian_gap:.1e} of the largest entry.",
            "",
            f"| ranking | built-in (Lite0) | {args.compare_arch} | ratio |",
            "|---|---|---|---|",
            f"| end to end, {args.files} 4000x3000 JPEGs, images/s | {ours:.1f} | {theirs:.1f} | "
            f"{ours / theirs:.1f}x |",
            f"| model only, batch {batch}, images/s | {ours_model:.1f} | {theirs_model:.1f} | "
            f"{ours_model / theirs_model:.1f}x |",
            "",
            f"Loading the bundle (checksums, int8 decode, merge bank) took {load_seconds:.1f} s. "
            f"Peak host memory {peak_mb:.0f} MB.",
        ],
        append=not args.no_append,
        device=device,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
