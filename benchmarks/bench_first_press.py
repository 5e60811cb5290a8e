"""Benchmark: the wait from pressing Personalize, the first time in a session and the next time.

The app's press is an estimate (the time it shows) and then the run. Each scenario runs in a fresh
process with the built-in model on LIVE-C photos and their human scores, as the app does it
(``curation.estimate_personalization`` then ``ModelSession.personalize``), twice in a row:

- *cold*: nothing ran before the press (the CLI; the app before this benchmark's change);
- *background*: what the app's background job does while the user rates first ran:
  ``ModelSession.prefetch_task_scores`` (each task's scores of the rated photos) and
  ``ModelSession.warm_up`` (the personalization's passes once, timed and kept).

Prints a Markdown table and appends it, with the machine description, to docs/benchmarks.md.

    python benchmarks/bench_first_press.py [--shared ../shared] [--no-append]
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

from bench_builtin import livec
from report import publish

from aesthetic_curator import curation
from aesthetic_curator.builtin_model import require_builtin_bundle
from aesthetic_curator.host_memory import keep_freed_memory

log = logging.getLogger("bench_first_press")


def presses(shared: Path, k: int, background: bool) -> dict:
    """In this process: the background work (optional), then two presses, each timed in its two parts."""
    keep_freed_memory()
    photos, mos = livec(shared, k)
    rated = list(zip(photos, mos))
    session = curation.open_model(require_builtin_bundle())
    result: dict = {"background": None, "presses": []}
    if background:
        started = time.perf_counter()
        session.prefetch_task_scores(photos)
        session.warm_up(k)
        result["background"] = time.perf_counter() - started
    for _ in range(2):
        started = time.perf_counter()
        estimate = curation.estimate_personalization(session, k, None, photos)
        middle = time.perf_counter()
        session.personalize(rated)
        ended = time.perf_counter()
        result["presses"].append(
            {"estimate": middle - started, "shown": estimate.seconds, "run": ended - middle, "wait": ended - started}
        )
    return result


def in_child(shared: Path, k: int, background: bool) -> dict:
    command = [sys.executable, __file__, "--shared", str(shared), "--child", str(k)]
    if background:
        command.append("--background")
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to docs/benchmarks.md")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--background", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.child is not None:
        print(json.dumps(presses(args.shared, args.child, args.background)))
        return 0
    rows = [
        "| K | before the press | press | estimate | time shown | run | wait from the press |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for k in (10, 100):
        for background in (False, True):
            measured = in_child(args.shared, k, background)
            before = f"background work, {measured['background']:.1f} s" if background else "nothing (cold)"
            for i, press in enumerate(measured["presses"], start=1):
                rows.append(
                    f"| {k} | {before} | {i} | {press['estimate']:.1f} s | {press['shown']:.1f} s "
                    f"| {press['run']:.1f} s | **{press['wait']:.1f} s** |"
                )
            log.info("K=%d background=%s: %s", k, background, measured)
    publish(
        "The wait from pressing Personalize (built-in model, fresh process per scenario)",
        [
            *rows,
            "",
            "Estimate: the time the app shows, computed before the run (timings kept by the session are reused).",
        ],
        not args.no_append,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
