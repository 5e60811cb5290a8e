"""The wait after pressing Personalize: the Jacobian batched or photo by photo, task scores ahead or not.

ViT-B-16 (random weights) with 6 random task vectors, K rated LIVE-C photos, the fast solver, on this
machine's CPU. Cold: the press decodes the photos, scores them with every task (the zero-shot init) and
solves. The baseline is the same cold press with a backward per photo for the Jacobians (the path before
``batched_jacobian`` rebuilt a ViT's per-photo gradients, ``FastOptions(batched_jacobian=False)``),
timed in the same process. Ahead: the task scores were computed in the background while the user rated
(``ModelSession.prefetch_task_scores``), so the press decodes and solves only. The background time is
reported too: it is spent between ratings, not after the press. Like the app, the run first tunes
glibc's malloc (aesthetic_curator.host_memory).

    python benchmarks/bench_score_ahead.py --k 100
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import torch
from report import publish

from aesthetic_curator.engine.loading import load_images
from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.personalize import PersonalizationResult, PersonalizeConfig, personalize, score_images
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.engine.scorer import ScorerSpec, create_scorer
from aesthetic_curator.engine.task_vector import TaskVector
from aesthetic_curator.host_memory import keep_freed_memory

log = logging.getLogger("bench_score_ahead")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--arch", default="ViT-B-16")
    parser.add_argument("--tasks", type=int, default=6)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to docs/benchmarks.md")
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

    def press(
        config: PersonalizeConfig, task_scores: torch.Tensor | None = None, k: int = args.k
    ) -> tuple[float, PersonalizationResult]:
        started = time.perf_counter()
        images = load_images(paths[:k], pre)[1]
        result = personalize(model, images, ratings[:k], config, task_scores=task_scores)
        return time.perf_counter() - started, result

    for batched in (False, True):  # torch's one-time warm-up is paid by neither timed press
        press(PersonalizeConfig.for_solver("fast", batched_jacobian=batched), k=8)
    per_photo_seconds, per_photo = press(PersonalizeConfig.for_solver("fast", batched_jacobian=False))
    log.info("cold, per-photo Jacobian: %.1f s, %d passes", per_photo_seconds, per_photo.passes.total)
    cold_seconds, cold = press(PersonalizeConfig())
    log.info("cold: %.1f s, %d passes", cold_seconds, cold.passes.total)

    started = time.perf_counter()
    ahead_images = load_images(paths, pre)[1]
    scores = torch.stack(
        [score_images(model, ahead_images, model.one_hot(t), batch_size=4) for t in range(args.tasks)], 1
    )
    background = time.perf_counter() - started
    log.info("background scoring: %.1f s", background)

    warm_seconds, warm = press(PersonalizeConfig(), scores)
    log.info("ahead: %.1f s, %d passes", warm_seconds, warm.passes.total)
    rows = [
        f"{args.arch} (random weights), {args.tasks} random task vectors, K = {args.k} LIVE-C photos, fast solver:",
        "",
        "| Personalize press | wait after the press | vs baseline | passes after the press | train SROCC |",
        "|---|---|---|---|---|",
        f"| cold, a backward per photo for the Jacobians (baseline) | {per_photo_seconds:.1f} s | 1.00x "
        f"| {per_photo.passes.total} | {per_photo.train_srocc:.3f} |",
        f"| cold, Jacobians batched (batched_jacobian, as the app runs) | {cold_seconds:.1f} s "
        f"| **{per_photo_seconds / cold_seconds:.2f}x faster** | {cold.passes.total} | {cold.train_srocc:.3f} |",
        f"| **batched + task scores computed ahead** | **{warm_seconds:.1f} s** "
        f"| **{per_photo_seconds / warm_seconds:.2f}x faster** | {warm.passes.total} | {warm.train_srocc:.3f} |",
        "",
        f"Scoring the {args.k} rated photos with every task ahead took {background:.1f} s of background time "
        f"({background / args.k:.2f} s a photo, spent while the user rates). With the scores ahead the init "
        "uses every rated photo (the cold press screens the tasks on 16 and refines 2 on 48).",
    ]
    title = f"Personalize sooner: {args.arch} Jacobians batched, task scores ahead, K = {args.k}"
    publish(title, rows, not args.no_append)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
