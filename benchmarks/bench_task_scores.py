"""Scoring photos with each task model alone: the whole sum of task vectors per merge, or only the one in use.

The built-in model scores photos with every task alone in three places a user waits on: the compare
view's first questions (16 new photos, in batches of 4 so a personalization waits at most one batch:
``ModelSession.prefetch_task_scores``), the zero-shot agreement of Personalize's adaptive init when the
scores were not computed ahead, and the background scoring of rated photos. Each batch merges the
weights once per task. The baseline merges as before 2026-12-06 (a weighted sum over every task's
vector, all but one of them times zero); "one task" reads only the vector in use
(``MergedScorer.merged_parameters``). Same process, same photos, scores compared for equality. Like the
app, the run first tunes glibc's malloc (aesthetic_curator.host_memory).

    python benchmarks/bench_task_scores.py [--shared ../shared] [--rounds 3] [--no-append]
"""

from __future__ import annotations

import argparse
import csv
import logging
import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from unittest import mock

import torch
from report import publish

from aesthetic_curator.builtin_model import require_builtin_bundle
from aesthetic_curator.engine.bundle import Bundle
from aesthetic_curator.engine.judgements import Judgements
from aesthetic_curator.engine.loading import load_images
from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.personalize import score_images, zero_shot_srocc
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.engine.solvers.base import PassCounter
from aesthetic_curator.host_memory import keep_freed_memory

log = logging.getLogger("bench_task_scores")


def every_task_alone(model: MergedScorer, images: torch.Tensor, batch: int) -> torch.Tensor:
    """[N, tasks]: as the session's background scoring does it, ``batch`` photos at a time."""
    rows = []
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch]
        rows.append(
            torch.stack(
                [score_images(model, chunk, model.one_hot(t), batch_size=batch) for t in range(model.n_tasks)], 1
            )
        )
    return torch.cat(rows)


def timed(work: Callable[[], object], rounds: int, baseline: bool) -> tuple[float, object]:
    """Median seconds of ``rounds`` runs of ``work`` (the baseline: the merge's shortcut switched off)."""
    seconds, result = [], None
    for _ in range(rounds):
        with (
            mock.patch.object(MergedScorer, "_only_task", staticmethod(lambda alpha: None))
            if baseline
            else nullcontext()
        ):
            started = time.perf_counter()
            result = work()
            seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each case; the median counts")
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to docs/benchmarks.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    keep_freed_memory()
    model = MergedScorer.from_bundle(Bundle.load(require_builtin_bundle()), "cpu")
    folder = args.shared / "data" / "livec-sample"
    with (folder / "scores.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:100]
    _, images, _ = load_images([folder / "images" / r["image"] for r in rows], Preprocessor.for_scorer(model.base))
    mos = [float(r["mos"]) for r in rows]
    every_task_alone(model, images[:4], 4)  # torch's first passes of these shapes
    cases = [
        (
            "compare view's first questions: 16 new photos, batches of 4",
            lambda: every_task_alone(model, images[:16], 4),
        ),
        (
            "adaptive init's zero-shot agreement, K = 10",
            lambda: zero_shot_srocc(model, images[:10], Judgements.from_ratings(mos[:10]), PassCounter()),
        ),
        (
            "adaptive init's zero-shot agreement, K = 100",
            lambda: zero_shot_srocc(model, images, Judgements.from_ratings(mos), PassCounter()),
        ),
    ]
    lines = [
        "| built-in model, each task alone | all tasks merged (baseline) | one task merged | vs baseline | same |",
        "|---|---:|---:|---:|---|",
    ]
    for name, work in cases:
        before, expected = timed(work, args.rounds, baseline=True)
        after, got = timed(work, args.rounds, baseline=False)
        same = torch.equal(expected, got) if isinstance(got, torch.Tensor) else expected == got
        log.info("%s: %.2f s -> %.2f s", name, before, after)
        lines.append(
            f"| {name} | {before:.2f} s | {after:.2f} s | {before / after:.2f}x faster | {'yes' if same else 'NO'} |"
        )
    lines += [
        "",
        f"Median of {args.rounds} runs each; {model.n_tasks} tasks, {len(model.layer_names)} layers, LIVE-C photos.",
    ]
    publish("Task models alone: one task's vector per merge", lines, not args.no_append)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
