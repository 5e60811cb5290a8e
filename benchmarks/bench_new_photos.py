"""Photos added to a ranked album: fitting them into the ranking against ranking the whole album again.

An album of real photos (LIVE-C's sample and more, 935 phone photos) is personalized with the built-in
model from 20 of its photos' MOS (as stars), ranked once; then ``--added`` more photos are copied in and
re-scanned, as the folder watcher does while the app is open. Timed in the same process: the fit
(``curation.rank_new_photos``: the profile scores only the new photos, the stored ranking is merged) and the
baseline, a full ``curation.rank_album`` of the grown album, which is what pressing Rank again would cost.
Then ``2 * --tethered`` photos are copied in one at a time, as from a tethered camera, each fitted in alone:
alternately with the model the session keeps for the profile (``ModelSession.ranking_model``) and with it
baked again, which every fit did before it was kept.

    python benchmarks/bench_new_photos.py --added 20
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from report import publish

from aesthetic_curator import curation
from aesthetic_curator.builtin_model import require_builtin_bundle
from aesthetic_curator.host_memory import keep_freed_memory
from aesthetic_curator.library.album import index_album
from aesthetic_curator.library.store import Library

log = logging.getLogger("bench_new_photos")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--added", type=int, default=20, help="photos copied in after the album was ranked")
    parser.add_argument("--album-size", type=int, default=None, help="photos in the album before any is added")
    parser.add_argument("--tethered", type=int, default=5, help="photos then added one at a time, each fitted in")
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to docs/benchmarks.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    keep_freed_memory()
    data = args.shared / "data"
    sources = sorted((data / "livec-sample" / "images").glob("*.jpg")) + sorted(
        (data / "livec-more" / "images").glob("*.jpg")
    )
    arriving = args.added + 2 * args.tethered
    kept, added = sources[:-arriving], sources[-arriving:]
    kept = kept[: args.album_size]
    added, tethered = added[: args.added], added[args.added :]
    mos = {}
    for line in (data / "livec-sample" / "scores.csv").read_text().splitlines()[1:]:
        name, value = line.split(",")[:2]
        mos[name] = float(value)
    work = Path(tempfile.mkdtemp(prefix="aecur-bench-new-"))
    album = work / "album"
    album.mkdir()
    for path in kept:
        shutil.copy(path, album / f"{path.parent.parent.name}-{path.name}")
    library = Library(work / "library.sqlite3", album)
    index_album(library)
    rated = [p for p in library.photos() if p.relpath.startswith("livec-sample-")][:20]
    for photo in rated:
        library.set_rating(photo.id, stars=1 + min(4, int(mos[photo.relpath.split("-", 2)[-1]] // 20)))
    model = curation.open_model(require_builtin_bundle(), "cpu")
    profile_id = curation.personalize_album(library, model, "bench").profile_id
    started = time.perf_counter()
    curation.rank_album(library, model, profile_id)
    first_rank = time.perf_counter() - started

    for path in added:
        shutil.copy(path, album / f"new-{path.name}")
    started = time.perf_counter()
    sync = index_album(library).sync
    scan = time.perf_counter() - started
    started = time.perf_counter()
    fitted = curation.rank_new_photos(library, model, profile_id, [library.photo(r).id for r in sync.added])
    fit = time.perf_counter() - started
    fitted_scores = library.scores(profile_id)
    started = time.perf_counter()
    curation.rank_album(library, model, profile_id)
    full = time.perf_counter() - started
    full_scores = library.scores(profile_id)
    moved = sum(1 for pid, (_, rank) in full_scores.items() if fitted_scores[pid][1] != rank)
    kept_model, baked_again = one_at_a_time(library, model, profile_id, tethered)
    total = len(full_scores)
    differences = [abs(fitted_scores[pid][0] - score) for pid, (score, _) in full_scores.items()]
    largest, mean_diff = max(differences), sum(differences) / total
    shutil.rmtree(work, ignore_errors=True)

    publish(
        f"New photos fitted into a ranking: {args.added} added to {len(kept)} (built-in model)",
        [
            "| step | time |",
            "|---|---|",
            f"| first ranking of the album ({len(kept)} photos) | {first_rank:.1f} s |",
            f"| re-scan finding the {len(sync.added)} new photos | {scan:.2f} s |",
            f"| **fit**: the new photos scored and merged into the ranking | **{fit:.1f} s** |",
            f"| baseline: the whole album ranked again ({total} photos) | {full:.1f} s |",
            f"| fit / baseline | {full / fit:.1f}x faster |",
            f"| then {2 * args.tethered} photos copied in one at a time (a tethered camera), each fitted in; "
            f"model kept (every other photo): median | "
            f"**{statistics.median(kept_model):.2f} s** |",
            f"| the others, the profile's model baked again for each (as before 2026-12-07): median | "
            f"{statistics.median(baked_again):.2f} s |",
            f"| one photo fitted, model kept / baked again | "
            f"{statistics.median(baked_again) / statistics.median(kept_model):.1f}x faster |",
            "",
            f"{fitted.ranked} photos fitted. Against the full ranking: {moved} of {total} photos' ranks differ, "
            f"scores differ by at most {largest:.1e} (mean |difference| {mean_diff:.1e}). One at a time: "
            f"{', '.join(f'{t:.2f}' for t in kept_model)} s with the model kept, "
            f"{', '.join(f'{t:.2f}' for t in baked_again)} s baked again (alternating, same process).",
        ],
        append=not args.no_append,
    )
    return 0


def one_at_a_time(library: Library, model, profile_id: int, sources: list[Path]) -> tuple[list[float], list[float]]:
    """Seconds to fit each photo copied in alone, alternating: the session's kept model, and baked again."""
    kept: list[float] = []
    baked_again: list[float] = []
    for n, path in enumerate(sources):
        shutil.copy(path, library.album / f"tethered-{n}-{path.name}")
        added = [library.photo(relpath).id for relpath in index_album(library).sync.added]
        fresh = n % 2 == 1
        if fresh:
            model.release_ranking_models()
        started = time.perf_counter()
        curation.rank_new_photos(library, model, profile_id, added)
        (baked_again if fresh else kept).append(time.perf_counter() - started)
    return kept, baked_again


if __name__ == "__main__":
    raise SystemExit(main())
