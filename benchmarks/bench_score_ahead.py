"""The wait after pressing Personalize, with and without the rated photos' task scores computed ahead.

ViT-B-16 (random weights) with 6 random task vectors, K rated LIVE-C photos, the fast solver, on this
machine's CPU. Cold: the press decodes the photos, scores them with every task (the zero-shot init) and
solves. Ahead: the task scores were computed in the background while the user rated
(``ModelSession.prefetch_task_scores``), so the press decodes and solves only. The background time is
reported too: it is spent between ratings, not after the press. Like the app, the run first tunes
glibc's malloc (aesthetic_curator.host_memory); the cold press is also timed in a child process with
glibc's defaults, the baseline for that setting.

    python benchmarks/bench_score_ahead.py --k 100
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from report import publish

from aesthetic_curator.engine.loading import load_images
from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.personalize import PersonalizeConfig, personalize, score_images
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.engine.scorer import ScorerSpec, create_scorer
from aesthetic_curator.engine.task_vector import TaskVector
from aesthetic_curator.host_memory import OPT_OUT, is_tuned, keep_freed_memory

log = logging.getLogger("bench_score_ahead")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--arch", default="ViT-B-16")
    parser.add_argument("--tasks", type=int, default=6)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to docs/benchmarks.md")
    parser.add_argument("--cold-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    keep_freed_memory()
    torch.manual_seed(0)
    base = create_scorer(ScorerSpec(args.arch)).eval()
    params = {k: v for k, v in base.named_parameters() if v.is_floating_point()}
    taus = [
        TaskVector({k: 0.02 * v.detach().std().clamp_min(1e-3) * torch.randn_like(v) for k, v in params.items()})
        for _ in range(args.tasks)
    ]
    model = MergedScorer(base, taus)
    rows_csv = (args.shared / "data" / "livec-sample" / "scores.csv").read_text().splitlines()[1 : args.k + 1]
    folder = args.shared / "data" / "livec-sample" / "images"
    paths = [folder / line.split(",")[0] for line in rows_csv]
    ratings = [float(line.split(",")[1]) for line in rows_csv]
    pre = Preprocessor.for_scorer(base)

    started = time.perf_counter()
    images = load_images(paths, pre)[1]
    cold = personalize(model, images, ratings, PersonalizeConfig())
    cold_seconds = time.perf_counter() - started
    log.info("cold: %.1f s, %d passes", cold_seconds, cold.passes.total)
    if args.cold_only:
        print(json.dumps({"seconds": cold_seconds}))
        return 0
    default_malloc = float("nan")
    if is_tuned():
        command = [sys.executable, __file__, "--shared", str(args.shared), "--arch", args.arch]
        command += ["--tasks", str(args.tasks), "--k", str(args.k), "--cold-only"]
        done = subprocess.run(command, env={**os.environ, OPT_OUT: "1"}, capture_output=True, text=True, check=True)
        default_malloc = json.loads(done.stdout.strip().splitlines()[-1])["seconds"]

    started = time.perf_counter()
    ahead_images = load_images(paths, pre)[1]
    scores = torch.stack(
        [score_images(model, ahead_images, model.one_hot(t), batch_size=4) for t in range(args.tasks)], 1
    )
    background = time.perf_counter() - started
    log.info("background scoring: %.1f s", background)

    started = time.perf_counter()
    images = load_images(paths, pre)[1]
    warm = personalize(model, images, ratings, PersonalizeConfig(), task_scores=scores)
    warm_seconds = time.perf_counter() - started
    log.info("ahead: %.1f s, %d passes", warm_seconds, warm.passes.total)
    rows = [
        f"{args.arch} (random weights), {args.tasks} random task vectors, K = {args.k} LIVE-C photos, fast solver:",
        "",
        "| Personalize press | wait after the press | passes after the press | train SROCC |",
        "|---|---|---|---|",
        f"| cold, glibc's default malloc (child process) | {default_malloc:.1f} s | {cold.passes.total} | |",
        f"| cold (zero-shot init in the press), malloc tuned as the app runs | {cold_seconds:.1f} s "
        f"| {cold.passes.total} | {cold.train_srocc:.3f} |",
        f"| **task scores computed ahead** | **{warm_seconds:.1f} s ({warm_seconds / cold_seconds:.2f}x)** "
        f"| {warm.passes.total} | {warm.train_srocc:.3f} |",
        "",
        f"Scoring the {args.k} rated photos with every task ahead took {background:.1f} s of background time "
        f"({background / args.k:.2f} s a photo, spent while the user rates). With the scores ahead the init "
        "uses every rated photo (the cold press screens the tasks on 16 and refines 2 on 48).",
    ]
    publish(f"Personalize sooner: task scores ahead, K = {args.k}", rows, not args.no_append)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
