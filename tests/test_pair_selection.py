"""Which "A or B?" question to ask next: the documented rule, alone and on an album with a tiny model."""

from __future__ import annotations

import numpy as np
import pytest

from aesthetic_curator import curation
from aesthetic_curator.comparison_questions import comparisons_to_ask, judged_pairs
from aesthetic_curator.pair_selection import (
    answered_precision,
    choose_pairs,
    expected_information,
    profile_uncertainty,
    standardized,
)


def test_a_pair_teaches_most_along_a_difference_the_answers_have_not_settled():
    # Four photos on two task axes: 0-1 differ along task 0 only, 2-3 along task 1 only, 4 equals 0.
    features = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0], [0.0, -2.0], [2.0, 0.0]])
    fresh = expected_information(features, answered_precision(features, np.array([], int), np.array([], int)))
    assert fresh[0, 1] == pytest.approx(fresh[2, 3]) and fresh[0, 4] == 0.0  # alike: nothing to learn
    assert np.allclose(fresh, fresh.T)
    # Ten answers along task 0 settle it: a pair along task 1 now teaches more than one along task 0.
    settled = answered_precision(features, np.zeros(10, int), np.ones(10, int))
    value = expected_information(features, settled)
    assert value[2, 3] > 2 * value[0, 1] and value[2, 3] == pytest.approx(fresh[2, 3])
    # A profile sure of the order (far apart in score) expects to learn little from asking.
    sure = expected_information(features, settled, np.array([0.0, 0.0, 8.0, -8.0, 0.0]))
    assert sure[2, 3] < 0.01 * value[2, 3]


def test_the_tasks_count_alike_in_standard_units():
    task_scores = np.array([[10.0, 0.1], [20.0, 0.2], [30.0, 0.3]])
    z = standardized(task_scores)
    assert np.allclose(z[:, 0], z[:, 1]) and np.allclose(z.mean(0), 0) and np.allclose(z.std(0), 1)
    assert np.allclose(standardized(task_scores[:1], task_scores), z[:1])  # in the units of a reference


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
    first = comparisons_to_ask(lib, thumbnails, model, None, count=5, seed=1)
    assert len(first) == 5 and len({p for pair in first for p in pair}) == 10
    # Before a profile: task scores of at most 16 new photos per call (cached), pairs far apart in them.
    paths = {lib.absolute_path(p): p.id for p in lib.photos()}
    assert len(model.task_scores.missing(list(paths))) == 30 - 16
    scored = [path for path in paths if path not in model.task_scores.missing(list(paths))]
    z = dict(zip((paths[path] for path in scored), standardized(model.task_scores.lookup(scored).numpy())))
    distance = [np.linalg.norm(z[a] - z[b]) for a in z for b in z if a < b]
    assert np.mean([np.linalg.norm(z[a] - z[b]) for a, b in first]) > np.median(distance)
    for a, b in first[:3]:
        lib.add_comparison(a, b, "a")
    again = comparisons_to_ask(lib, thumbnails, model, None, count=5, seed=1)
    assert not {frozenset(p) for p in first[:3]} & {frozenset(p) for p in again}  # answered: not asked again
    assert not model.task_scores.missing(list(paths))  # the pool grew from the cache
    ahead = comparisons_to_ask(lib, thumbnails, model, None, count=5, seed=1, waiting=again)
    assert ahead and not {frozenset(p) for p in again} & {frozenset(p) for p in ahead}  # still queued: not again
    # With a profile: its stored scores decide, and the surest pairs (far apart in score) are asked last.
    for photo, stars in zip(lib.photos()[:12], [1, 2, 3, 4, 5] * 3):
        lib.set_rating(photo.id, stars=stars)
    profile = curation.personalize_album(lib, model, "mine")
    curation.rank_album(lib, model, profile.profile_id)
    asked = comparisons_to_ask(lib, thumbnails, model, profile.profile_id, count=5, seed=2)
    scores = {pid: score for pid, (score, _) in lib.scores(profile.profile_id).items()}
    gaps = [abs(scores[a] - scores[b]) for a, b in asked]
    spread = np.ptp(list(scores.values()))
    assert len(asked) == 5 and np.mean(gaps) < spread / 3
    # Everything judged so far: each pair of different stars, and each decided comparison.
    stars = [1, 2, 3, 4, 5] * 2 + [1, 2]
    assert len(judged_pairs(lib)) == sum(a > b for a in stars for b in stars) + 3
    # No model at all (bundle missing): still a spread of questions, from appearance alone.
    assert len(comparisons_to_ask(lib, thumbnails, None, None, count=4)) == 4
