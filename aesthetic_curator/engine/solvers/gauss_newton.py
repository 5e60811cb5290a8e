"""The fast solver: damped Gauss–Newton on the Bradley–Terry loss (``--solver fast``, the default).

The paper's recipe spends 500 mini-batch steps of forward + backward passes through the whole network.
Here the scores of the rated photos are linearised in the coefficients instead (:mod:`jacobian`),
and all the fitting happens on that linear model (:mod:`linear_problem`):

1. **Prior strength from the data.** For each candidate strength of a ridge prior pulling the
   coefficients towards the adaptive init, the linear model is fitted on some folds of the rated
   photos and scored on pairs that involve a held-out photo; the strength with the lowest held-out
   loss wins. This is what stops 10 ratings from being overfitted by hundreds of coefficients.
2. **Damped steps.** Each step minimises the linear objective plus a Levenberg–Marquardt damping
   term, then evaluates the true scores at the candidate (a forward per photo). The step is kept
   only if the true objective went down; the damping shrinks after good steps and grows after bad
   ones. The first evaluations also compute a fresh Jacobian at their candidate (2 of the 4 by default);
   the rest take chord steps on the last one.
3. **Head refit.** The embeddings of the accepted point's forward pass are kept, and
   :mod:`head_refit` refits the head's coefficients on them exactly, without a pass, when
   cross-validation says that generalises.

Passes are counted honestly in :class:`PassCounter`; the default of 4 evaluations with 3 Jacobians costs 8
passes per rated photo plus the zero-shot scoring, against up to 1,000 per photo for the paper's recipe. What
was measured to choose these defaults, and what was tried and dropped, is in docs/evaluation.md.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import ClassVar

import torch

from aesthetic_curator.engine.agreement import cross_validated_agreement, fold_coefficients
from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.rank_loss import indexed_pair_loss, pair_photos
from aesthetic_curator.engine.solvers.base import (
    PassCounter,
    PersonalizeConfig,
    Solver,
    SolverOutput,
    SolverRun,
    Timings,
    is_small_network,
    measured,
    recording,
    score_and_embed_images,
    score_images,
)
from aesthetic_curator.engine.solvers.batched_jacobian import BATCH
from aesthetic_curator.engine.solvers.head_refit import refit_head
from aesthetic_curator.engine.solvers.jacobian import PassProgress, scores_and_jacobian
from aesthetic_curator.engine.solvers.linear_problem import LinearProblem, choose_ridge, ordered_pairs
from aesthetic_curator.progress import check, report

log = logging.getLogger(__name__)


@dataclass
class FastOptions:
    """The damped Gauss–Newton solver's settings (defaults: what docs/evaluation.md measured best)."""

    # True evaluations of candidate coefficients. 4 since 2026-12-03: on the built-in bundle's real task
    # vectors 2 stopped short of the paper recipe at K = 100 (0.390 against 0.444 on PARA), 4 reached
    # 0.440, and K = 10 was unchanged (0.213 against 0.211); docs/evaluation.md.
    evaluations: int = 4
    # Jacobians in all, the first included (None: one per evaluation). Evaluations past the last fresh
    # Jacobian take chord steps: true scores from a forward, the last Jacobian reused. 3 since 2026-12-03
    # evening: with the top tuning after it, 0.586 against 0.588 for 4 on 9 PARA users at K = 100, and the
    # run 2.3 s shorter (coefficients alone: 0.446 against 0.452); docs/evaluation.md.
    jacobians: int | None = 3
    jacobian_chunk: int | None = None  # photos per batched per-photo gradient; None: 1 on a CPU, 32 on a GPU
    damping: float = 10.0  # initial Levenberg–Marquardt damping, in units of the loss's mean curvature
    cv_folds: int = 5  # folds of the rated photos used to choose the prior strength
    # Below this many judged photos, when the top is tuned after the coefficients and stars make at least half the
    # answers, the coefficients stay at the adaptive init and only the tuning learns (0: always fit them). Since
    # 2026-12-06: on PARA (3 seeds, 36 draws per cell) the profile as kept gained +0.033 / +0.024 / +0.035 / +0.027 at
    # 10 / 20 / 30 / 40 stars (+0.029 at 45, 60 draws) and was level at 50 (+0.008 ± 0.008), so the fit starts at 50;
    # 9 users at K = 10: +0.021 over 90 draws. Half stars, half comparisons (since 2026-12-06, late): +0.034 / +0.011
    # / +0.007 at 10 / 20 / 30 answers over 36 draws; at 40 and 50 answers they spanned 50 photos (fitted either way)
    # on the one seed run. Not when comparisons are most of the answers: +0.022 at 10 comparisons alone, level at 20,
    # but the pairs then asked from such profiles cost −0.077 at 50 on one seed (docs/comparisons.md). Such a run
    # costs one forward per photo instead of ~8 passes.
    init_only_below: int = 50
    head_refit: bool = True  # refit the head's coefficients exactly at the end (head_refit.py)
    # On a CPU, rebuild the per-photo gradients from one batched backward where the network allows
    # (batched_jacobian.py; 1.4-1.6x for the built-in model, only 1.04x for ViT-B-16, whose photo-by-photo
    # passes already multiply 197-token matrices; docs/benchmarks.md); False: a backward per photo, the
    # earlier path, kept as the benchmarks' baseline.
    batched_jacobian: bool = True

    def keeps_init(self, k: int, tunes_top: bool, mostly_comparisons: bool = False) -> bool:
        """Whether a run on ``k`` judged photos keeps the adaptive init's coefficients (``init_only_below``);
        ``mostly_comparisons``: whether comparisons outnumber the starred photos (Judgements.mostly_comparisons)."""
        return tunes_top and not mostly_comparisons and k < self.init_only_below

    def chunk(self, device: torch.device) -> int:
        return self.jacobian_chunk or (1 if device.type == "cpu" else 32)

    def refreshes(self) -> int:
        """Fresh Jacobians after the first: at most one per evaluation but the last (whose would go unused)."""
        evaluations = max(1, self.evaluations)
        wanted = evaluations if self.jacobians is None else max(1, self.jacobians)
        return min(wanted, evaluations) - 1


#: A small network's first passes in a process are warming up torch (2x slower for two rounds in a fresh
#: process here, docs/benchmarks.md): the estimate times up to this many rounds, until one is no faster
#: than ``SETTLED`` of the round before, and keeps the fastest.
WARM_UP_ROUNDS = 5
SETTLED = 0.85


class GaussNewtonSolver(Solver):
    """Damped Gauss–Newton from the adaptive init; see the module docstring for the scheme."""

    name = "fast"
    Options: ClassVar[type] = FastOptions
    # The softmax init gives tasks outside the best two almost no weight, so every task is screened
    # on 16 photos and only the best two go on to a seeded sample of 48 (docs/evaluation.md).
    zero_shot_photos = 48
    zero_shot_screen = 16

    def solver_passes(self, k: int, config: PersonalizeConfig) -> int:
        """The first Jacobian, one forward per evaluation, and a backward per fresh Jacobian after the first."""
        options = self.options(config)
        return 2 * k + max(1, options.evaluations) * k + options.refreshes() * k

    def keeps_cut_features(self, config: PersonalizeConfig) -> bool:
        """The last evaluation is always a plain forward (no Jacobian after it), and usually accepted."""
        return True

    def gives_fold_coefficients(self, config: PersonalizeConfig) -> bool:
        """Its last linear model refits the coefficients without any fold's answers, at no pass."""
        return True

    def estimate_seconds(
        self,
        model: MergedScorer,
        k: int,
        config: PersonalizeConfig,
        zero_shot_done: bool = False,
        timings: Timings | None = None,
        mostly_comparisons: bool = False,
    ) -> float:
        """Times what this solver runs, a Jacobian chunk and a scoring batch, and scales each by its count.

        One timed forward + backward of 4 photos (the base estimate) is 1.3x too high for the built-in
        model, whose Jacobians go batched and whose forwards go 16 photos at a time (docs/benchmarks.md).
        ``timings``: see :func:`measured`. ``mostly_comparisons``: whether comparisons outnumber the starred
        photos (such a run fits the coefficients at every count, :meth:`FastOptions.keeps_init`).
        """
        options: FastOptions = self.options(config)
        small = is_small_network(model)
        if options.keeps_init(k, config.tunes_top(model), mostly_comparisons):
            jacobian_photos, forwards = 0, k  # one forward for the init's scores and the top's input
        else:
            jacobian_photos = (1 + options.refreshes()) * k
            forwards = self.solver_passes(k, config) - 2 * jacobian_photos  # a Jacobian photo is 2 passes
        if not zero_shot_done:
            forwards += self.zero_shot_passes(k, model.n_tasks, config)
        chunk = options.chunk(model.device)
        if chunk == 1:  # a CPU: batched where batched_jacobian rebuilds the Jacobian, else photo by photo
            chunk = BATCH if options.batched_jacobian else 1
        batch = config.score_batch(model)
        solver_chunk, batched = options.chunk(model.device), options.batched_jacobian

        def measure() -> tuple[float, ...]:
            size = model.base.image_size
            images = torch.randn(max(chunk, batch), 3, size, size, device=model.device)
            alpha = model.alpha.detach()
            rounds: list[tuple[float, float]] = []
            for _ in range(WARM_UP_ROUNDS if small else 1):
                started = time.perf_counter()
                scores_and_jacobian(model, images[:chunk], alpha, PassCounter(), solver_chunk, batched=batched)
                middle = time.perf_counter()
                score_images(model, images[:batch], None, None, batch).cpu()  # .cpu(): waits for a GPU
                ended = time.perf_counter()
                rounds.append(((middle - started) / chunk, (ended - middle) / batch))
                if len(rounds) >= 2 and rounds[-1][0] > SETTLED * rounds[-2][0]:
                    break  # no faster than the round before: warm
            return min(r[0] for r in rounds), min(r[1] for r in rounds)

        per_jacobian_photo, per_forward = measured(timings, f"jacobian/{chunk}+forward/{batch}", measure)
        return per_jacobian_photo * jacobian_photos + per_forward * forwards

    def solve(self, run: SolverRun) -> SolverOutput:
        model, images, init, config = run.model, run.images, run.init, run.config
        counter, progress, cancel = run.counter, run.progress, run.cancel
        options: FastOptions = self.options(config)
        k = images.shape[0]
        if options.keeps_init(k, run.tap is not None, run.judgements.mostly_comparisons):
            log.debug("fast solver: %d photos, under %d: the coefficients stay at the init", k, options.init_only_below)
            return _init_only(run)
        evaluations, refreshes = max(1, options.evaluations), options.refreshes()
        tracker = PassProgress(progress, self.solver_passes(k, config))
        hi, lo = ordered_pairs(run.judgements, config.seed)
        prior = init.detach().cpu().double().reshape(-1)
        alpha = prior.clone()

        def objective(scores: torch.Tensor, coefficients: torch.Tensor, ridge: float) -> float:
            return float(indexed_pair_loss(scores, hi, lo) + ridge * (coefficients - prior).square().sum())

        shape = init.shape
        chunk, score_batch = options.chunk(model.device), config.score_batch(model)
        batched = options.batched_jacobian
        scores, jacobian, embeddings = scores_and_jacobian(
            model, images, init, counter, chunk, cancel, tracker, batched=batched
        )
        cut_features = None  # the tap's output at alpha, when alpha's scores came from a plain forward
        problem = LinearProblem(scores, jacobian, hi, lo)
        ridge = choose_ridge(problem, k, options.cv_folds, config.seed)
        agreement = cross_validated_agreement(
            problem, k, options.cv_folds, config.seed, ridge, run.fold_init, init, answers=run.judgements.n_answers
        )
        current = objective(scores, alpha, ridge)
        tracker.loss = float(problem.loss(torch.zeros_like(alpha)))
        damping = options.damping * problem.curvature_scale()
        log.debug("fast solver: ridge %.1e chosen by %d-fold CV; objective %.4f", ridge, options.cv_folds, current)
        for evaluation in range(evaluations):
            check(cancel)
            step = problem.fit(alpha - prior, ridge, damping)
            candidate = alpha + step
            with torch.no_grad():
                predicted = float(problem.loss(step) + ridge * (candidate - prior).square().sum())
            candidate_tensor = candidate.reshape(shape).float()
            refresh = evaluation < refreshes
            if refresh:
                new_scores, new_jacobian, new_embeddings = scores_and_jacobian(
                    model, images, candidate_tensor, counter, chunk, cancel, tracker, batched=batched
                )
                new_cut_features = None
            else:
                on_device = candidate_tensor.to(model.device)
                with recording(run.tap) as tapped:
                    new_scores, new_embeddings = score_and_embed_images(
                        model, images, on_device, counter, score_batch, cancel
                    )
                new_cut_features = torch.cat(tapped) if tapped else None
                new_scores, new_jacobian = new_scores.cpu(), jacobian
                tracker.add(k)
            value = objective(new_scores, candidate, ridge)
            gain_predicted = current - predicted
            if math.isfinite(value) and value < current:
                ratio = (current - value) / gain_predicted if gain_predicted > 0 else 1.0
                alpha, scores, current = candidate, new_scores, value
                jacobian, embeddings, cut_features = new_jacobian, new_embeddings, new_cut_features
                damping = damping / 3 if ratio > 0.75 else damping * 2 if ratio < 0.25 else damping
                log.debug("evaluation %d accepted: objective %.4f (gain ratio %.2f)", evaluation + 1, value, ratio)
            else:
                damping *= 10
                log.debug("evaluation %d rejected: %.4f >= %.4f; damping %.1e", evaluation + 1, value, current, damping)
            problem = LinearProblem(scores, jacobian, hi, lo)
            tracker.loss = float(indexed_pair_loss(scores, hi, lo))
            report(progress, "training", tracker.done, tracker.total, tracker.loss)
        final = alpha.reshape(shape).float()
        linearised_at = alpha
        if options.head_refit:
            check(cancel)

            def prior_term(coefficients: torch.Tensor) -> torch.Tensor:  # the objective's other half
                return ridge * (coefficients - prior).square().sum()

            refit = refit_head(model, embeddings, final, hi, lo, prior_term, options.cv_folds, config.seed)
            if refit is not None:
                final, scores = refit.alpha, refit.scores
                tracker.loss = float(indexed_pair_loss(scores, hi, lo))
        return SolverOutput(
            final.to(model.device),
            evaluations,
            tracker.loss,
            final_scores=scores,
            agreement=agreement,
            cut_features=cut_features,  # still valid after the head refit, which changes only layers above it
            fold_coefficients=fold_coefficients(problem, linearised_at, prior, ridge, final, run.fold_init),
        )


def _init_only(run: SolverRun) -> SolverOutput:
    """The adaptive init as the coefficients (FastOptions.init_only_below): one forward for its scores and the
    top's input, and each agreement fold's tuning starts from the init of its own photos' answers, so the
    estimate does not see the held-out answers."""
    model, images, init, config = run.model, run.images, run.init, run.config
    k = images.shape[0]
    tracker = PassProgress(run.progress, k)
    with recording(run.tap) as tapped:
        scores = score_images(model, images, init, run.counter, config.score_batch(model), run.cancel).cpu()
    tracker.add(k)
    hi, lo = ordered_pairs(run.judgements, config.seed)
    loss = float(indexed_pair_loss(scores, hi, lo))
    fold_init = run.fold_init

    def fold_coefficients(rows: torch.Tensor) -> torch.Tensor:
        return init if fold_init is None else fold_init(pair_photos(hi, lo, rows)).to(init.device)

    return SolverOutput(
        init,
        0,
        loss,
        final_scores=scores,
        cut_features=torch.cat(tapped) if tapped else None,
        fold_coefficients=fold_coefficients,
    )


SOLVER = GaussNewtonSolver()
