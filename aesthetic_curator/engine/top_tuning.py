"""Personalization's last stage: fine-tune the top of the merged network on the user's judgements.

Why: on the built-in model's 11 task vectors, per-task-and-layer coefficients span less than
fine-tuning does (docs/evaluation.md: best-fit FT beat the fast solver on 8 of 9 PARA users at K = 100),
while fine-tuning a single task's model from scratch throws away what the coefficients learned (it
fails outright on users whose best zero-shot task is a poor start). So the coefficients come first,
and then the top layers of the network they merge are fine-tuned with the same Bradley–Terry loss.

It is cheap because everything below the cut keeps the merged weights: its output for the rated
photos (and their mirror images, the one augmentation that never changes a photo's appeal) is
computed once, and each AdamW step runs only the top. The profile stores the top's weight change
(:class:`TopDelta`), a few hundred thousand numbers, next to the coefficients.

Where the cut lies depends on the image tower (:func:`split_top`): for timm's EfficientNet family
(the built-in model) it is after the last stage of blocks, so the 1x1 head convolution, its batch
norm's affine parameters and the scoring head are tuned; for any other tower it is the scoring head
on the tower's embedding. Batch-norm statistics stay the base's, as everywhere in this app.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from aesthetic_curator.engine.agreement import SPLITS, Agreement, Fold, pooled_agreement
from aesthetic_curator.engine.rank_loss import indexed_pair_loss, pair_photos
from aesthetic_curator.engine.scorer import Scorer, freeze_norm_statistics
from aesthetic_curator.engine.top_delta import TopDelta
from aesthetic_curator.progress import CancelToken, ProgressCallback, check, report

log = logging.getLogger(__name__)

#: Photos per batch of the one pass below the cut (no gradients, so memory is the activations only).
LOWER_BATCH = 16
#: What a split tunes, in words: the deeper cut of an EfficientNet, or the scoring head of any tower.
HEAD_CONVOLUTION = "head convolution and scoring head"
SCORING_HEAD = "scoring head"
#: The learning rate at K = 100 rated photos and above (docs/evaluation.md, 9 PARA users: 1e-3 gave 0.582
#: there against 0.544 for 3e-4, while at K = 10 3e-4 gave 0.304 against 0.263: fewer photos, smaller steps).
FULL_LEARNING_RATE = 1e-3
FULL_LEARNING_RATE_PHOTOS = 100


def default_learning_rate(k: float) -> float:
    """``FULL_LEARNING_RATE`` scaled by sqrt(k / 100) below 100 photos: 3.2e-4 at K = 10, the two measured points.

    ``k``: the starred photos, or with comparisons :attr:`Judgements.ranking_equivalent` (fewer pairs
    ordered, smaller steps: docs/comparisons.md)."""
    return FULL_LEARNING_RATE * math.sqrt(min(1.0, max(k, 1) / FULL_LEARNING_RATE_PHOTOS))


@dataclass(frozen=True)
class TopTuningOptions:
    """Settings of the top fine-tuning (defaults: what docs/evaluation.md measured on 9 PARA users)."""

    steps: int = 30  # full-batch AdamW steps over every rated photo (cosine learning rate to zero)
    lr: float = FULL_LEARNING_RATE
    weight_decay: float = 0.01
    flips: bool = True  # each step sees a random half of the photos mirrored

    def lower_passes(self, lower_kept: bool) -> int:
        """Forwards of every photo below the cut: the plain one (unless kept from the solver), the mirrored one."""
        return (0 if lower_kept else 1) + (1 if self.flips else 0)


@dataclass
class NetworkSplit:
    """A scorer cut in two: ``upper(lower(x))`` equals ``scorer(x)``; only ``parameter_names`` are tuned."""

    lower: Callable[[torch.Tensor], torch.Tensor]
    upper: Callable[[torch.Tensor], torch.Tensor]
    parameter_names: list[str]
    where: str  # which layers are tuned, in words (for logs and profile details)
    #: The module of the scorer whose output ``lower`` returns (a solver's plain forward can keep it).
    cut: nn.Module
    #: The memory layout ``upper`` takes its input in fastest.
    layout: torch.memory_format = torch.contiguous_format


def _efficientnet_trunk(scorer: nn.Module) -> nn.Module | None:
    """The timm EfficientNet inside ``scorer``'s image tower, or None for any other tower."""
    trunk = getattr(getattr(scorer, "visual", None), "trunk", None)
    layers = ("conv_stem", "bn1", "blocks", "conv_head", "bn2")
    if trunk is not None and all(hasattr(trunk, name) for name in layers) and hasattr(trunk, "forward_head"):
        return trunk
    return None


def cut_module(scorer: nn.Module) -> nn.Module:
    """The module whose output the top tuning starts from (what :func:`split_top` cuts after)."""
    trunk = _efficientnet_trunk(scorer)
    return trunk.blocks if trunk is not None else scorer.visual


def split_top(scorer: Scorer) -> NetworkSplit:
    """Where to cut ``scorer`` for top tuning: after the last block stage of a timm EfficientNet, else
    after the image tower (the scoring head alone)."""
    trunk = _efficientnet_trunk(scorer)
    if trunk is not None:
        tower_head = getattr(scorer.visual, "head", nn.Identity())

        head_activations, layout = _head_activations(trunk.conv_head, trunk.bn2)

        def lower(images: torch.Tensor) -> torch.Tensor:
            return trunk.blocks(trunk.bn1(trunk.conv_stem(images))).contiguous(memory_format=layout)

        def upper(features: torch.Tensor) -> torch.Tensor:
            return scorer.head(tower_head(trunk.forward_head(head_activations(features))))

        tuned = ("visual.trunk.conv_head.", "visual.trunk.bn2.", "visual.head.", "head.")
        names = [name for name, p in scorer.named_parameters() if name.startswith(tuned) and p.is_floating_point()]
        return NetworkSplit(lower, upper, names, HEAD_CONVOLUTION, trunk.blocks, layout)
    names = [f"head.{name}" for name, p in scorer.head.named_parameters() if p.is_floating_point()]
    return NetworkSplit(scorer.visual, scorer.head, names, SCORING_HEAD, scorer.visual)


def _head_activations(
    conv: nn.Module, norm: nn.Module
) -> tuple[Callable[[torch.Tensor], torch.Tensor], torch.memory_format]:
    """``norm(conv(features))`` for a 1x1 convolution and a batch norm (with timm's activation), computed
    as one matrix product with the norm folded into the convolution while the norm uses its running
    statistics (always, in tuning and scoring); and the memory layout its input is best kept in
    (channels last: [photos, positions, channels] is then the product's operand without a copy).

    Why: the same layers as modules spend most of a tuning step in the batch norm's and the activation's
    backward passes over [photos, 1,280, 7, 7] (64 and 25 ms of a 100 ms step at K = 100 on 2 cores,
    docs/benchmarks.md); folded, the gradient reaches the same parameters through a matrix product.
    """
    foldable = (
        isinstance(conv, nn.Conv2d)
        and conv.kernel_size == (1, 1)
        and conv.stride == (1, 1)
        and conv.groups == 1
        and conv.padding in ((0, 0), "valid")
        and isinstance(norm, nn.modules.batchnorm._BatchNorm)
        and norm.affine
        and norm.running_mean is not None
    )
    activation = getattr(norm, "act", nn.Identity())
    dropout = getattr(norm, "drop", nn.Identity())

    def modules(features: torch.Tensor) -> torch.Tensor:
        return norm(conv(features))

    def folded(features: torch.Tensor) -> torch.Tensor:
        if norm.training:  # batch statistics: only the modules compute those
            return modules(features)
        scale = norm.weight * torch.rsqrt(norm.running_var + norm.eps)
        shift = norm.bias - norm.running_mean * scale
        if conv.bias is not None:
            shift = shift + conv.bias * scale
        weight = conv.weight.flatten(1) * scale[:, None]
        out = nn.functional.linear(features.flatten(2).transpose(1, 2), weight, shift)
        return activation(dropout(out)).transpose(1, 2).unflatten(2, features.shape[2:])

    return (folded, torch.channels_last) if foldable else (modules, torch.contiguous_format)


def tuned_by_default(scorer: Scorer) -> bool:
    """Whether personalization tunes the top of ``scorer`` unless told otherwise: where it was measured
    to help (the EfficientNet cut, the built-in model: docs/evaluation.md), not on a ViT's scoring head
    alone, which no real bundle has measured yet."""
    return split_top(scorer).where == HEAD_CONVOLUTION


@dataclass
class TopTuning:
    """The tuned change, the rated photos' scores with it (for the train agreement), and the tuned model's
    cross-validated agreement with the judgements when it was asked for."""

    delta: TopDelta
    scores: torch.Tensor
    where: str
    agreement: Agreement | None = None
    #: Photos passed below the cut (each plain or mirrored pass of a photo counts one), folds included.
    lower_forwards: int = 0


#: Folds of the tuned model's agreement: 3, each tuned on two thirds of the photos, cost two tunings on all
#: of them (5 folds cost four: 8.2 s more at K = 100 on 2 cores, where the whole run takes 21 s).
AGREEMENT_FOLDS = 3
#: Below this many photos a split holds out only a few pairs of two unseen photos, so more seeded splits
#: are pooled (up to :data:`agreement.SPLITS`); the cost stays about that of two tunings at K = 30.
AGREEMENT_PHOTOS = 30


def agreement_splits(k: int) -> int:
    """Seeded fold splits of ``k`` photos for the tuned model's agreement: 3 at K = 10, 2 at K = 20, then 1."""
    return max(1, min(SPLITS, round(AGREEMENT_PHOTOS / max(k, 1))))


#: Below this many judged photos each fold of the tuned agreement starts from coefficients refitted without
#: its held-out answers (:func:`agreement.fold_coefficients`), at one pass below the cut per photo and fold
#: (and a mirrored one of each photo it tunes on).
#: Measured on PARA (docs/comparisons.md, 2026-12-05 afternoon): with the coefficients of all answers the
#: estimate was 0.08-0.21 too high at 10-40 photos; refitted it is within 0.02 there, but 0.06 too low at
#: 50-100 photos, where the folds' smaller training sets cost more than the leak gave.
FOLD_REFIT_PHOTOS = 45


def refits_fold_coefficients(k: int) -> bool:
    """Whether the tuned agreement of ``k`` judged photos refits the coefficients per fold."""
    return k < FOLD_REFIT_PHOTOS


@torch.no_grad()
def _lower_features(split: NetworkSplit, images: torch.Tensor, flip: bool) -> torch.Tensor:
    out = []
    for start in range(0, len(images), LOWER_BATCH):
        batch = images[start : start + LOWER_BATCH]
        out.append(split.lower(batch.flip(-1) if flip else batch))
    return torch.cat(out)


def tune_top(
    scorer: Scorer,
    images: torch.Tensor,
    hi: torch.Tensor,
    lo: torch.Tensor,
    options: TopTuningOptions,
    seed: int,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    lower: torch.Tensor | None = None,
    agreement_folds: Sequence[Fold] = (),
    fold_scorer: Callable[[torch.Tensor], Scorer] | None = None,
    answers: int | None = None,
) -> TopTuning:
    """Fine-tune the top of ``scorer`` (the merged model, baked) on the ordered pairs (``hi`` above ``lo``).

    ``scorer`` is left as it was; the result is its weight change. Costs one forward per photo below the
    cut (two with flips) and ``options.steps`` passes through the top. ``lower``, when given, is what the
    cut module (:func:`cut_module`) output for ``images`` under these weights, kept from an earlier
    forward: the plain pass below the cut is then skipped. With ``agreement_folds`` (pair rows, from
    :func:`agreement.agreement_folds`) the tuning is also run on each fold's training pairs, on the
    features already computed, and asked to order its held-out pairs: the agreement of the model the
    profile keeps, not of the coefficients before it. With ``fold_scorer`` (the network merged at a fold's
    own coefficients, from its training pair rows) each fold computes its features below the cut afresh.
    ``answers`` (default: the photos) is what the agreement's ± counts (:func:`agreement.pooled_agreement`).
    """
    device = next(scorer.parameters()).device
    split = split_top(scorer)
    images = images.to(device)
    if lower is not None and lower.shape[0] != images.shape[0]:
        raise ValueError(f"{lower.shape[0]} kept features for {images.shape[0]} photos")
    forwards = 0
    if lower is not None:
        plain = lower.to(device).contiguous(memory_format=split.layout)
    else:
        plain = _lower_features(split, images, flip=False)
        forwards += len(images)
    check(cancel)
    mirrored = _lower_features(split, images, flip=True) if options.flips else None
    forwards += len(images) if options.flips else 0
    hi, lo = hi.to(device), lo.to(device)

    def on_step(step: int) -> None:
        report(progress, "fine-tuning", step, options.steps)

    delta, scores = _tuned(scorer, split, plain, mirrored, hi, lo, options, seed, cancel, on_step)
    agreement = None
    if agreement_folds:
        done = 0

        def held_out_margins(train: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
            """Tune on the fold's training photos only (pairs re-indexed into them), score every photo."""
            nonlocal done, forwards
            photos = pair_photos(hi, lo, train)
            position = torch.full((len(plain),), -1, dtype=torch.long, device=device)
            position[photos] = torch.arange(len(photos), device=device)
            fold_pairs = position[hi[train]], position[lo[train]]
            fold, fold_split, fold_plain = scorer, split, plain
            fold_mirrored = mirrored[photos] if mirrored is not None else None
            if fold_scorer is not None:  # the fold's own coefficients: features below the cut change too
                fold = fold_scorer(train)
                fold_split = split_top(fold)
                fold_plain = _lower_features(fold_split, images, flip=False)  # every photo is scored
                forwards += len(images)
                if options.flips:  # only the photos it tunes on are seen mirrored
                    fold_mirrored = _lower_features(fold_split, images[photos], flip=True)
                    forwards += len(photos)
            _, fold_scores = _tuned(
                fold,
                fold_split,
                fold_plain[photos],
                fold_mirrored,
                *fold_pairs,
                options,
                seed,
                cancel,
                None,
                fold_plain,
            )
            done += 1
            report(progress, "measuring agreement", done, len(agreement_folds))
            return (fold_scores[hi[valid].cpu()] - fold_scores[lo[valid].cpu()]).double()

        answers = len(plain) if answers is None else answers
        agreement = pooled_agreement(list(agreement_folds), held_out_margins, answers, hi.numel())
    log.debug("tuned the %s (%d weights) in %d steps", split.where, delta.numel, options.steps)
    return TopTuning(delta.compact(), scores, split.where, agreement, forwards)


def _tuned(
    scorer: Scorer,
    split: NetworkSplit,
    plain: torch.Tensor,
    mirrored: torch.Tensor | None,
    hi: torch.Tensor,
    lo: torch.Tensor,
    options: TopTuningOptions,
    seed: int,
    cancel: CancelToken | None,
    on_step: Callable[[int], None] | None,
    scored: torch.Tensor | None = None,
) -> tuple[TopDelta, torch.Tensor]:
    """The top's weight change after ``options.steps`` AdamW steps on the pairs of the photos whose features
    below the cut are ``plain`` (and ``mirrored``), and the scores of ``scored`` (default: ``plain``) with it.
    ``scorer`` is left exactly as it came."""
    params = dict(scorer.named_parameters())
    tuned = {name: params[name] for name in split.parameter_names}
    start = {name: p.detach().clone() for name, p in tuned.items()}
    generator = torch.Generator().manual_seed(seed)
    was_training = scorer.training
    try:
        for p in tuned.values():
            p.requires_grad_(True)
        scorer.train()
        freeze_norm_statistics(scorer)
        for module in scorer.modules():  # the comparison with the merged model is about weights, not noise
            if isinstance(module, nn.Dropout):
                module.eval()
        optimizer = torch.optim.AdamW(list(tuned.values()), lr=options.lr, weight_decay=options.weight_decay)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(options.steps, 1), eta_min=0.0)
        for step in range(options.steps):
            check(cancel)
            features = plain
            if mirrored is not None:
                flips = torch.rand(len(plain), generator=generator) < 0.5
                features = torch.where(flips.view(-1, *[1] * (plain.dim() - 1)).to(plain.device), mirrored, plain)
            loss = indexed_pair_loss(split.upper(features), hi, lo)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            if on_step is not None:
                on_step(step + 1)
        with torch.no_grad():
            scores = split.upper(plain if scored is None else scored).float().cpu()
            delta = TopDelta({name: (p.detach() - start[name]) for name, p in tuned.items()})
    finally:
        with torch.no_grad():  # leave the scorer exactly as it came
            for name, p in tuned.items():
                p.requires_grad_(False)
                p.copy_(start[name])
        scorer.train(was_training)
    return delta, scores


def time_tuning_passes(scorer: Scorer, batch: int = LOWER_BATCH) -> tuple[float, float]:
    """Seconds per photo of :func:`tune_top`'s two kinds of work, from one timed batch of ``batch`` photos
    below the cut and one timed step through the top (the step is linear in the photos)."""
    device = next(scorer.parameters()).device
    split = split_top(scorer)
    size = scorer.image_size
    images = torch.randn(batch, 3, size, size, device=device)
    started = time.perf_counter()
    features = _lower_features(split, images, flip=False)
    features.cpu()  # waits for a GPU's queued work
    middle = time.perf_counter()
    params = [dict(scorer.named_parameters())[name] for name in split.parameter_names]
    for p in params:
        p.requires_grad_(True)
    try:
        grads = torch.autograd.grad(split.upper(features).sum(), params)
        grads[0].cpu()
    finally:
        for p in params:
            p.requires_grad_(False)
    ended = time.perf_counter()
    return (middle - started) / batch, (ended - middle) / batch


def tuning_seconds_from(
    per_lower_photo: float,
    per_step_photo: float,
    k: int,
    options: TopTuningOptions,
    lower_kept: bool = False,
    fold_refit: bool = False,
) -> float:
    """Wall time of :func:`tune_top` on ``k`` photos, its agreement's fold tunings included, from
    :func:`time_tuning_passes`; ``lower_kept``: the plain features come from the solver's forward (only
    the mirrored pass is left); ``fold_refit``: each fold passes the photos below the cut again."""
    fold_photos = agreement_splits(k) * (AGREEMENT_FOLDS - 1) * k  # each fold tunes on the other folds' photos
    steps = per_step_photo * (k + fold_photos) * options.steps
    lower_passes = options.lower_passes(lower_kept) + fold_lower_passes(k, options, fold_refit)
    return per_lower_photo * k * lower_passes + steps


def fold_lower_passes(k: int, options: TopTuningOptions, fold_refit: bool) -> int:
    """Passes below the cut per photo that the agreement's folds add at most (none unless they refit
    coefficients): each fold passes every photo plain and its training photos (at most the other folds')
    mirrored."""
    if not (fold_refit and refits_fold_coefficients(k)):
        return 0
    mirrored = AGREEMENT_FOLDS - 1 if options.flips else 0
    return agreement_splits(k) * (AGREEMENT_FOLDS + mirrored)


__all__ = [
    "AGREEMENT_FOLDS",
    "NetworkSplit",
    "TopTuning",
    "TopTuningOptions",
    "agreement_splits",
    "cut_module",
    "default_learning_rate",
    "fold_lower_passes",
    "refits_fold_coefficients",
    "split_top",
    "time_tuning_passes",
    "tune_top",
    "tuned_by_default",
    "tuning_seconds_from",
]
