"""The paper recipe's K = 100 column, run in pieces, paired with the 10-trial table's methods on the same draws.

docs/evaluation.md ("The paper recipe on the first of those draws", "The second draw"). One paper-recipe
run at K = 100 costs 9-11 minutes on 2 cores, so its column of the 10-trial table (90 runs) is run a
trial or two at a time with ``eval --first-trial N``, each piece into its own JSON. This script checks
that every piece drew what the whole table drew (the adaptive init, which depends only on the draw, must
agree to 1e-6 for every user and trial), then prints each method's mean over the trials the pieces cover
and its paired difference to the default (the fast solver), over every (user, trial) draw, ± the
standard error.

    .venv/bin/python docs/paper_column.py docs/eval/para-k100-9users-10trials.json \
        docs/eval/para-k100-9users-paper-trial*.json
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

K = "100"
DEFAULT = "fast"
SAME_DRAW = "adaptive init"  # depends only on the draw: equal in the table and in every piece


def per_draw(report: dict, method: str, first_trial: int) -> dict[tuple[str, int], float]:
    """{(user, trial): value} of ``method`` in a report saved by ``eval --json``."""
    per_user = report["results"][K][method]["per_user"]
    return {(user, first_trial + i): v for user, values in per_user.items() for i, v in enumerate(values)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", type=Path, help="the whole table's JSON (every trial of the other methods)")
    parser.add_argument("pieces", type=Path, nargs="+", help="JSONs of the paper recipe's pieces")
    args = parser.parse_args()
    table = json.loads(args.table.read_text(encoding="utf-8"))
    methods = {name: per_draw(table, name, 0) for name in table["results"][K]}
    paper: dict[tuple[str, int], float] = {}
    for path in args.pieces:
        piece = json.loads(path.read_text(encoding="utf-8"))
        if not piece.get("complete", True):
            print(f"{path}: not every user is done yet ({piece.get('users_done')} of {len(piece['users'])})")
        first = int(piece["settings"].get("first_trial", 0))
        mine, theirs = per_draw(piece, SAME_DRAW, first), methods[SAME_DRAW]
        for draw, value in mine.items():
            if draw not in theirs or abs(theirs[draw] - value) > 1e-6:
                raise SystemExit(f"{path}: {draw} is not the table's draw ({value} against {theirs.get(draw)})")
        paper.update(per_draw(piece, "paper", first))
    draws = sorted(paper, key=lambda d: (d[1], d[0]))
    trials = sorted({t for _, t in draws})
    methods["paper"] = paper
    default = methods[DEFAULT]
    print(f"K = {K}: {len(draws)} draws, {len({u for u, _ in draws})} users x trials {', '.join(map(str, trials))}")
    print()
    print("| method | mean SROCC | default minus it, paired (± s.e.) | default ahead |")
    print("|---|---|---|---|")
    for name, values in methods.items():
        mean = statistics.fmean(values[d] for d in draws)
        if name == DEFAULT:
            print(f"| **{name} (the default)** | **{mean:.3f}** | | |")
            continue
        differences = [default[d] - values[d] for d in draws]
        error = statistics.stdev(differences) / math.sqrt(len(differences)) if len(differences) > 1 else math.nan
        ahead = sum(x > 0 for x in differences)
        print(f"| {name} | {mean:.3f} | {statistics.fmean(differences):+.3f} ± {error:.3f} | {ahead} / {len(draws)} |")
    print()
    print("| trial | users | paper recipe | default | default minus paper |")
    print("|---|---|---|---|---|")
    for trial in trials:
        mine = [d for d in draws if d[1] == trial]
        p, f = (statistics.fmean(m[d] for d in mine) for m in (paper, default))
        print(f"| {trial} | {len(mine)} | {p:.3f} | {f:.3f} | {f - p:+.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
