"""Does a profile gain from the user's other albums? (Profile → Learn From All My Albums / Use a Profile from
Another Album), measured on real human judgements with the built-in model.

PARA's 1,500 attribute photos carry a scene category (portrait, animal, scene, food, …): here each category
stands for one album, so the other albums hold other subjects, as a photographer's other shoots do. Users: PARA's
attribute columns (aesthetic, quality, composition, colour, depth of field, light, content, content preference,
willingness to share; each the mean of about 25 raters), each one taste applied to every album. For each user,
album and trial, K photos of the album are rated with the user's scores ("here"), M photos of the other albums
("elsewhere", drawn evenly over them), and the album's other photos (at most ``--test``) are the test. Three
profiles on the same draws, each learned as the app learns (fast solver, top tuned):

- here: Personalize in the album (K photos);
- elsewhere: a profile learned in the other albums, used here (Use a Profile from Another Album; M photos);
- both: Learn From All My Albums (K + M photos).

Printed: each profile's mean test SROCC (± std over trials of the mean over users and albums) and the paired
differences (± standard error over every draw, and how many draws each is ahead in).

    .venv/bin/python docs/other_albums_check.py ../shared/data/para-dev --albums portrait food scene \
        --here 10 --elsewhere 40 --first-trial 1 --trials 1 --json docs/eval/other-albums-trial1.json   # 25 min
    .venv/bin/python docs/other_albums_check.py --combine docs/eval/other-albums-trial*.json
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import time
from pathlib import Path

from scipy import stats

from aesthetic_curator.builtin_model import builtin_bundle_path
from aesthetic_curator.engine.session import ModelSession
from aesthetic_curator.evaluation.user_datasets import PARA_ATTRIBUTE_COLUMNS

PROFILES = ("here", "elsewhere", "both")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("para", type=Path, nargs="?", help="the para-dev folder (attributes.csv, images/)")
    parser.add_argument("--albums", nargs="+", default=["portrait", "food", "scene"], help="categories as albums")
    parser.add_argument("--here", type=int, default=10, help="photos rated in the album (K)")
    parser.add_argument("--elsewhere", type=int, default=90, help="photos rated in the other albums (M)")
    parser.add_argument("--test", type=int, default=80, help="at most this many test photos per album")
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--first-trial", type=int, default=0, help="run trials N .. N + trials - 1 (in pieces)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="save every draw's SROCCs here (for --combine)")
    parser.add_argument("--combine", type=Path, nargs="+", help="report the draws saved by earlier runs; run nothing")
    args = parser.parse_args()
    if args.combine:
        draws = [draw for path in args.combine for draw in json.loads(path.read_text(encoding="utf-8"))["draws"]]
        _report(draws)
        return 0
    if args.para is None:
        parser.error("give the para-dev folder (or --combine saved runs)")

    rows = list(csv.DictReader((args.para / "attributes.csv").open(encoding="utf-8")))
    albums: dict[str, list[dict]] = {}
    for row in rows:
        albums.setdefault(row["semantic"], []).append(row)
    session = ModelSession(builtin_bundle_path(), "cpu")
    draws: list[dict] = []
    started = time.perf_counter()
    for trial in range(args.first_trial, args.first_trial + args.trials):
        for album in args.albums:
            for column, user in PARA_ATTRIBUTE_COLUMNS.items():
                rng = random.Random(f"{args.seed}:{trial}:{album}:{column}")
                inside = rng.sample(albums[album], len(albums[album]))
                others = [name for name in sorted(albums) if name != album and len(albums[name]) >= 20]
                outside = _spread_over([albums[name] for name in others], args.elsewhere, rng)
                score = {args.para / "images" / r["image"]: float(r[column]) for r in inside + outside}
                here = [args.para / "images" / r["image"] for r in inside[: args.here]]
                test = [args.para / "images" / r["image"] for r in inside[args.here :][: args.test]]
                elsewhere = [args.para / "images" / r["image"] for r in outside]
                judged = {"here": here, "elsewhere": elsewhere, "both": here + elsewhere}
                draw = {"trial": trial, "album": album, "user": user}
                for name, photos in judged.items():
                    profile = session.profile_from(session.personalize([(p, score[p]) for p in photos]))
                    ranked = session.rank(profile, test).ranked
                    rho = stats.spearmanr([item.score for item in ranked], [score[item.path] for item in ranked])[0]
                    draw[name] = float(rho)
                draws.append(draw)
                line = ", ".join(f"{name} {draw[name]:.3f}" for name in PROFILES)
                print(f"trial {trial} {album:<10} {user:<22} {line}  ({time.perf_counter() - started:.0f} s)")
    if args.json is not None:
        settings = {key: str(value) for key, value in vars(args).items() if key not in ("json", "combine")}
        args.json.write_text(json.dumps({"settings": settings, "draws": draws}, indent=1) + "\n", encoding="utf-8")
    _report(draws)
    return 0


def _spread_over(pools: list[list[dict]], count: int, rng: random.Random) -> list[dict]:
    """``count`` photos of the other albums, taken from each in turn (each album's photos shuffled)."""
    queues = [rng.sample(pool, len(pool)) for pool in pools]
    picked: list[dict] = []
    while len(picked) < count and any(queues):
        picked += [queue.pop() for queue in queues if queue][: count - len(picked)]
    return picked


def _report(draws: list[dict]) -> None:
    trials = sorted({draw["trial"] for draw in draws})
    albums = sorted({draw["album"] for draw in draws})
    print()
    print(f"{len(draws)} draws: albums {', '.join(albums)}; trials {', '.join(map(str, trials))}")
    print("| profile | mean test SROCC (± std over trials of the mean over users and albums) |")
    print("|---|---|")
    for name in PROFILES:
        per_trial = [statistics.fmean(d[name] for d in draws if d["trial"] == trial) for trial in trials]
        spread = statistics.stdev(per_trial) if len(per_trial) > 1 else 0.0
        print(f"| {name} | {statistics.fmean(per_trial):.3f} ± {spread:.3f} |")
    print()
    print("| difference, paired over draws | mean ± s.e. | ahead in |")
    print("|---|---|---|")
    for a, b in (("both", "here"), ("both", "elsewhere"), ("elsewhere", "here")):
        diffs = [draw[a] - draw[b] for draw in draws]
        error = statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) > 1 else 0.0
        ahead = sum(d > 0 for d in diffs)
        print(f"| {a} − {b} | {statistics.fmean(diffs):+.3f} ± {error:.3f} | {ahead} / {len(diffs)} |")


if __name__ == "__main__":
    raise SystemExit(main())
