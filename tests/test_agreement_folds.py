"""The agreement estimate's folds: each is centred on the adaptive init of its own training photos."""

from __future__ import annotations

import torch

from aesthetic_curator.engine.agreement import cross_validated_agreement
from aesthetic_curator.engine.judgements import Judgements
from aesthetic_curator.engine.personalize import _fold_init, adaptive_init
from aesthetic_curator.engine.solvers.linear_problem import LinearProblem, ordered_pairs


def _case(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    k, tasks, layers = 24, 3, 4
    ratings = torch.randint(1, 6, (k,), generator=generator).float()
    judgements = Judgements.from_ratings(ratings.tolist())
    task_scores = torch.randn(k, tasks, generator=generator)
    task_scores[:, 0] += 0.3 * ratings  # task 0 knows something of the user's taste
    values = [judgements.agreement(task_scores[:, t]) for t in range(tasks)]
    init = adaptive_init(values, layers, 0.1)
    return judgements, task_scores, init, layers


def test_a_fold_init_is_the_adaptive_init_of_those_photos_only():
    judgements, task_scores, init, layers = _case()
    fold_init = _fold_init(judgements, task_scores, init, layers, 0.1)
    everyone = torch.arange(judgements.n_photos)
    assert torch.allclose(fold_init(everyone), init)
    some = torch.arange(8)
    values = [judgements.restricted(some).agreement(task_scores[some, t]) for t in range(task_scores.shape[1])]
    assert torch.allclose(fold_init(some), adaptive_init(values, layers, 0.1))
    tied = (judgements.ratings == judgements.ratings[0]).nonzero(as_tuple=True)[0][:3]
    assert len(tied) > 1 and torch.equal(fold_init(tied), init)  # no order among them: the global init
    assert _fold_init(judgements, None, init, layers, 0.1) is None


def test_folds_centred_on_the_global_init_give_the_old_estimate_and_their_own_init_another():
    judgements, task_scores, init, layers = _case(1)
    generator = torch.Generator().manual_seed(2)
    k = judgements.n_photos
    hi, lo = ordered_pairs(judgements, 0)
    problem = LinearProblem(task_scores[:, 1], torch.randn(k, init.numel(), generator=generator), hi, lo)
    plain = cross_validated_agreement(problem, k, 5, 0, 100.0)
    same = cross_validated_agreement(problem, k, 5, 0, 100.0, lambda photos: init, init)
    assert same == plain
    fold_init = _fold_init(judgements, task_scores, init, layers, 0.1)
    own = cross_validated_agreement(problem, k, 5, 0, 100.0, fold_init, init)
    assert own is not None and own.pairs == plain.pairs and own.value != plain.value
