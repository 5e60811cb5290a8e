"""Which "A or B?" question to ask next: the documented rule, alone and on an album with a tiny model."""

from __future__ import annotations

import numpy as np
import pytest

from aesthetic_curator import curation
from aesthetic_curator.pair_selection import choose_pairs, profile_uncertainty, task_disagreement


def test_tasks_that_point_opposite_ways_make_the_most_informative_pair():
    # Photos 0 and 1: task 0 strongly prefers 0, task 1 strongly prefers 1. Photos 2 and 3: both agree.
    task_scores = np.array([[3.0, -3.0], [-3.0, 3.0], [1.0, 1.0], [-1.0, -1.0]])
    value = task_disagreement(task_scores)
    assert value[0, 1] == value.max() and value[0, 1] > 0
    assert value[2, 3] == 0.0  # tasks agree: the answer is known already
    assert np.allclose(value, value.T)


def test_a_profile_is_least_sure_about_photos_it_scores_alike():
    value = profile_uncertainty(np.array([0.0, 0.05, 3.0]))
    assert value[0, 1] == pytest.approx(0.25, abs=1e-3) and value[0, 2] < 0.05


def test_pairs_are_spread_never_near_duplicates_never_repeated():
    rng = np.random.default_rng(0)
    burst = np.zeros((5, 3)) + rng.normal(0, 0.01, (5, 3))  # five near-identical frames
    others = rng.uniform(1, 5, (15, 3))
    appearance = np.vstack([burst, others])
    information = np.full((20, 20), 0.1)
    information[:5, :] = information[:, :5] = 0.2  # the burst looks most informative ...
    chosen = choose_pairs(information, appearance, count=8, asked=[(5, 6)])
    photos = [p for pair in chosen for p in pair]
    assert len(chosen) == 8 and len(set(photos)) == 16  # one question per photo in a batch
    assert not any(i < 5 and j < 5 for i, j in chosen)  # ... but two frames of it are never asked together
    assert sum(p < 5 for p in photos) <= 2  # nor does it fill the batch
    assert (5, 6) not in chosen and (6, 5) not in chosen
    assert choose_pairs(information, appearance, count=50) and len(choose_pairs(information, appearance, 50)) <= 10


def test_album_questions_before_and_after_a_profile(scenes_library, test_bundle):
    lib, thumbnails = scenes_library
    model = curation.open_model(test_bundle.path, "cpu")
    first = curation.comparisons_to_ask(lib, thumbnails, model, None, count=5, seed=1)
    assert len(first) == 5 and len({p for pair in first for p in pair}) == 10
    # Before a profile: task scores of at most 16 new photos per call (cached), pairs where the tasks disagree.
    paths = {lib.absolute_path(p): p.id for p in lib.photos()}
    assert len(model.task_scores.missing(list(paths))) == 30 - 16
    for a, b in first[:3]:
        lib.add_comparison(a, b, "a")
    again = curation.comparisons_to_ask(lib, thumbnails, model, None, count=5, seed=1)
    assert not {frozenset(p) for p in first[:3]} & {frozenset(p) for p in again}  # answered: not asked again
    assert not model.task_scores.missing(list(paths))  # the pool grew from the cache
    # With a profile: its stored scores decide, and the surest pairs (far apart in score) are asked last.
    for photo, stars in zip(lib.photos()[:12], [1, 2, 3, 4, 5] * 3):
        lib.set_rating(photo.id, stars=stars)
    profile = curation.personalize_album(lib, model, "mine")
    curation.rank_album(lib, model, profile.profile_id)
    asked = curation.comparisons_to_ask(lib, thumbnails, model, profile.profile_id, count=5, seed=2)
    scores = {pid: score for pid, (score, _) in lib.scores(profile.profile_id).items()}
    gaps = [abs(scores[a] - scores[b]) for a, b in asked]
    spread = np.ptp(list(scores.values()))
    assert len(asked) == 5 and np.mean(gaps) < spread / 3
    # No model at all (bundle missing): still a spread of questions, from appearance alone.
    assert len(curation.comparisons_to_ask(lib, thumbnails, None, None, count=4)) == 4
