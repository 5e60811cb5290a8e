"""Learning from stars and "A or B?" comparisons together: the judgements, both solvers, the init."""

from __future__ import annotations

import math

import pytest
import torch

from aesthetic_curator.engine.judgements import Judgements, pair_tau
from aesthetic_curator.engine.metrics import srocc
from aesthetic_curator.engine.personalize import PersonalizeConfig, personalize, score_images
from aesthetic_curator.engine.solvers.linear_problem import ordered_pairs
from aesthetic_curator.engine.solvers.paper import PaperOptions, _schedule
from aesthetic_curator.errors import RatingsError
from aesthetic_curator.evaluation.synthetic_users import make_synthetic_users


def test_stars_and_choices_make_one_set_of_ordered_pairs():
    # photo 0: 3 stars, 1: 1 star, 2: 1 star, 3: only compared
    judgements = Judgements.build([3, 1, 1, None], [(3, 0), (1, 2), (1, 2), (2, 3)])
    expected = {(0, 1), (0, 2), (3, 0), (1, 2), (2, 3)}  # star pairs, choices; the repeated choice once
    assert set(zip(*(t.tolist() for t in judgements.pairs()))) == expected
    assert set(zip(*(t.tolist() for t in ordered_pairs(judgements, seed=0)))) == expected
    assert judgements.has_comparisons and judgements.n_photos == 4
    assert judgements.n_answers == 3 + 3  # three starred photos, three distinct decided comparisons
    assert Judgements.from_ratings([1, 2, 2]).n_answers == 3
    # The top tuning's step size: 5 ordered pairs, as (1 + sqrt(41)) / 2 ranked photos would order, but never
    # fewer than the starred photos (stars alone give their count, whatever their ties).
    assert judgements.ranking_equivalent == pytest.approx((1 + math.sqrt(41)) / 2)
    assert Judgements.from_ratings([1, 2, 2, 2, 2]).ranking_equivalent == 5
    assert Judgements.build([None] * 4, [(0, 1)]).ranking_equivalent == 2
    assert torch.isnan(judgements.ratings[3]) and judgements.ratings[:3].tolist() == [1.0, 0.0, 0.0]
    # A batch of the paper recipe sees every judged pair inside it, re-indexed.
    sub = judgements.matrix(torch.tensor([3, 0, 2]))
    assert sub.nonzero().tolist() == [[0, 1], [1, 2], [2, 0]]  # 3>0, 0>2, 2>3
    # Stars alone give exactly the old star pairs.
    stars = torch.tensor([2, 5, 2])
    assert torch.equal(Judgements.from_ratings(stars.tolist()).matrix(), stars[:, None] > stars[None, :])


@pytest.mark.parametrize(
    ("ratings", "pairs", "message"),
    [
        ([1, 1, 1], [], "all ratings are equal"),
        ([None, None], [(0, 0)], "with itself"),
        ([None, None], [(0, 5)], "photo 5 of only 2"),
        ([4], [], "at least 2"),
        ([1, float("inf")], [], "finite"),
    ],
)
def test_judgements_that_teach_nothing_are_refused_with_a_reason(ratings, pairs, message):
    with pytest.raises(RatingsError, match=message):
        Judgements.build(ratings, pairs)


def test_agreement_is_srocc_for_stars_and_its_pair_equivalent_for_choices():
    scores = torch.tensor([0.1, 0.5, 0.3, 0.9])
    stars = Judgements.from_ratings([1, 3, 2, 4])
    assert stars.agreement(scores) == pytest.approx(srocc(scores.numpy(), [1, 3, 2, 4]))
    right = Judgements.build([None] * 4, [(1, 0), (3, 2), (3, 0)])
    assert right.agreement(scores) == pytest.approx(1.0) and right.fraction_right(scores) == 1.0
    wrong = Judgements.build([None] * 4, [(0, 1), (2, 3)])
    assert wrong.agreement(scores) == pytest.approx(-1.0) and wrong.fraction_right(scores) == 0.0
    half = Judgements.build([None] * 4, [(1, 0), (2, 3)])
    assert half.agreement(scores) == pytest.approx(0.0) and half.fraction_right(scores) == 0.5
    # tau 0.5 -> (6/pi) asin(sin(pi/4)/2): the Spearman value of normal scores with that Kendall tau
    assert pair_tau(scores, torch.tensor([1, 3, 0, 3]), torch.tensor([0, 2, 1, 0])) == 0.5
    mixed = Judgements.build([None] * 4, [(1, 0), (3, 2), (3, 0), (0, 1)])
    assert mixed.agreement(scores) == pytest.approx(6 / math.pi * math.asin(math.sin(math.pi / 4) / 2))


def _answered_pairs(taste: torch.Tensor, n: int, seed: int) -> list[tuple[int, int]]:
    """``n`` random pairs of distinct photos, answered by the hidden taste (higher wins)."""
    generator = torch.Generator().manual_seed(seed)
    pairs = []
    while len(pairs) < n:
        a, b = torch.randint(taste.numel(), (2,), generator=generator).tolist()
        if a != b:
            pairs.append((a, b) if taste[a] > taste[b] else (b, a))
    return pairs


@pytest.mark.parametrize("solver", ["fast", "paper"])
def test_comparisons_alone_teach_both_solvers_the_users_taste(merged, solver):
    """No stars at all: 60 answered pairs over 40 photos; the fitted profile ranks held-out photos
    better than the zero-shot init chosen from the same pairs, averaged over the realizable users."""
    users = [u for u in make_synthetic_users(merged, 6, photos_per_user=120, seed=5) if u.kind == "merged"]
    settings = {"steps": 60} if solver == "paper" else {}
    gains = []
    for index, user in enumerate(users):
        order = torch.randperm(user.taste.numel(), generator=torch.Generator().manual_seed(index))
        support, test = order[:40], order[40:]
        pairs = _answered_pairs(user.taste[support], 60, seed=index)
        judgements = Judgements.build([None] * 40, pairs)
        result = personalize(merged, user.images[support], judgements, PersonalizeConfig.for_solver(solver, **settings))
        assert result.comparisons == len(set(pairs))  # a pair asked twice counts once
        assert result.train_srocc > 0.3  # agrees with the answers it learned from
        target = user.taste[test].numpy()
        fitted = srocc(score_images(merged, user.images[test], result.alpha).numpy(), target)
        init = srocc(score_images(merged, user.images[test], result.init_alpha).numpy(), target)
        gains.append(fitted - init)
    assert sum(gains) / len(gains) > 0.02, gains


def test_choices_override_a_star_tie_and_shift_the_profile(merged):
    """Two photos with equal stars teach nothing until the user picks one: then the pick is learned."""
    users = [u for u in make_synthetic_users(merged, 6, photos_per_user=40, seed=9) if u.kind == "merged"]
    user = users[0]
    images = user.images[:20]
    stars = [1.0] * 10 + [2.0] * 10  # a coarse split only
    alone = personalize(merged, images, stars, PersonalizeConfig())
    pairs = _answered_pairs(user.taste[:20], 40, seed=1)
    both = personalize(merged, images, Judgements.build(stars, pairs), PersonalizeConfig())
    assert both.comparisons > 0 and not torch.equal(both.alpha, alone.alpha)
    within = Judgements.build([None] * 20, pairs)
    scores_alone = score_images(merged, images, alone.alpha)
    scores_both = score_images(merged, images, both.alpha)
    assert within.fraction_right(scores_both) >= within.fraction_right(scores_alone)


def test_paper_schedule_marks_choices_in_each_batch():
    judgements = Judgements.build([None] * 40, [(5, 7), (7, 30)])
    steps = _schedule(judgements, PaperOptions(steps=20, batch_size=8), seed=0, device=torch.device("cpu"))
    for step in steps:
        photos = step.photos.tolist()
        expected = {(photos.index(a), photos.index(b)) for a, b in [(5, 7), (7, 30)] if a in photos and b in photos}
        assert set(map(tuple, step.pairs.nonzero().tolist())) == expected
        assert step.learns == bool(expected)
