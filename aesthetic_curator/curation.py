"""Album-level work the app does: personalize from the library's ratings, rank the album (export: album_export).

This joins the album library (photos, ratings, profiles, scores) to the engine's public entry
points, so the GUI (and anything else) calls one function per user action and never touches
model objects. No Qt here: progress is a callback, cancellation a token.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from aesthetic_curator import pair_selection
from aesthetic_curator.errors import CuratorError, RatingsError
from aesthetic_curator.library.store import Library, Photo
from aesthetic_curator.library.thumbnails import ThumbnailCache, ThumbnailRequest
from aesthetic_curator.paths import display_path
from aesthetic_curator.profile_progress import ProfileProgress, answers_in_words, previous_top, record_top_movement
from aesthetic_curator.progress import CancelToken, ProgressCallback, check, report

if TYPE_CHECKING:
    from aesthetic_curator.engine.profile import Profile
    from aesthetic_curator.engine.ranking import RankingResult
    from aesthetic_curator.engine.session import ModelSession
    from aesthetic_curator.engine.taste import TasteSummary
    from aesthetic_curator.library.other_albums import AnswersElsewhere

log = logging.getLogger(__name__)

#: The method is designed for 10-100 ratings; personalization needs at least this many ...
MIN_RATINGS = 10
#: ... and learns little more beyond this many.
ENOUGH_RATINGS = 100


@dataclass
class RatingReadiness:
    """What the user has told the app so far: stars and answered comparisons, and whether that is enough."""

    rated: int  # photos whose rating counts for personalization
    distinct: int  # different rating values among them
    comparisons: int = 0  # decided "A or B?" answers whose photos are both in the album, a repeated one once
    photos: int = 0  # different photos judged (rated, compared or both)
    digest: str = ""  # fingerprint of every answer (judgements_digest): a profile keeps the one it learned from

    @property
    def answers(self) -> int:
        return self.rated + self.comparisons

    @property
    def mostly_comparisons(self) -> bool:
        """Comparisons outnumber the starred photos (Judgements.mostly_comparisons: then the fit runs)."""
        return self.comparisons > self.rated

    @property
    def ready(self) -> bool:
        return self.answers >= MIN_RATINGS and (self.distinct >= 2 or self.comparisons > 0)

    def explain(self) -> str:
        if self.answers < MIN_RATINGS:
            more = MIN_RATINGS - self.answers  # a comparison is one answer about two photos, not "2 photos"
            kinds = "star rating or comparison" if more == 1 else "star ratings or comparisons"
            return f"give {more} more {kinds} to personalize ({self.answers}/{MIN_RATINGS})"
        if not self.ready:
            return (
                "all your ratings are equal: give some photos a different number of stars, reject some, "
                "or answer a comparison"
            )
        return f"{self.told()}: ready to personalize"

    def told(self) -> str:
        """What the user told, in words: "12 ratings and 5 comparisons" (not the photos those span)."""
        return answers_in_words(self.rated, self.comparisons) or "no ratings"


def rating_readiness(library: Library) -> RatingReadiness:
    return _readiness_of(library.album, library.training_ratings(), library.training_pairs())


def _readiness_of(album: Path, rated: list[tuple[Path, float]], pairs: list[tuple[Path, Path]]) -> RatingReadiness:
    """The same pair answered the same way twice (an imported pairs file can repeat one) teaches the rank
    loss one ordered pair, as Judgements counts it, so it counts once here too: the estimate's choice
    between fitting and keeping the init (mostly_comparisons) then matches the run's."""
    photos = {path for path, _ in rated} | {path for pair in pairs for path in pair}
    digest = judgements_digest(album, rated, pairs)
    distinct_pairs = len(set(pairs))
    return RatingReadiness(len(rated), len({rating for _, rating in rated}), distinct_pairs, len(photos), digest)


def judgements_digest(album: Path, rated: list[tuple[Path, float]], pairs: list[tuple[Path, Path]]) -> str:
    """A short fingerprint of the answers, by album-relative path, so a profile can tell the user whether
    it learned from everything they said (a changed star or an undone comparison changes it too)."""

    def relative(path: Path) -> str:
        return path.relative_to(album).as_posix() if path.is_relative_to(album) else path.as_posix()

    text = repr(
        (sorted((relative(p), float(r)) for p, r in rated), sorted((relative(a), relative(b)) for a, b in pairs))
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def judged_photos(library: Library, elsewhere: AnswersElsewhere | None = None) -> list[Path]:
    """Every photo personalization learns from, in the order it loads them: rated first, then compared (with
    ``elsewhere``, the other albums' answers after the album's own)."""
    rated, pairs = library.training_ratings(), library.training_pairs()
    if elsewhere is not None:
        rated, pairs = rated + elsewhere.rated, pairs + elsewhere.pairs
    known = {path for path, _ in rated}
    compared = [path for pair in pairs for path in pair if path not in known]
    return [path for path, _ in rated] + list(dict.fromkeys(compared))


@dataclass
class PersonalizedProfile:
    profile_id: int
    name: str
    k: int
    train_srocc: float
    seconds: float
    passes: int
    skipped: list[str]  # rated photos that could not be read
    comparisons: int = 0  # answered comparisons it learned from, beside the ratings
    progress: ProfileProgress | None = None  # its agreement (the top's movement comes with the ranking)
    elsewhere: dict | None = None  # what it learned from other albums too (AnswersElsewhere.summary)


def open_model(bundle_path: Path, device: str = "auto") -> ModelSession:
    """The bundle as a :class:`ModelSession`: loaded on first use, then reused by every action below."""
    from aesthetic_curator.engine.session import ModelSession

    return ModelSession(bundle_path, device)


def estimate_personalization(
    model: ModelSession,
    k: int,
    solver: str | None = None,
    rated: list[Path] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    mostly_comparisons: bool = False,
) -> PersonalizationEstimate:
    """How long learning from ``k`` judged photos will take, and where (the CPU or a GPU);
    ``mostly_comparisons``: whether comparisons outnumber the starred photos (with mostly stars under 50
    photos the fast solver skips its fit)."""
    from aesthetic_curator.engine.solvers.base import PersonalizeConfig

    model.prepare(progress, cancel)
    config = PersonalizeConfig(solver=solver) if solver else PersonalizeConfig()
    return PersonalizationEstimate(model.device.type, model.estimate_seconds(k, config, rated, mostly_comparisons), k)


@dataclass(frozen=True)
class PersonalizationEstimate:
    device_type: str  # "cpu" or "cuda"
    seconds: float
    photos: int = 0  # the judged photos it learns from (other albums' included)


def personalize_album(
    library: Library,
    model: ModelSession,
    name: str,
    *,
    solver: str | None = None,
    seed: int = 0,
    elsewhere: AnswersElsewhere | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> PersonalizedProfile:
    """Learn a profile from the album's ratings and answered comparisons (and, with ``elsewhere``, those given
    in the user's other albums); store it under ``name``."""
    from aesthetic_curator.engine.solvers.base import PersonalizeConfig

    rated, pairs = library.training_ratings(), library.training_pairs()  # answers given from now on wait
    readiness = _readiness_of(library.album, rated, pairs)  # of this album: its digest is for the next Personalize
    if not readiness.ready:
        raise RatingsError(readiness.explain())
    if elsewhere is not None:
        rated, pairs = rated + elsewhere.rated, pairs + elsewhere.pairs
    model.prepare(progress, cancel)  # first use: fetch with byte progress; else a no-op
    config = PersonalizeConfig(solver=solver, seed=seed) if solver else PersonalizeConfig(seed=seed)
    result = model.personalize(rated, config, progress, cancel, pairs=pairs)
    check(cancel)
    profile = model.profile_from(result, name)
    metadata = {**profile.metadata(), **previous_top(library)}
    metadata["answers"] = {"count": readiness.answers, "digest": readiness.digest}
    if result.agreement is not None:
        metadata["agreement"] = result.agreement.as_dict()
    if elsewhere is not None and (elsewhere.albums or elsewhere.unreachable):
        metadata["elsewhere"] = elsewhere.summary()
    profile_id = library.save_profile(name, profile.to_bytes(), profile.bundle_id, metadata)
    return PersonalizedProfile(
        profile_id,
        name,
        result.k,
        result.train_srocc,
        result.seconds,
        result.passes.total,
        [f"{item.path}: {item.reason}" for item in result.skipped],
        result.comparisons,
        ProfileProgress.from_metadata(metadata),
        metadata.get("elsewhere"),
    )


@dataclass
class AlbumRanking:
    profile_id: int
    ranked: int
    skipped: list[str]
    seconds: float
    photos_per_second: float
    progress: ProfileProgress | None = None  # the profile's agreement and how far the album's top moved
    placed: list[tuple[str, int]] = field(default_factory=list)  # photos fitted into the ranking: (relpath, rank)
    out_of: int = 0  # how many photos that ranking holds

    @property
    def placement(self) -> str:
        """Where the photos fitted in landed, for a status line: "IMG_2.JPG ranks #3 of 151" (the best, when
        several), so a photographer shooting tethered sees how the last frame compares without looking."""
        if not self.placed:
            return ""
        relpath, rank = min(self.placed, key=lambda item: item[1])
        where = f"{display_path(relpath)} ranks #{rank} of {self.out_of}"
        return where if len(self.placed) == 1 else f"{len(self.placed)} new photos ranked; the best, {where}"


def rank_album(
    library: Library,
    model: ModelSession,
    profile_id: int,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> AlbumRanking:
    """Score every photo of the album with a stored profile and keep the scores in the library."""
    profile = stored_profile(library, profile_id)
    rows, result = score_album(library, model, profile, progress, cancel)
    library.store_scores(profile_id, rows)
    return ranking_report(profile_id, result, record_top_movement(library, profile_id))


def rank_new_photos(
    library: Library,
    model: ModelSession,
    profile_id: int,
    photo_ids: Iterable[int],
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> AlbumRanking | None:
    """Score the photos of ``photo_ids`` the profile has no score for (new or changed since it ranked the album,
    or fitted into another profile's meanwhile) and fit them into its stored ranking; the others keep theirs.

    Photos copied into an open album so take their place among the ranked ones in seconds, where ranking the
    whole album again takes minutes on a CPU; the stored rows are those a full ranking would store (its scores,
    up to the CPU's int8 inference, whose activation scales follow each batch; ranks 1..n best first). None,
    with nothing stored, when the profile has not ranked this album (there is no ranking to fit into) or every
    photo named has its score.
    """
    scores = library.scores(profile_id)
    if not scores:
        return None
    fitted = fit_into_scores(library, model, stored_profile(library, profile_id), scores, photo_ids, progress, cancel)
    if fitted is None:
        return None
    rows, result, new = fitted
    library.store_scores(profile_id, rows)
    report = ranking_report(profile_id, result)
    report.placed = [(new[pid], rank) for pid, _, rank in rows if pid in new]
    report.out_of = len(rows)
    return report


def fit_into_scores(
    library: Library,
    model: ModelSession,
    profile: Profile,
    scores: dict[int, tuple[float, int]],
    photo_ids: Iterable[int],
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> tuple[list[tuple[int, float, int]], RankingResult, dict[int, str]] | None:
    """The rows (photo id, score, rank) of ``scores`` with the photos of ``photo_ids`` it lacks scored by
    ``profile`` and fitted in (ranks 1..n best first, ties by path as ``rank_paths`` breaks them, the album root
    being common), that scoring's result and the photos it scored (id -> relative path); None when ``scores``
    has every photo named."""
    wanted = set(photo_ids)
    photos = library.photos()
    new = [p for p in photos if p.id in wanted and p.id not in scores]
    if not new:
        return None
    model.prepare(progress, cancel)
    by_path = {library.absolute_path(p): p.id for p in new}
    result = model.rank(profile, list(by_path), progress=progress, cancel=cancel)
    check(cancel)
    merged = {p.id: scores[p.id][0] for p in photos if p.id in scores}
    merged.update((by_path[item.path], item.score) for item in result.ranked)
    relpath = {p.id: p.relpath for p in photos}
    ordered = sorted(merged, key=lambda pid: (-merged[pid], relpath[pid]))
    rows = [(pid, merged[pid], rank) for rank, pid in enumerate(ordered, start=1)]
    return rows, result, {by_path[item.path]: relpath[by_path[item.path]] for item in result.ranked}


def stored_profile(library: Library, profile_id: int) -> Profile:
    """A profile of the library, read back from its stored file (refused if damaged)."""
    from aesthetic_curator.engine.profile import Profile

    return Profile.from_bytes(library.profile_data(profile_id), f"profile {profile_id}")


def score_album(
    library: Library,
    model: ModelSession,
    profile: Profile,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> tuple[list[tuple[int, float, int]], RankingResult]:
    """Every album photo scored by ``profile``: (photo id, score, rank) rows to store, and the engine's result.

    Nothing is stored here, so a caller can keep a cancelled or failed run from touching the library.
    """
    model.prepare(progress, cancel)
    photos = library.photos()
    if not photos:
        raise CuratorError("the album has no photos to rank")
    by_path = {library.absolute_path(p): p.id for p in photos}
    result = model.rank(profile, list(by_path), progress=progress, cancel=cancel)
    check(cancel)
    return [(by_path[item.path], item.score, item.rank) for item in result.ranked], result


def ranking_report(profile_id: int, result: RankingResult, progress: ProfileProgress | None = None) -> AlbumRanking:
    return AlbumRanking(
        profile_id,
        len(result.ranked),
        [f"{item.path}: {item.reason}" for item in result.skipped],
        result.seconds,
        result.images_per_second,
        progress,
    )


def profile_taste(library: Library, model: ModelSession, profile_id: int) -> TasteSummary:
    """The stored profile's taste panel numbers (engine.taste): task weights by layer group, one summary line."""
    from aesthetic_curator.engine.taste import summarize_taste

    profile = stored_profile(library, profile_id)
    profile.check_bundle(model.bundle)
    return summarize_taste(profile.alpha, profile.task_names, model.bundle.manifest.layers)


#: Judged photos from which the background also warms up Personalize's passes (half the 10 it needs).
WARM_UP_FROM = 5


def score_rated_photos_ahead(
    library: Library,
    model: ModelSession,
    cancel: CancelToken | None = None,
    solver: str | None = None,
    elsewhere: AnswersElsewhere | None = None,
) -> int:
    """Each task's scores of the album's judged photos (and ``elsewhere``'s), computed now so Personalize need
    not (:mod:`engine.zero_shot_cache`), and from :data:`WARM_UP_FROM` on a warm-up of its passes, once
    (:meth:`ModelSession.warm_up`); returns how many photos were scored."""
    photos = judged_photos(library, elsewhere)
    scored = model.prefetch_task_scores(photos, cancel)
    if len(photos) >= WARM_UP_FROM:
        check(cancel)
        model.warm_up(len(photos), solver)
    return scored


def _appearance(path: Path) -> np.ndarray | None:
    """A tiny colour layout of a thumbnail (4x4 RGB, 48 numbers) that tells scenes apart."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB").resize((4, 4), Image.Resampling.BOX), dtype=np.float32).ravel()
    except OSError:
        return None


def suggest_photos_to_rate(
    library: Library,
    thumbnails: ThumbnailCache,
    count: int = 20,
    *,
    pool: int = 2000,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[int]:
    """Ids of ``count`` unrated photos that differ from each other and from the rated ones.

    Personalization learns most from ratings that span the album, so this is farthest-point
    sampling on each photo's colour layout (read from its cached thumbnail), starting from the
    photos already rated. Photos without a cached thumbnail are placed by their position in the
    album (folder and name order), which still spreads picks across shoots.
    """
    photos = library.photos()
    ratings = library.ratings()
    unrated = [p for p in photos if p.id not in ratings]
    if not unrated:
        return []
    rng = random.Random(seed)
    candidates = unrated if len(unrated) <= pool else rng.sample(unrated, pool)
    matrix = appearance_features(library, thumbnails, candidates, progress, cancel)
    rated = [p for p in photos if p.id in ratings]
    anchors = appearance_features(library, thumbnails, rng.sample(rated, min(len(rated), 200))) if rated else None
    chosen = pair_selection.spread_out(matrix, count, first=rng.randrange(len(candidates)), anchors=anchors)
    return [candidates[i].id for i in chosen]


def appearance_features(
    library: Library,
    thumbnails: ThumbnailCache,
    photos: list[Photo],
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """[N, 49] per photo: its thumbnail's 4x4 colour layout and its place in the album (folder and name order).

    Photos without a cached thumbnail get a neutral layout, so their album position still spreads them.
    """
    album = library.photos()
    position = {p.id: i / max(1, len(album) - 1) for i, p in enumerate(album)}
    rows = []
    for index, photo in enumerate(photos, start=1):
        check(cancel)
        request = ThumbnailRequest(library.absolute_path(photo), photo.content_hash, photo.size, photo.mtime_ns)
        cached = thumbnails.lookup(request)
        colours = _appearance(cached.path) if cached is not None and cached.ok else None
        layout = colours / 255.0 if colours is not None else np.full(48, 0.5, dtype=np.float32)
        rows.append(np.concatenate([layout, [position.get(photo.id, 0.5) * 4.0]]))  # position weighs like a few colours
        report(progress, "choosing photos", index, len(photos))
    return np.stack(rows) if rows else np.zeros((0, 49), dtype=np.float32)
