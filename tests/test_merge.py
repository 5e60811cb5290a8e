"""Merging: one-hot coefficients reproduce each task model; gradients reach only the coefficients."""

from __future__ import annotations

import copy

import pytest
import torch

from aesthetic_curator.engine.base_model import create_base_scorer
from aesthetic_curator.engine.bundle import Bundle, TaskInfo
from aesthetic_curator.engine.bundle_writer import write_bundle
from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.scorer import create_scorer
from aesthetic_curator.engine.task_vector import TaskVector
from aesthetic_curator.engine.test_bundle import tiny_spec


def _finetune(base, seed: int, steps: int = 5):
    """A few genuine AdamW steps of the whole scorer on a random regression target."""
    model = copy.deepcopy(base).train()
    gen = torch.Generator().manual_seed(seed)
    images = torch.randn(16, 3, 32, 32, generator=gen)
    target = torch.rand(16, generator=gen) * 9 + 1
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(images), target).backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def fp32_bundle(tmp_path_factory):
    """A bundle stored in float32 together with the fine-tuned models it was made from."""
    base = create_scorer(tiny_spec(), head_seed=3)
    base_state = {k: v.detach().clone() for k, v in base.named_parameters()}
    tuned = [_finetune(base, seed) for seed in range(3)]
    tasks = [
        (
            TaskInfo(name=f"t{i}", dataset="random", score_range=(1, 10)),
            TaskVector.between(dict(m.named_parameters()), base_state),
        )
        for i, m in enumerate(tuned)
    ]
    bundle = write_bundle(
        tmp_path_factory.mktemp("fp32") / "b",
        base_scorer=base,
        tasks=tasks,
        embed_base_weights=True,
        dtype=torch.float32,
    )
    return bundle, tuned


def test_one_hot_reproduces_each_finetuned_model(fp32_bundle):
    bundle, tuned = fp32_bundle
    merged = MergedScorer.from_bundle(bundle)
    images = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        for task, model in enumerate(tuned):
            expected = model(images)
            got = merged(images, merged.one_hot(task))
            # theta_pre + (theta_ft - theta_pre) is exact up to one float rounding per weight
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_one_hot_is_bit_exact_with_stored_task_model(test_bundle: Bundle):
    """With fp16 storage, task model i is defined as theta_pre + tau_i: merging must give it exactly."""
    merged = MergedScorer.from_bundle(test_bundle)
    images = torch.randn(6, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    for task in range(len(test_bundle.tasks)):
        model = create_base_scorer(test_bundle)
        tau = test_bundle.load_task_vector(task)
        model.load_state_dict({k: p + tau[k] for k, p in model.named_parameters()}, strict=False)
        with torch.no_grad():
            assert torch.equal(merged(images, merged.one_hot(task)), model(images))


def test_one_task_alone_merges_the_same_weights_by_its_shortcut(test_bundle: Bundle):
    """A task alone (one-hot, or one task's row scaled) reads only its own vector, and gives exactly the
    weights the full sum over every task gives; a differentiable coefficient matrix takes the full sum."""
    merged = MergedScorer.from_bundle(test_bundle)
    for alpha in (merged.one_hot(1), 0.37 * merged.one_hot(0)):
        assert MergedScorer._only_task(alpha) == int(alpha.ne(0).any(dim=1).nonzero())
        shortcut = merged.merged_parameters(alpha)
        full = merged.merged_parameters(alpha.clone().requires_grad_(True))  # no shortcut: gradients flow
        assert all(torch.equal(shortcut[name], full[name]) for name in merged.layer_names)
    two = merged.one_hot(0) + merged.one_hot(1)
    assert MergedScorer._only_task(two) is None and MergedScorer._only_task(torch.zeros_like(two)) is None
    learning = merged.one_hot(0).requires_grad_(True)
    assert MergedScorer._only_task(learning) is None
    with torch.no_grad():  # where no gradient is taken, a learnable one-hot matrix takes the shortcut too
        assert MergedScorer._only_task(learning) == 0


def test_gradient_reaches_only_coefficients(test_bundle: Bundle):
    merged = MergedScorer.from_bundle(test_bundle)
    trainable = [name for name, p in merged.named_parameters() if p.requires_grad]
    assert trainable == ["alpha"]
    merged(torch.randn(4, 3, 32, 32)).sum().backward()
    assert merged.alpha.grad is not None and merged.alpha.grad.abs().sum() > 0
    assert all(p.grad is None for p in merged.base.parameters())


def test_bake_equals_functional_forward(test_bundle: Bundle):
    merged = MergedScorer.from_bundle(test_bundle)
    alpha = torch.rand(merged.n_tasks, merged.n_layers, generator=torch.Generator().manual_seed(2))
    images = torch.randn(5, 3, 32, 32)
    baked = merged.bake(alpha)
    with torch.no_grad():
        torch.testing.assert_close(baked(images), merged(images, alpha), rtol=0, atol=1e-6)
    assert not any(p.requires_grad for p in baked.parameters())


def test_zero_coefficients_give_the_base_model(test_bundle: Bundle):
    merged = MergedScorer.from_bundle(test_bundle)
    base = create_base_scorer(test_bundle)
    images = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(merged(images, torch.zeros_like(merged.alpha)), base(images))


def test_streaming_bake_equals_in_memory_bake(test_bundle: Bundle):
    merged = MergedScorer.from_bundle(test_bundle)
    alpha = torch.rand(merged.n_tasks, merged.n_layers, generator=torch.Generator().manual_seed(5))
    streamed = MergedScorer.bake_from_bundle(test_bundle, alpha)
    images = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(streamed(images), merged.bake(alpha)(images), rtol=0, atol=1e-5)
