"""Per-photo Jacobians of the merged model's scores with respect to the (tasks x layers) coefficients.

The fast solver linearises the scores of the rated photos, ``s(alpha + d) ~ s + J d``; this module
computes ``s`` and ``J`` (a forward and a backward per photo), in chunks that shrink when a GPU runs
out of memory. Measurements behind the choices here are in docs/evaluation.md.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable

import torch
from torch.func import grad_and_value, vmap

from aesthetic_curator.engine.devices import mixed_precision
from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.solvers.base import PassCounter
from aesthetic_curator.engine.solvers.batched_jacobian import BATCH, Unsupported, batched_scores_and_jacobian
from aesthetic_curator.engine.top_delta import TopDelta
from aesthetic_curator.progress import CancelToken, ProgressCallback, check, report

log = logging.getLogger(__name__)


def _count(counter: PassCounter, tracker: PassProgress | None, photos: int) -> None:
    """A forward and a backward for each of ``photos``, counted and reported."""
    counter.forward += photos
    counter.backward += photos
    if tracker is not None:
        tracker.add(2 * photos)


def _merged_for_gradients(
    model: MergedScorer, alpha: torch.Tensor, top_delta: TopDelta | None = None
) -> dict[str, torch.Tensor]:
    """The merged weights at ``alpha`` (with a tuned top's change added), merged once, as leaves that collect
    gradients."""
    with torch.no_grad():
        merged = _tuned(model.merged_parameters(alpha.detach().to(model.device)), top_delta)
    for tensor in merged.values():
        tensor.requires_grad_(True)
    return merged


def _tuned(merged: dict[str, torch.Tensor], top_delta: TopDelta | None) -> dict[str, torch.Tensor]:
    return top_delta.added_to(merged) if top_delta is not None else merged


class PassProgress:
    """Turns per-chunk work into one progress bar over a solver's planned passes."""

    def __init__(self, progress: ProgressCallback | None, total: int, stage: str = "training") -> None:
        self.progress, self.total, self.done, self.loss, self.stage = progress, total, 0, None, stage

    def add(self, passes: int) -> None:
        self.done = min(self.total, self.done + passes)
        report(self.progress, self.stage, self.done, self.total, self.loss)


def scores_and_jacobian(
    model: MergedScorer,
    images: torch.Tensor,
    alpha: torch.Tensor,
    counter: PassCounter,
    chunk: int,
    cancel: CancelToken | None = None,
    tracker: PassProgress | None = None,
    batched: bool = True,
    top_delta: TopDelta | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Scores [K] and per-photo gradients [K, tasks, layers] at ``alpha``, in fp32 on the CPU, and embeddings;
    with ``top_delta``, of the profile's network (its tuned top's change added), as ``explain`` needs them.

    The backbone embeddings [K, dim] stay on the model's device (for the head refit).

    One batched per-photo gradient (``torch.func.vmap`` of ``grad``) per chunk: a forward and a
    backward per photo, merged weights computed once per chunk. With chunks of one photo (the CPU
    default) there is nothing to batch, so :func:`_jacobian_by_backward` does the same work without
    re-merging per photo (the faster of the two there), unless the network is one whose per-photo
    gradients :mod:`batched_jacobian` rebuilds from a batched backward (convolutional networks such as
    the built-in model, and OpenCLIP ViTs), which is faster still: 1.4-1.6x for the built-in model,
    1.8x for ViT-B-16 (docs/benchmarks.md). ``batched=False`` keeps the backward per photo.
    """
    if chunk == 1:
        rebuilt = _jacobian_batched(model, images, alpha, counter, cancel, tracker, top_delta) if batched else None
        if rebuilt is not None:
            return rebuilt
        return _jacobian_by_backward(model, images, alpha, counter, cancel, tracker, top_delta)

    def score(a: torch.Tensor, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedding, value = model.embed_and_score(_tuned(model.merged_parameters(a), top_delta), image[None])
        return value[0].float(), embedding[0].detach()

    per_photo = vmap(grad_and_value(score, has_aux=True), in_dims=(None, 0))
    amp = mixed_precision(model.device)
    alpha = alpha.detach().to(model.device)

    def compute(batch: torch.Tensor) -> tuple[torch.Tensor, ...]:
        with amp, warnings.catch_warnings():
            # functorch has no batching rule for CPU flash attention yet; its per-photo fallback is correct.
            warnings.filterwarnings("ignore", message="There is a performance drop")
            g, (v, embedding) = per_photo(alpha, batch)
        _count(counter, tracker, batch.shape[0])
        return v.float(), g.float(), embedding

    values, grads, embeddings = map(torch.cat, zip(*in_chunks(compute, images, chunk, cancel)))
    return values.cpu(), grads.cpu(), embeddings


def _jacobian_batched(
    model: MergedScorer,
    images: torch.Tensor,
    alpha: torch.Tensor,
    counter: PassCounter,
    cancel: CancelToken | None,
    tracker: PassProgress | None,
    top_delta: TopDelta | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """The Jacobian from batched forwards and backwards (:mod:`batched_jacobian`); None when the network
    is not one it handles (found on the first chunk, before anything is counted)."""
    merged = _merged_for_gradients(model, alpha, top_delta)

    def compute(chunk: torch.Tensor) -> tuple[torch.Tensor, ...]:
        result = batched_scores_and_jacobian(model, merged, chunk.to(model.device), cancel)
        _count(counter, tracker, chunk.shape[0])
        return result

    try:
        chunks = in_chunks(compute, images, BATCH, cancel)
    except Unsupported as reason:
        log.debug("per-photo backward for the Jacobian: %s", reason)
        return None
    values, rows, embeddings = map(torch.cat, zip(*chunks))
    return values.cpu(), rows.cpu(), embeddings


#: Memory for the weight gradients of the photos whose coefficient gradients are contracted together.
GRADIENT_GROUP_BYTES = 512 * 2**20


def gradient_group_size(model: MergedScorer) -> int:
    """Photos per contraction in :func:`_jacobian_by_backward`: as many weight gradients as fit the budget
    (the built-in EfficientNet-Lite0: 28; ViT-B-16: 1)."""
    return max(1, GRADIENT_GROUP_BYTES // (4 * model.merged_numel))


def _jacobian_by_backward(
    model: MergedScorer,
    images: torch.Tensor,
    alpha: torch.Tensor,
    counter: PassCounter,
    cancel: CancelToken | None,
    tracker: PassProgress | None,
    top_delta: TopDelta | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The Jacobian one photo at a time: merge once, a plain backward per photo into the merged weights.

    The coefficients' gradient is then the merge's transpose applied to the weights' gradient, for a
    group of photos at once (:meth:`MergedScorer.coefficient_gradients`, one matrix product per layer).
    """
    amp = mixed_precision(model.device)
    merged = _merged_for_gradients(model, alpha, top_delta)
    weights = [merged[name] for name in model.layer_names]

    def compute(group: torch.Tensor) -> tuple[torch.Tensor, ...]:
        values, embeddings, grads = [], [], []
        for photo in group:
            check(cancel)
            with amp:
                embedding, value = model.embed_and_score(merged, photo[None].to(model.device))
                value = value[0].float()
            grads.append(torch.autograd.grad(value, weights))
            values.append(value.detach())
            embeddings.append(embedding.detach())
            _count(counter, tracker, 1)
        # One photo's gradients (a ViT-B-16 group) are viewed, not copied: 344 MB a photo there.
        stacked = [layer[0][None] if len(layer) == 1 else torch.stack(layer) for layer in zip(*grads)]
        rows = model.coefficient_gradients(stacked)
        return torch.stack(values), rows.float(), torch.cat(embeddings)

    chunks = in_chunks(compute, images, gradient_group_size(model), cancel)
    values, rows, embeddings = map(torch.cat, zip(*chunks))
    return values.cpu(), rows.cpu(), embeddings


def in_chunks(
    compute: Callable[[torch.Tensor], tuple[torch.Tensor, ...]],
    images: torch.Tensor,
    chunk: int,
    cancel: CancelToken | None = None,
) -> list[tuple[torch.Tensor, ...]]:
    """``compute`` over consecutive chunks of ``images``, halving the chunk whenever the GPU runs out of memory.

    A GPU gets large chunks because per-chunk overhead dominates there; a smaller card runs out of
    memory on them, so the chunk shrinks until it fits, instead of the run failing.
    """
    results, start = [], 0
    while start < images.shape[0]:
        check(cancel)
        try:
            results.append(compute(images[start : start + chunk]))
        except torch.cuda.OutOfMemoryError:
            if chunk == 1:
                raise
            chunk = max(1, chunk // 2)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            log.info("out of GPU memory: per-photo gradients now in chunks of %d", chunk)
            continue
        start += results[-1][0].shape[0]
    return results
