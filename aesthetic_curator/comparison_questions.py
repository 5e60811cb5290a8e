"""Which "A or B?" questions the compare view asks next, on an album: the rule of :mod:`pair_selection`
fed with what the library and the model session know.

Why a module of its own: the rule needs three things from three places, and each may be missing. The
task models' scores of the photos (cached by the session, a few new photos per call so the first
questions come within seconds on a CPU), the profile's stored scores (how unsure it is), and every
judgement so far (stars and comparisons: which differences between photos are already settled). When a
photo's task scores are not known yet, its judgements are left out of what counts as settled; without a
model only the profile's scores or, failing those, the spread over the album decide.
"""

from __future__ import annotations

import random
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from aesthetic_curator import pair_selection
from aesthetic_curator.curation import appearance_features
from aesthetic_curator.library.store import Library, Photo
from aesthetic_curator.library.thumbnails import ThumbnailCache
from aesthetic_curator.progress import CancelToken, ProgressCallback

if TYPE_CHECKING:
    from aesthetic_curator.engine.session import ModelSession


def judged_pairs(library: Library) -> list[tuple[Path, Path]]:
    """(better, worse) paths of everything the user has said: each pair of photos with different stars
    (a rejected photo below every starred one) and each decided comparison."""
    ratings = library.training_ratings()
    by_stars = [(a, b) for a, stars_a in ratings for b, stars_b in ratings if stars_a > stars_b]
    return by_stars + library.training_pairs()


def _pool_with_task_scores(
    model: ModelSession,
    library: Library,
    candidates: list[Photo],
    pool: int,
    new_scores: int,
    rng: random.Random,
    cancel: CancelToken | None,
) -> tuple[list[Photo], np.ndarray | None]:
    """Up to ``pool`` of ``candidates``, at most ``new_scores`` of them not yet scored by the task models
    (scored now, then cached), and their task scores [N, tasks] (None when fewer than two could be read)."""
    path_of = {p.id: library.absolute_path(p) for p in candidates}
    unscored = set(model.task_scores.missing(list(path_of.values())))
    known = [p for p in candidates if path_of[p.id] not in unscored]
    fresh = [p for p in candidates if path_of[p.id] in unscored]
    fresh = rng.sample(fresh, min(len(fresh), new_scores, pool))
    members = rng.sample(known, min(len(known), pool - len(fresh))) + fresh
    model.prefetch_task_scores([path_of[p.id] for p in fresh], cancel)
    unreadable = set(model.task_scores.missing([path_of[p.id] for p in members]))  # could not be decoded
    members = [p for p in members if path_of[p.id] not in unreadable]
    task_scores = model.task_scores.lookup([path_of[p.id] for p in members])
    if task_scores is None or len(members) < 2:
        return members, None
    return members, task_scores.double().numpy()


def _settled_precision(
    model: ModelSession,
    library: Library,
    pool_scores: np.ndarray,
    profile_scores: dict[Path, float] | None,
) -> np.ndarray:
    """What the judgements so far settle (:func:`pair_selection.answered_precision`), in the units of the
    pool's standardised task scores; judged photos the session has not scored yet are left out."""
    pairs = judged_pairs(library)
    paths = list(dict.fromkeys(path for pair in pairs for path in pair))
    scored = set(paths) - set(model.task_scores.missing(paths))
    pairs = [(a, b) for a, b in pairs if a in scored and b in scored]
    paths = [p for p in paths if p in scored]
    if not pairs:
        return np.eye(pool_scores.shape[1])
    task_scores = model.task_scores.lookup(paths)
    if task_scores is None:  # a judged photo changed on disk since it was scored
        return np.eye(pool_scores.shape[1])
    features = pair_selection.standardized(task_scores.double().numpy(), pool_scores)
    index = {path: i for i, path in enumerate(paths)}
    better = np.array([index[a] for a, _ in pairs])
    worse = np.array([index[b] for _, b in pairs])
    scores = None
    if profile_scores is not None:  # a judged photo without a score (added since the ranking): a middling one
        middle = float(np.median(list(profile_scores.values())))
        scores = np.array([profile_scores.get(path, middle) for path in paths])
    return pair_selection.answered_precision(features, better, worse, scores)


def comparisons_to_ask(
    library: Library,
    thumbnails: ThumbnailCache,
    model: ModelSession | None,
    profile_id: int | None,
    count: int = 10,
    *,
    pool: int = 48,
    new_scores: int = 16,
    seed: int = 0,
    waiting: Collection[tuple[int, int]] = (),
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[tuple[int, int]]:
    """Photo id pairs to ask "A or B?" about next, by the rule of :mod:`pair_selection`.

    ``waiting`` holds pairs already queued (or skipped) in the compare view: not chosen again, so a batch
    asked for while the last one is still being answered brings new questions.

    A seeded pool of ``pool`` album photos (ranked ones when a profile is given). With a model: each
    pair's expected information about the taste, from the task models' scores of the pool and of the
    judged photos, and the profile's stored scores when there is a profile. Without a model: the
    profile's uncertainty alone, or without a profile only the spread over the album.
    """
    photos = library.photos()
    if len(photos) < 2:
        return []
    rng = random.Random(seed)
    scores = library.scores(profile_id) if profile_id is not None else {}
    ranked = [p for p in photos if p.id in scores]  # photos that could not be read have no score
    candidates = ranked if len(ranked) >= 2 else photos
    profile_scores = None
    if len(ranked) >= 2:
        profile_scores = {library.absolute_path(p): scores[p.id][0] for p in ranked}
    if model is not None:
        members, task_scores = _pool_with_task_scores(model, library, candidates, pool, new_scores, rng, cancel)
        if task_scores is None:
            return []
        precision = _settled_precision(model, library, task_scores, profile_scores)
        pool_scores = None
        if profile_scores is not None:
            pool_scores = np.array([scores[p.id][0] for p in members])
        features = pair_selection.standardized(task_scores)
        information = pair_selection.expected_information(features, precision, pool_scores)
    else:
        members = candidates if len(candidates) <= pool else rng.sample(candidates, pool)
        if profile_scores is not None:
            information = pair_selection.profile_uncertainty(np.array([scores[p.id][0] for p in members]))
        else:
            information = np.ones((len(members), len(members)))
    appearance = appearance_features(library, thumbnails, members, progress, cancel)
    where = {p.id: i for i, p in enumerate(members)}
    answered = library.comparisons()
    known = [(c.photo_a, c.photo_b) for c in answered] + list(waiting)
    asked = [(where[a], where[b]) for a, b in known if a in where and b in where]
    chosen = pair_selection.choose_pairs(information, appearance, count, asked)
    return [(members[i].id, members[j].id) for i, j in chosen]
