"""What of an album goes out: the ranking an export follows (a profile's, the user's stars, or exactly the
photos the grid shows) culled by the user's own judgement (a rejected photo never goes; with "only my picks"
only the picks), optionally one photo per burst; then :func:`library.export.export_photos` writes it.

No Qt, no torch: the GUI's Export and the tests call :func:`export_album`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aesthetic_curator.errors import CuratorError
from aesthetic_curator.library.export import DEFAULT_LONG_EDGE, ExportReport, RankedPhoto, export_photos
from aesthetic_curator.library.store import PICKED, REJECTED, Library
from aesthetic_curator.progress import CancelToken, ProgressCallback


def album_ranking(library: Library, profile_id: int | None) -> list[RankedPhoto]:
    """Best first: by a profile's scores, or (``None``) by the user's own stars.

    Ranking by stars is what works without any model: starred photos by stars (ties in album
    order); rejected and unrated photos are left out.
    """
    photos = {p.id: p for p in library.photos()}
    if profile_id is not None:
        scores = library.scores(profile_id)
        rows = sorted((rank, score, photos[pid].relpath) for pid, (score, rank) in scores.items() if pid in photos)
        return [RankedPhoto(relpath, score, rank) for rank, score, relpath in rows]
    ratings = library.ratings()
    starred = [
        (photos[pid].relpath, float(r.stars))
        for pid, r in ratings.items()
        if pid in photos and r.stars is not None and r.flag != REJECTED
    ]
    starred.sort(key=lambda item: (-item[1], item[0]))
    return [RankedPhoto(relpath, stars, rank) for rank, (relpath, stars) in enumerate(starred, start=1)]


def listed_ranking(library: Library, profile_id: int | None, photo_ids: Sequence[int]) -> list[RankedPhoto]:
    """``photo_ids`` ranked in their order, each with the profile's score (or its stars, 0 for none)."""
    photos = {p.id: p for p in library.photos()}
    scores = library.scores(profile_id) if profile_id is not None else {}
    ratings = library.ratings()
    listed = [pid for pid in photo_ids if pid in photos]
    return [
        RankedPhoto(
            photos[pid].relpath,
            scores[pid][0] if pid in scores else float(ratings[pid].stars or 0) if pid in ratings else 0.0,
            rank,
        )
        for rank, pid in enumerate(listed, start=1)
    ]


def export_album(
    library: Library,
    profile_id: int | None,
    dest: Path,
    *,
    top: int | None = None,
    top_percent: float | None = None,
    min_score: float | None = None,
    mode: str = "copy",
    long_edge: int = DEFAULT_LONG_EDGE,
    write_xmp: bool = False,
    with_raw: bool = True,
    numbered: bool = False,
    best_of_bursts: bool = False,
    only_picks: bool = False,
    photo_ids: Sequence[int] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> ExportReport:
    """Export the best photos by a profile (or by the user's stars when ``profile_id`` is None), or with
    ``photo_ids`` those photos in that order (what the grid shows, however it is filtered). The user's
    culling comes first: a rejected photo is never exported, however high a profile ranks it, and with
    ``only_picks`` only picked photos are candidates. With ``best_of_bursts`` only the best-ranked photo of
    each burst (bursts.py) is."""
    if photo_ids is not None:
        ranking = listed_ranking(library, profile_id, photo_ids)
        top, top_percent, min_score = len(ranking) or 1, None, None
        if not ranking:
            raise CuratorError("nothing to export: the grid shows no photos")
    else:
        ranking = album_ranking(library, profile_id)
    if not ranking:
        raise CuratorError(
            "nothing to export: rank the album first" if profile_id is not None else "no starred photos to export"
        )
    ranking = culled(library, ranking, only_picks)
    if not ranking:
        raise CuratorError("nothing to export: none of the ranked photos is picked (P)")
    if best_of_bursts:
        ranking = best_of_each_burst(library, ranking, progress, cancel)
    profile_name = next((p.name for p in library.profiles() if p.id == profile_id), None)
    return export_photos(
        ranking,
        library.album,
        dest,
        top=top,
        top_percent=top_percent,
        min_score=min_score,
        mode=mode,
        long_edge=long_edge,
        write_xmp=write_xmp,
        with_raw=with_raw,
        numbered=numbered,
        profile_name=profile_name,
        progress=progress,
        cancel=cancel,
    )


def culled(library: Library, ranking: list[RankedPhoto], only_picks: bool = False) -> list[RankedPhoto]:
    """``ranking`` without the photos the user rejected (X), and with ``only_picks`` only those picked (P);
    ranks kept, so an exported photo keeps the rank the grid shows."""
    relpaths = {p.id: p.relpath for p in library.photos()}
    flags = {relpaths[pid]: rating.flag for pid, rating in library.ratings().items() if pid in relpaths}
    return [
        r
        for r in ranking
        if flags.get(r.relpath, 0) != REJECTED and (not only_picks or flags.get(r.relpath, 0) == PICKED)
    ]


def best_of_each_burst(
    library: Library,
    ranking: list[RankedPhoto],
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[RankedPhoto]:
    """``ranking`` without the burst members that rank below their burst's best (ranks kept)."""
    from aesthetic_curator.bursts import album_bursts

    bursts = album_bursts(library, progress, cancel).bursts
    id_of = {p.relpath: p.id for p in library.photos()}
    hidden = bursts.hidden_by_best({id_of[r.relpath]: r.rank for r in ranking if r.relpath in id_of})
    return [r for r in ranking if id_of.get(r.relpath) not in hidden]
