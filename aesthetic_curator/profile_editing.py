"""Album-level profile editing: shape a profile task by task (with undo), blend two, import and export
their files, find the "hidden gems" a profile sees that the plain average misses, and say why photos score as
they do.

The arithmetic is :mod:`engine.profile_shaping`'s; this module joins it to the library so each user action
is one call, and keeps the library consistent: a shaped profile is stored with its new scores in one
transaction (a cancelled re-rank leaves the profile as it was), and the version it replaced is kept for undo.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aesthetic_curator.atomic import atomic_write_bytes
from aesthetic_curator.curation import (
    AlbumRanking,
    fit_into_scores,
    judged_photos,
    ranking_report,
    score_album,
    stored_profile,
)
from aesthetic_curator.errors import CuratorError, ProfileError
from aesthetic_curator.library.other_albums import ProfileElsewhere, carried_metadata, profile_file_bytes
from aesthetic_curator.library.store import Library
from aesthetic_curator.profile_progress import TOP, ProfileProgress, learned_from_metadata
from aesthetic_curator.progress import CancelToken, ProgressCallback

if TYPE_CHECKING:
    from aesthetic_curator.engine.explain import Explanations
    from aesthetic_curator.engine.profile import Profile
    from aesthetic_curator.engine.session import ModelSession

#: Hidden gems: photos in the profile's top share ...
GEM_TOP_SHARE = 0.20
#: ... that the plain average (all tasks equal) puts in its bottom share.
GEM_BOTTOM_SHARE = 0.50
#: What an exported profile file is called (the CLI reads any name).
PROFILE_SUFFIX = ".profile"


def reshape_profile(
    library: Library,
    model: ModelSession,
    profile_id: int,
    scales: dict[str, float],
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> AlbumRanking:
    """Scale each named task's coefficients, re-rank the album, and store the result as the profile's new
    version (the previous one stays for :func:`undo_profile_change`)."""
    from aesthetic_curator.engine.profile_shaping import scale_tasks

    profile = stored_profile(library, profile_id)
    shaped = scale_tasks(profile, scales)  # score_album refuses a profile of another bundle before any pass
    rows, result = score_album(library, model, shaped, progress, cancel)
    before = library.top_photos(profile_id, TOP)
    after = {pid for pid, _, rank in rows if rank <= TOP}
    moved = sum(1 for pid in before if pid not in after) / len(before) if before else None
    metadata = {**shaped.metadata(), "previous_profile": f"{profile.name} before this change"}
    if moved is not None:
        metadata["top_moved"] = round(moved, 4)
    library.replace_profile(profile_id, shaped.to_bytes(), metadata, rows)
    return ranking_report(profile_id, result, ProfileProgress.from_metadata(metadata))


def undo_profile_change(library: Library, profile_id: int) -> bool:
    """Back to the version before the latest change, with its scores (no model work); False when none."""
    return library.undo_profile_change(profile_id)


def blend_profiles(library: Library, model: ModelSession, a_id: int, b_id: int, weight: float, name: str) -> int:
    """Store ``weight``·A + (1 − ``weight``)·B as a new profile ``name`` (unscored until ranked); its id."""
    from aesthetic_curator.engine.profile_shaping import blend_profiles as blend

    a, b = stored_profile(library, a_id), stored_profile(library, b_id)
    for profile in (a, b):
        profile.check_bundle(model.bundle)
    blended = blend(a, b, weight, name)
    return library.save_profile(name, blended.to_bytes(), blended.bundle_id, blended.metadata())


def export_profile(library: Library, profile_id: int, path: str | os.PathLike[str]) -> Path:
    """Write the stored profile's own small file (what ``aesthetic-curator rank --profile`` reads)."""
    from aesthetic_curator.engine.profile import Profile

    data = library.profile_data(profile_id)
    Profile.from_bytes(data, f"profile {profile_id}")  # a damaged stored profile is refused, not exported
    return atomic_write_bytes(path, data)


def import_profile(library: Library, model: ModelSession, path: str | os.PathLike[str]) -> int:
    """Store a profile file under its own name (made unique); refused when made for another bundle."""
    from aesthetic_curator.engine.profile import Profile

    profile = Profile.load(path)
    return _store_copy(library, model, profile, Path(path).name, profile.metadata(), "imported")


def adopt_profile(library: Library, model: ModelSession, found: ProfileElsewhere) -> int:
    """Store a copy of a profile taught in another album (under its own name, made unique), so this album can
    be ranked by the same taste without rating it again; refused when made for another bundle."""
    from aesthetic_curator.engine.profile import Profile

    what = f"the profile “{found.name}” of {found.album_name}"
    profile = Profile.from_bytes(profile_file_bytes(found), what)
    return _store_copy(library, model, profile, what, carried_metadata(found), f"from {found.album_name}")


def describe_elsewhere(found: ProfileElsewhere) -> str:
    """What a profile of another album learned from and how well it knew the user there ("" if not recorded)."""
    learned, progress = learned_from_metadata(found.metadata), ProfileProgress.from_metadata(found.metadata)
    parts = [f"learned from {learned}"] if learned else []
    if progress.agreement is not None:
        parts.append(f"predicted {100 * progress.agreement:.0f} % of your choices there")
    return "; ".join(parts)


def _store_copy(library: Library, model: ModelSession, profile: Profile, what: str, metadata: dict, suffix: str) -> int:
    """Store ``profile`` under its name made unique with ``suffix`` ("mine (imported)"); ``what`` names it in
    the message that refuses a profile of another bundle."""
    bundle = model.bundle
    if profile.bundle_id != bundle.bundle_id:
        raise ProfileError(
            f"{what} was made for another model bundle ({profile.bundle_id[:12]}…) than the one in use "
            f"({bundle.bundle_id[:12]}…); choose that bundle in Model… to use it, or personalize again"
        )
    profile.check_bundle(bundle)
    taken = {p.name for p in library.profiles()}
    profile.name = next(n for n in _candidate_names(profile.name, suffix) if n not in taken)
    return library.save_profile(profile.name, profile.to_bytes(), profile.bundle_id, {**metadata, "name": profile.name})


def _candidate_names(name: str, suffix: str):
    yield name
    yield f"{name} ({suffix})"
    n = 2
    while True:
        yield f"{name} ({suffix} {n})"
        n += 1


# -- hidden gems ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlainAverageScores:
    bundle_id: str
    scores: dict[int, tuple[float, int]]  # photo id -> (score, rank) under the all-tasks-equal profile
    computed: int  # photos scored just now (0 when the stored scores already covered the album)


def plain_average_scores(
    library: Library,
    model: ModelSession,
    profile_id: int,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> PlainAverageScores:
    """The album's scores under the bundle's plain average, computed once per bundle and album and kept
    (one forward pass per photo); the photos the profile has scored that they lack (new in the album) are
    scored and fitted in (``curation.fit_into_scores``), not the whole album again."""
    from aesthetic_curator.engine.profile_shaping import plain_average

    bundle = model.bundle
    stored = library.reference_scores(bundle.bundle_id)
    lacking = set(library.scores(profile_id)) - set(stored)
    if stored and not lacking:
        return PlainAverageScores(bundle.bundle_id, stored, 0)
    average = plain_average(bundle)
    fitted = fit_into_scores(library, model, average, stored, lacking, progress, cancel) if stored else None
    if fitted is not None:
        rows, computed = fitted[0], len(fitted[2])
    else:
        rows = score_album(library, model, average, progress, cancel)[0]
        computed = len(rows)
    library.store_reference_scores(bundle.bundle_id, rows)
    return PlainAverageScores(bundle.bundle_id, {pid: (score, rank) for pid, score, rank in rows}, computed)


def hidden_gems(scores: dict[int, tuple[float, int]], reference: dict[int, tuple[float, int]]) -> set[int]:
    """Photos the profile ranks in its top 20 % that the plain average ranks in its bottom half."""
    common = set(scores) & set(reference)
    if not common:
        return set()
    top = math.ceil(GEM_TOP_SHARE * len(scores))
    bottom = math.floor((1.0 - GEM_BOTTOM_SHARE) * len(reference))
    return {pid for pid in common if scores[pid][1] <= top and reference[pid][1] > bottom}


def explain_photos(
    library: Library,
    model: ModelSession,
    profile_id: int,
    photo_ids: list[int],
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Explanations:
    """Why the photos score as they do under the profile: each task's part, against the photos the user judged
    (engine.explain; a forward and a backward per photo)."""
    judged = judged_photos(library)
    if not judged:
        raise CuratorError("no rated or compared photos to measure against: rate some photos first")
    photos = {photo.id: photo for photo in library.photos()}
    paths = [library.absolute_path(photos[pid]) for pid in photo_ids if pid in photos]
    return model.explain(stored_profile(library, profile_id), paths, judged, progress, cancel)
