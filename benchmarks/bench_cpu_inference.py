"""CPU ranking: the faster inference model of engine/inference.py against eager float32, in one run.

For the built-in model (real weights) and an OpenCLIP ViT (random weights: its speed is what counts;
its rank correlation still shows the arithmetic is kept): images per second of eager float32 and of
``speed_up_for_cpu``, measured in alternating rounds (median of the rounds), the time to prepare the
fast model, and the Spearman correlation of the two models' scores on the LIVE-C sample photos.

    python benchmarks/bench_cpu_inference.py
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from pathlib import Path

import torch
from report import publish

from aesthetic_curator.builtin_model import require_builtin_bundle
from aesthetic_curator.engine.base_model import create_base_scorer
from aesthetic_curator.engine.bundle import Bundle
from aesthetic_curator.engine.inference import speed_up_for_cpu
from aesthetic_curator.engine.loading import load_images
from aesthetic_curator.engine.metrics import srocc
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.engine.scorer import ScorerSpec, create_scorer

log = logging.getLogger("bench_cpu_inference")


def scores_and_rate(model, images: torch.Tensor, batch: int) -> tuple[torch.Tensor, float]:
    with torch.inference_mode():
        model(images[:batch])
        started = time.perf_counter()
        out = torch.cat([model(images[i : i + batch]).float().reshape(-1) for i in range(0, len(images), batch)])
    return out, len(images) / (time.perf_counter() - started)


def measure(label: str, scorer, photos: list[Path], batch: int, rounds: int) -> str:
    images = load_images(photos, Preprocessor.for_scorer(scorer))[1]
    started = time.perf_counter()
    fast = speed_up_for_cpu(scorer)
    prepare = time.perf_counter() - started
    eager_rates, fast_rates = [], []
    for _ in range(rounds):
        reference, rate = scores_and_rate(scorer, images, batch)
        eager_rates.append(rate)
        scores, rate = scores_and_rate(fast, images, batch)
        fast_rates.append(rate)
    eager, quick = statistics.median(eager_rates), statistics.median(fast_rates)
    rho = srocc(scores.numpy(), reference.numpy())
    log.info("%s: eager %.1f/s, fast %.1f/s, SROCC %.4f", label, eager, quick, rho)
    return (
        f"| {label} | {type(fast).__name__} | {len(images)} | {eager:.1f} | {quick:.1f} | **{quick / eager:.2f}x** "
        f"| {prepare:.1f} s | {rho:.4f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--arch", default="ViT-B-16")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to docs/benchmarks.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    photos = sorted((args.shared / "data" / "livec-sample" / "images").glob("*.jpg"))
    builtin = create_base_scorer(Bundle.load(require_builtin_bundle()))
    torch.manual_seed(0)
    vit = create_scorer(ScorerSpec(args.arch)).eval()
    rows = [
        "| model | fast model | photos | eager float32 img/s | fast img/s | ratio | prepare | SROCC vs float32 |",
        "|---|---|---|---|---|---|---|---|",
        measure("built-in EfficientNet-Lite0 (real weights)", builtin, photos[:400], 32, args.rounds),
        measure(f"{args.arch} (random weights, seed 0)", vit, photos[:96], 16, args.rounds),
        "",
        f"LIVE-C sample photos; median of {args.rounds} alternating rounds; {torch.get_num_threads()} torch threads.",
    ]
    publish("CPU inference for ranking", rows, not args.no_append)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
