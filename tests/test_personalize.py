"""Personalization on synthetic users whose taste is a hidden merge of the bundle's task models."""

from __future__ import annotations

import logging

import pytest
import torch

from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.metrics import srocc
from aesthetic_curator.engine.personalize import PersonalizeConfig, personalize, planned_passes, score_images
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.engine.synthetic import synthetic_photos
from aesthetic_curator.errors import Cancelled
from aesthetic_curator.progress import CancelToken

log = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def photos(merged) -> torch.Tensor:
    """400 synthetic photos unseen during the bundle's fine-tuning (other seed)."""
    return Preprocessor.for_scorer(merged.base).batch(synthetic_photos(400, 48, seed=1234))


def _synthetic_user(merged: MergedScorer, photos: torch.Tensor, seed: int) -> torch.Tensor:
    """Ratings from a hidden merged model plus noise.

    The hidden coefficients are a random task mixture (Dirichlet) with an independent deviation for
    every task and layer, so the taste is neither one task nor the uniform mix.
    """
    gen = torch.Generator().manual_seed(seed)
    weights = torch.distributions.Dirichlet(torch.ones(merged.n_tasks)).sample()
    hidden = weights[:, None] + 0.3 * torch.randn(merged.n_tasks, merged.n_layers, generator=gen)
    true = score_images(merged, photos, hidden)
    return true + 0.05 * true.std() * torch.randn(len(true), generator=gen)


@pytest.mark.slow
def test_recovers_hidden_taste_better_than_any_single_task_or_uniform_mix(merged, photos):
    margins = {10: [], 100: []}
    torch.manual_seed(0)  # the Dirichlet draw
    for user in range(3):
        ratings = _synthetic_user(merged, photos, seed=100 + user)
        for k in (10, 100):
            order = torch.randperm(len(ratings), generator=torch.Generator().manual_seed(user * 7 + k))
            train, test = order[:k], order[k:]
            result = personalize(
                merged, photos[train], ratings[train].tolist(), PersonalizeConfig.for_solver("paper", seed=user)
            )
            held_out = srocc(score_images(merged, photos[test], result.alpha), ratings[test])
            single = max(
                srocc(score_images(merged, photos[test], merged.one_hot(t)), ratings[test])
                for t in range(merged.n_tasks)
            )
            uniform = srocc(
                score_images(merged, photos[test], torch.full_like(result.alpha, 1 / merged.n_tasks)), ratings[test]
            )
            log.info("user %d K=%d: personal %.3f, best single %.3f, uniform %.3f", user, k, held_out, single, uniform)
            margins[k].append((held_out - single, held_out - uniform))
    for k, values in margins.items():
        over_single = sum(v[0] for v in values) / len(values)
        over_uniform = sum(v[1] for v in values) / len(values)
        assert over_single > 0.05, f"K={k}: only {over_single:+.3f} over the best single task"
        assert over_uniform > 0.05, f"K={k}: only {over_uniform:+.3f} over the uniform mix"


def test_same_seed_same_coefficients_and_progress_reported(merged, photos):
    ratings = [float(v) for v in range(12)]
    config = PersonalizeConfig.for_solver("paper", steps=15, seed=3)
    seen = []
    first = personalize(merged, photos[:12], ratings, config, progress=seen.append)
    second = personalize(merged, photos[:12], ratings, config)
    assert torch.equal(first.alpha, second.alpha)
    training = [p for p in seen if p.stage == "training"]
    assert [p.done for p in training] == list(range(1, 16))
    assert all(p.loss is not None for p in training)
    assert [p.done for p in seen if p.stage == "zero-shot"] == list(range(1, merged.n_tasks + 1))
    different = personalize(merged, photos[:12], ratings, PersonalizeConfig.for_solver("paper", steps=15, seed=4))
    assert not torch.equal(first.alpha, different.alpha)


def test_pass_counting(merged, photos):
    k, steps = 12, 7
    result = personalize(
        merged, photos[:k], [float(i % 4) for i in range(k)], PersonalizeConfig.for_solver("paper", steps=steps)
    )
    # zero-shot: every task scores every photo; training: K forwards + K backwards per step; final scoring: K;
    # the cross-validated agreement: a Jacobian at the init (K forwards + K backwards).
    assert result.passes.forward == merged.n_tasks * k + steps * k + k + k
    assert result.passes.backward == steps * k + k
    assert result.passes.total == planned_passes(k, merged.n_tasks, PersonalizeConfig.for_solver("paper", steps=steps))
    assert result.agreement is not None and 0 <= result.agreement.value <= 1


def test_batches_of_32_when_more_photos_are_rated(merged, photos):
    result = personalize(
        merged, photos[:50], [float(i % 5) for i in range(50)], PersonalizeConfig.for_solver("paper", steps=4)
    )
    assert result.passes.backward == 4 * 32 + 50  # the steps, and the agreement's Jacobian of all 50


def test_cancel_stops_and_leaves_coefficients_unchanged(merged, photos):
    token = CancelToken()
    before = merged.alpha.detach().clone()

    def cancel_after_three(progress):
        if progress.stage == "training" and progress.done == 3:
            token.cancel()

    with pytest.raises(Cancelled):
        personalize(
            merged,
            photos[:10],
            [float(i) for i in range(10)],
            PersonalizeConfig.for_solver("paper", steps=100),
            progress=cancel_after_three,
            cancel=token,
        )
    assert torch.equal(merged.alpha.detach(), before)
