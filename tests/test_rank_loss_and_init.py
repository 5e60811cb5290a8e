"""Bradley–Terry loss and adaptive init checked against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from aesthetic_curator.engine.personalize import adaptive_init, validate_ratings
from aesthetic_curator.engine.rank_loss import bradley_terry_loss, masked_pair_loss, preference_pairs
from aesthetic_curator.errors import RatingsError


def test_single_pair_loss():
    loss, pairs = bradley_terry_loss(torch.tensor([1.0, 0.0]), torch.tensor([2.0, 1.0]))
    assert pairs == 1
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-1.0)))


def test_loss_over_all_ordered_pairs_ignores_ties():
    scores = torch.tensor([0.5, 0.0, 2.0])
    ratings = torch.tensor([3.0, 3.0, 1.0])  # 0 ~ 1 tied; both beat 2
    loss, pairs = bradley_terry_loss(scores, ratings)
    expected = (math.log(1 + math.exp(-(0.5 - 2.0))) + math.log(1 + math.exp(-(0.0 - 2.0)))) / 2
    assert pairs == 2
    assert loss.item() == pytest.approx(expected)


def test_all_ties_give_no_pairs_and_zero_gradient():
    scores = torch.tensor([0.3, 0.7], requires_grad=True)
    loss, pairs = bradley_terry_loss(scores, torch.tensor([4.0, 4.0]))
    assert pairs == 0
    loss.backward()
    assert torch.equal(scores.grad, torch.zeros(2))


def test_masked_loss_equals_the_pair_loss_with_ties_left_out():
    """The paper solver's sync-free loss (dense over all pairs, masked) is the same Bradley–Terry loss."""
    generator = torch.Generator().manual_seed(0)
    scores = torch.randn(12, generator=generator, requires_grad=True)
    ratings = torch.tensor([1.0, 2, 2, 3, 5, 4, 4, 1, 3, 3, 2, 5])
    reference, _ = bradley_terry_loss(scores, ratings)
    masked = masked_pair_loss(scores, preference_pairs(ratings))
    assert torch.allclose(masked, reference)
    (g_ref,) = torch.autograd.grad(reference, scores)
    (g_masked,) = torch.autograd.grad(masked_pair_loss(scores, preference_pairs(ratings)), scores)
    assert torch.allclose(g_masked, g_ref)


def test_correct_order_has_lower_loss_than_reversed():
    ratings = torch.tensor([1.0, 2.0, 3.0])
    good, _ = bradley_terry_loss(torch.tensor([0.0, 1.0, 2.0]), ratings)
    bad, _ = bradley_terry_loss(torch.tensor([2.0, 1.0, 0.0]), ratings)
    assert good < bad


def test_adaptive_init_is_softmax_over_tasks_repeated_per_layer():
    alpha = adaptive_init([0.5, 0.3, -0.1], n_layers=4, temperature=0.1)
    weights = [math.exp(5.0), math.exp(3.0), math.exp(-1.0)]
    expected = [w / sum(weights) for w in weights]
    assert alpha.shape == (3, 4)
    for layer in range(4):
        assert alpha[:, layer].tolist() == pytest.approx(expected, rel=1e-6)


def test_adaptive_init_limits():
    uniform = adaptive_init([0.9, 0.1], 2, temperature=1e6)
    assert uniform[:, 0].tolist() == pytest.approx([0.5, 0.5], abs=1e-5)
    best = adaptive_init([0.9, 0.1], 2, temperature=1e-3)
    assert best[:, 0].tolist() == pytest.approx([1.0, 0.0], abs=1e-6)


def test_single_distinct_rating_is_a_clear_error():
    with pytest.raises(RatingsError, match="at least two different ratings"):
        validate_ratings([3, 3, 3, 3])


def test_too_few_or_non_finite_ratings():
    with pytest.raises(RatingsError, match="at least 2"):
        validate_ratings([1])
    with pytest.raises(RatingsError, match="finite"):
        validate_ratings([1, float("nan")])
