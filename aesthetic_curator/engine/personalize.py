"""Personalization: fit the (tasks x layers) coefficients to one user's ratings.

Every solver starts from the paper's adaptive init (softmax of each task's zero-shot SROCC on the
rated photos). The reference is the paper's recipe (``paper``: AdamW on the Bradley–Terry loss);
the default is the damped Gauss–Newton solver (``fast``), which matches it with a small fraction of
the passes. Solvers are looked up by name in :mod:`engine.solvers`. Nothing here knows about Qt: progress
goes through a callback and cancellation through a :class:`CancelToken` checked every step.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch

from aesthetic_curator.engine.agreement import (
    Agreement,
    FoldCoefficients,
    FoldInit,
    agreement_folds,
    cross_validated_agreement,
)
from aesthetic_curator.engine.judgements import MIN_RATED, Judgements
from aesthetic_curator.engine.loading import SkippedImage
from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.scorer import Scorer
from aesthetic_curator.engine.solvers import DEFAULT_SOLVER, get_solver, solver_names
from aesthetic_curator.engine.solvers.base import (
    PassCounter,
    PersonalizeConfig,
    SolverRun,
    Timings,
    measured,
    score_images,
)
from aesthetic_curator.engine.solvers.jacobian import scores_and_jacobian
from aesthetic_curator.engine.solvers.linear_problem import LinearProblem, choose_ridge, ordered_pairs
from aesthetic_curator.engine.top_delta import TopDelta, tuned_scorer
from aesthetic_curator.engine.top_tuning import (
    AGREEMENT_FOLDS,
    TopTuning,
    TopTuningOptions,
    agreement_splits,
    cut_module,
    default_learning_rate,
    refits_fold_coefficients,
    time_tuning_passes,
    tune_top,
    tuning_seconds_from,
)
from aesthetic_curator.errors import RatingsError
from aesthetic_curator.progress import CancelToken, ProgressCallback, check, report

__all__ = [
    "DEFAULT_SOLVER",
    "MIN_RATED",
    "Judgements",
    "PassCounter",
    "PersonalizationResult",
    "PersonalizeConfig",
    "adaptive_init",
    "personal_scores",
    "personalize",
    "planned_passes",
    "score_images",
    "solver_names",
    "tuning_seconds",
    "validate_ratings",
    "zero_shot_srocc",
    "zero_shot_subset",
]

log = logging.getLogger(__name__)


@dataclass
class PersonalizationResult:
    """The learned coefficients and what it took to learn them."""

    alpha: torch.Tensor  # [n_tasks, n_layers], on the CPU
    init_alpha: torch.Tensor
    task_names: list[str]
    zero_shot_srocc: dict[str, float]  # each task model alone on the rated photos
    train_srocc: float  # final model's agreement with the judgements it learned from (Judgements.agreement)
    final_loss: float | None
    steps: int
    passes: PassCounter
    seconds: float
    k: int  # photos judged (rated, compared or both)
    comparisons: int = 0  # decided comparisons among them
    agreement: Agreement | None = None  # cross-validated share of the judgements it predicts (engine.agreement)
    config: PersonalizeConfig = field(default_factory=PersonalizeConfig)
    skipped: list[SkippedImage] = field(default_factory=list)  # rated photos that could not be decoded
    top_delta: TopDelta | None = None  # the fine-tuned change of the network's top (engine.top_delta)
    top_tuned: str | None = None  # which layers that change covers, in words

    def config_dict(self) -> dict:
        return asdict(self.config)


def validate_ratings(ratings: Sequence[float]) -> torch.Tensor:
    """The ratings as dense ranks (0 = lowest), float32; a :class:`RatingsError` when nothing is ordered."""
    return Judgements.from_ratings(ratings).ratings


def adaptive_init(task_srocc: Sequence[float], n_layers: int, temperature: float) -> torch.Tensor:
    """alpha_i^l = softmax(SROCC / T)_i for every layer l (the paper's adaptive initialisation)."""
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    weights = torch.softmax(torch.tensor(task_srocc, dtype=torch.float64) / temperature, dim=0).float()
    return weights[:, None].repeat(1, n_layers)


def zero_shot_srocc(
    model: MergedScorer,
    images: torch.Tensor,
    judgements: Judgements,
    counter: PassCounter,
    batch_size: int = 64,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    screen: int | None = None,
    refine: int = 2,
) -> list[float]:
    """Agreement of each task model alone with the user's judgements (SROCC with stars alone).

    With ``screen`` (the fast solver's default, ``Solver.zero_shot_screen_size``), every task
    is scored on the first ``screen`` photos and only the ``refine`` best on all of them: the softmax
    init gives the others almost no weight, and the passes saved buy a solver step. The photos must
    then come in a random order, as :func:`zero_shot_subset` gives them.
    """
    k = judgements.n_photos
    if screen is None or screen >= k or not judgements.restricted(torch.arange(screen)).has_pairs:
        screen = k
    first = judgements.restricted(torch.arange(screen))
    values, screened = [], []
    for task in range(model.n_tasks):
        check(cancel)
        scores = score_images(model, images[:screen], model.one_hot(task), counter, batch_size, cancel)
        screened.append(scores)
        values.append(first.agreement(scores))
        report(progress, "zero-shot", task + 1, model.n_tasks)
    if screen < k:
        for task in sorted(range(model.n_tasks), key=values.__getitem__, reverse=True)[:refine]:
            rest = score_images(model, images[screen:], model.one_hot(task), counter, batch_size, cancel)
            values[task] = judgements.agreement(torch.cat([screened[task], rest]))
    return values


def measure_agreement(
    model: MergedScorer,
    images: torch.Tensor,
    judgements: Judgements,
    alpha: torch.Tensor,
    config: PersonalizeConfig,
    counter: PassCounter,
    cancel: CancelToken | None = None,
    fold_init: FoldInit | None = None,
) -> Agreement | None:
    """Cross-validated agreement for a solver that did not measure it: a Jacobian at ``alpha`` (2 passes per
    photo, a small share of the paper recipe's), then the same linear fits the fast solver makes."""
    from aesthetic_curator.engine.solvers.gauss_newton import FastOptions

    options = FastOptions()
    scores, jacobian, _ = scores_and_jacobian(model, images, alpha, counter, options.chunk(model.device), cancel)
    hi, lo = ordered_pairs(judgements, config.seed)
    problem = LinearProblem(scores, jacobian, hi, lo)
    ridge = choose_ridge(problem, judgements.n_photos, options.cv_folds, config.seed)
    folds = options.cv_folds
    return cross_validated_agreement(
        problem, judgements.n_photos, folds, config.seed, ridge, fold_init, alpha, answers=judgements.n_answers
    )


def _fold_init(
    judgements: Judgements, task_scores: torch.Tensor | None, init: torch.Tensor, n_layers: int, temperature: float
) -> FoldInit | None:
    """The adaptive init from the judgements among some photos only (for the agreement's folds), when
    every task's scores of every judged photo are known; a fold with no order among its photos keeps ``init``."""
    if task_scores is None:
        return None
    scores = task_scores.detach().cpu()

    def fold_init(photos: torch.Tensor) -> torch.Tensor:
        restricted = judgements.restricted(photos)
        if not restricted.has_pairs:
            return init
        values = [restricted.agreement(scores[photos.cpu(), t]) for t in range(scores.shape[1])]
        return adaptive_init(values, n_layers, temperature)

    return fold_init


def tune_merged_top(
    model: MergedScorer,
    images: torch.Tensor,
    judgements: Judgements,
    alpha: torch.Tensor,
    config: PersonalizeConfig,
    counter: PassCounter,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    lower: torch.Tensor | None = None,
    fold_coefficients: FoldCoefficients | None = None,
) -> TopTuning:
    """Fine-tune the top of the network merged at ``alpha`` on every ordered pair of the judgements, and
    cross-validate that tuning for the agreement the profile reports (the model it keeps, not the
    coefficients before it: docs/comparisons.md).

    ``lower``: the cut module's output for ``images`` at ``alpha``, kept by the solver (saves a pass).
    ``fold_coefficients``: the solver's refit without some answers; below
    :data:`~aesthetic_curator.engine.top_tuning.FOLD_REFIT_PHOTOS` each fold's tuning starts from it.
    """
    hi, lo = ordered_pairs(judgements, config.seed)
    k = judgements.n_photos
    # By the pairs ordered, not the photos: 50 comparisons span ~100 photos but order only 50 pairs, as
    # 10.5 ranked photos would (docs/comparisons.md).
    lr = config.top_lr if config.top_lr is not None else default_learning_rate(judgements.ranking_equivalent)
    options = TopTuningOptions(steps=config.top_steps, lr=lr, flips=config.top_flips)
    folds = agreement_folds(hi, lo, k, AGREEMENT_FOLDS, config.seed, agreement_splits(k))
    refit = fold_coefficients is not None and refits_fold_coefficients(k)

    def fold_scorer(rows: torch.Tensor) -> Scorer:
        return model.bake(fold_coefficients(rows))

    tuned = tune_top(
        model.bake(alpha), images, hi, lo, options, config.seed, progress, cancel, lower, folds,
        fold_scorer if refit else None, answers=judgements.n_answers,
    )  # fmt: skip
    counter.forward += tuned.lower_forwards  # the layers below the cut
    return tuned


def tuning_seconds(model: MergedScorer, k: int, config: PersonalizeConfig, timings: Timings | None = None) -> float:
    """The top tuning's share of a run's wall time on ``k`` photos (0 when the run does not tune);
    ``timings``: see :func:`~aesthetic_curator.engine.solvers.base.measured`."""
    if not config.tunes_top(model):
        return 0.0
    options = TopTuningOptions(steps=config.top_steps, flips=config.top_flips)
    solver = get_solver(config.solver)
    kept, refit = solver.keeps_cut_features(config), solver.gives_fold_coefficients(config)
    per_lower, per_step = measured(timings, "tuning", lambda: time_tuning_passes(model.bake()))
    return tuning_seconds_from(per_lower, per_step, k, options, lower_kept=kept, fold_refit=refit)


@torch.no_grad()
def personal_scores(
    model: MergedScorer,
    images: torch.Tensor,
    result: PersonalizationResult,
    batch_size: int = 32,
    cancel: CancelToken | None = None,
) -> torch.Tensor:
    """Scores (on the CPU) of ``images`` under what ``result`` learned: its coefficients and tuned top."""
    alpha = result.alpha.to(model.device)
    if result.top_delta is None:
        return score_images(model, images, alpha, None, batch_size, cancel).cpu()
    scorer = tuned_scorer(model.bake(alpha), result.top_delta)
    out = []
    for start in range(0, len(images), batch_size):
        check(cancel)
        out.append(scorer(images[start : start + batch_size].to(model.device)).float().cpu())
    return torch.cat(out)


def planned_passes(k: int, n_tasks: int, config: PersonalizeConfig) -> int:
    """Passes through the network a run on ``k`` rated photos takes at most (for time estimates): a fast run
    that keeps the adaptive init (FastOptions.keeps_init, which needs the model and the judgements) takes
    ``k`` after the zero-shot scoring instead; ``Solver.estimate_seconds`` counts that case exactly."""
    return get_solver(config.solver).planned_passes(k, n_tasks, config)


def zero_shot_subset(judgements: Judgements, limit: int | None, seed: int) -> torch.Tensor:
    """Indices of the photos the zero-shot agreement is measured on: all, or a seeded sample of ``limit``.

    Always in a seeded random order, because screening scores every task on the first few only (the
    rated photos themselves may come sorted by name or by stars). The init only needs a rough ranking
    of the tasks, and the solver corrects it; at K = 100 a sample of 48 saves over half the zero-shot
    passes. A sample without an ordered pair would say nothing, so then every photo is used.
    """
    k = judgements.n_photos
    order = torch.randperm(k, generator=torch.Generator().manual_seed(seed))
    if limit is None or limit >= k or not judgements.restricted(order[:limit]).has_pairs:
        return order
    return order[:limit]


def personalize(
    model: MergedScorer,
    images: torch.Tensor,
    judgements: Judgements | Sequence[float],
    config: PersonalizeConfig | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    task_scores: torch.Tensor | None = None,
) -> PersonalizationResult:
    """Fit ``model.alpha`` to the user's ``judgements`` of the preprocessed ``images`` and return the result.

    ``judgements`` are stars and comparisons (:class:`Judgements`), or plain ratings, one per photo.
    ``images`` is a [K, 3, H, W] tensor made by the scorer's :class:`Preprocessor`. The model's
    coefficients are set to the learned values on success and left unchanged on cancellation.
    ``task_scores`` [K, tasks], when given, are each task model's scores of the rated photos, computed
    beforehand (in the background, as the photos were rated): the adaptive init then uses every rated
    photo and costs no pass here.
    """
    config = config or PersonalizeConfig()
    solver = get_solver(config.solver)
    if not isinstance(judgements, Judgements):
        judgements = Judgements.from_ratings(judgements)
    k = judgements.n_photos
    if images.shape[0] != k:
        raise RatingsError(f"{images.shape[0]} images but {k} judged photos")
    started = time.perf_counter()
    images = images.to(model.device)
    counter = PassCounter()
    score_batch = config.score_batch(model)
    if task_scores is not None:
        if tuple(task_scores.shape) != (k, model.n_tasks):
            raise RatingsError(f"task scores of shape {tuple(task_scores.shape)} do not fit {k} photos")
        zero_shot = [judgements.agreement(task_scores[:, t]) for t in range(model.n_tasks)]
    else:
        subset = zero_shot_subset(judgements, solver.zero_shot_limit(config), config.seed)
        zero_shot = zero_shot_srocc(
            model,
            images[subset.to(model.device)],
            judgements.restricted(subset),
            counter,
            score_batch,
            progress,
            cancel,
            screen=solver.zero_shot_screen_size(config),
            refine=config.zero_shot_refine,
        )
    init = adaptive_init(zero_shot, model.n_layers, config.temperature).to(model.device)
    log.debug("zero-shot SROCC per task: %s", dict(zip(model.task_names, zero_shot)))
    fold_init = _fold_init(judgements, task_scores, init, model.n_layers, config.temperature)
    tunes = config.tunes_top(model) and judgements.has_pairs
    tap = cut_module(model.base) if tunes else None
    run = SolverRun(model, images, judgements, init, config, counter, progress, cancel, fold_init, tap)
    output = solver.solve(run)
    if output.final_loss is not None and not math.isfinite(output.final_loss):
        raise RatingsError("personalization diverged (non-finite loss); try a lower learning rate")
    top = None
    if tunes:
        lower = output.cut_features
        top = tune_merged_top(
            model, images, judgements, output.alpha, config, counter, progress, cancel, lower, output.fold_coefficients
        )
    with torch.no_grad():
        model.alpha.copy_(output.alpha)
    final_scores = top.scores if top is not None else output.final_scores
    if final_scores is None:
        final_scores = score_images(model, images, None, counter, score_batch, cancel)
    agreement = (top.agreement if top is not None else None) or output.agreement
    agreement = agreement or measure_agreement(model, images, judgements, init, config, counter, cancel, fold_init)
    train = judgements.agreement(final_scores)
    seconds = time.perf_counter() - started
    log.debug("personalized on %d photos in %.1fs: train agreement %.3f", k, seconds, train)
    return PersonalizationResult(
        alpha=output.alpha.cpu(),
        init_alpha=init.cpu(),
        task_names=list(model.task_names),
        zero_shot_srocc=dict(zip(model.task_names, zero_shot)),
        train_srocc=train,
        final_loss=output.final_loss,
        steps=output.steps,
        passes=counter,
        seconds=seconds,
        k=k,
        comparisons=int(judgements.comparisons.sum()),
        agreement=agreement,
        config=config,
        top_delta=top.delta if top is not None else None,
        top_tuned=top.where if top is not None else None,
    )
