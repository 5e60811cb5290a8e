"""The paper's few-shot protocol, with baselines, pass counts and wall time per method.

Per user and trial, K rated photos are drawn as the support set and every other photo of that
user is the test set. Each method sees only the support set; the final model is scored once on
the test set (never a checkpoint picked by test score). Results are the mean SROCC over users,
± the standard deviation over trials of that mean, as the paper quotes them.

Methods: ``best single task`` (the task model with the best zero-shot SROCC on the support set),
``uniform mix`` (every coefficient 1/n), ``adaptive init`` (the paper's softmax init, no training),
and each requested solver.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import torch

from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.metrics import srocc
from aesthetic_curator.engine.personalize import (
    SOLVERS,
    PersonalizeConfig,
    adaptive_init,
    personalize,
    score_images,
)
from aesthetic_curator.errors import RatingsError
from aesthetic_curator.progress import CancelToken, ProgressCallback, check, report

log = logging.getLogger(__name__)

BASELINES = ("best single task", "uniform mix", "adaptive init")


@dataclass
class EvalUser:
    name: str
    images: torch.Tensor  # preprocessed [N, 3, H, W]
    ratings: torch.Tensor  # [N]


@dataclass
class MethodResult:
    """One method at one K: SROCC per trial and per user, passes and seconds per run."""

    method: str
    k: int
    per_trial: list[float] = field(default_factory=list)  # mean over users, one per trial
    per_user: dict[str, list[float]] = field(default_factory=dict)  # user -> SROCC per trial
    passes: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.per_trial) if self.per_trial else float("nan")

    @property
    def std(self) -> float:
        return statistics.pstdev(self.per_trial) if len(self.per_trial) > 1 else 0.0

    @property
    def mean_passes(self) -> float:
        return statistics.fmean(self.passes) if self.passes else 0.0

    @property
    def mean_seconds(self) -> float:
        return statistics.fmean(self.seconds) if self.seconds else 0.0


@dataclass
class EvalReport:
    shots: list[int]
    trials: int
    solvers: list[str]
    users: list[str]
    results: dict[int, dict[str, MethodResult]]  # K -> method -> result
    settings: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        out = {"shots": self.shots, "trials": self.trials, "solvers": self.solvers, "users": self.users}
        out["settings"] = self.settings
        out["results"] = {
            str(k): {
                name: asdict(r) | {"mean": r.mean, "std": r.std, "mean_passes": r.mean_passes}
                for name, r in methods.items()
            }
            for k, methods in self.results.items()
        }
        return out

    def table(self) -> str:
        lines = [
            "| K | method | SROCC (mean over users ± std over trials) | passes per run | seconds per run |",
            "|---|---|---|---|---|",
        ]
        for k, methods in self.results.items():
            for name, r in methods.items():
                lines.append(
                    f"| {k} | {name} | {r.mean:.3f} ± {r.std:.3f} | {r.mean_passes:,.0f} | {r.mean_seconds:.2f} |"
                )
        return "\n".join(lines)


def draw_support(ratings: torch.Tensor, k: int, generator: torch.Generator, tries: int = 20) -> torch.Tensor | None:
    """A random support set of ``k`` photos with at least two different ratings (None if none is found)."""
    for _ in range(tries):
        order = torch.randperm(ratings.numel(), generator=generator)
        if torch.unique(ratings[order[:k]]).numel() >= 2:
            return order
    return None


def evaluate(
    model: MergedScorer,
    users: Sequence[EvalUser],
    shots: Sequence[int],
    trials: int,
    solvers: Sequence[str],
    base_config: PersonalizeConfig | None = None,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> EvalReport:
    """Run the protocol; a user with too few photos for some K (K + 2 needed) is left out of that K."""
    for name in solvers:
        if name not in SOLVERS:
            raise RatingsError(f"unknown solver '{name}' (available: {', '.join(SOLVERS)})")
    base_config = base_config or PersonalizeConfig()
    methods = [*BASELINES, *solvers]
    results = {k: {m: MethodResult(m, k) for m in methods} for k in shots}
    total = len(users) * len(shots) * trials
    done = 0
    for user_index, user in enumerate(users):
        images, ratings = user.images.to(model.device), user.ratings.float()
        task_scores = [score_images(model, images, model.one_hot(t)).cpu() for t in range(model.n_tasks)]
        uniform = score_images(model, images, torch.full_like(model.alpha, 1 / model.n_tasks)).cpu()
        for k in shots:
            if ratings.numel() < k + 2:
                log.warning("user %s has %d photos: too few for K = %d, left out", user.name, ratings.numel(), k)
                done += trials
                continue
            for trial in range(trials):
                check(cancel)
                generator = torch.Generator().manual_seed(seed * 1_000_003 + user_index * 10_007 + k * 101 + trial)
                order = draw_support(ratings, k, generator)
                if order is None:
                    log.warning("user %s: no support set of %d with two different ratings", user.name, k)
                    continue
                support, test = order[:k], order[k:]
                values = _run_trial(
                    model, images, ratings, support, test, task_scores, uniform, solvers, base_config, trial
                )
                for method, (value, passes, seconds) in values.items():
                    result = results[k][method]
                    result.per_user.setdefault(user.name, []).append(value)
                    result.passes.append(passes)
                    result.seconds.append(seconds)
                done += 1
                report(progress, "evaluating", done, total)
    for methods in results.values():
        for result in methods.values():
            by_trial: dict[int, list[float]] = {}
            for values in result.per_user.values():
                for trial, value in enumerate(values):
                    by_trial.setdefault(trial, []).append(value)
            result.per_trial = [statistics.fmean(v) for _, v in sorted(by_trial.items())]
    settings = {"seed": seed, "config": asdict(base_config)}
    return EvalReport(list(shots), trials, list(solvers), [u.name for u in users], results, settings)


def _run_trial(
    model: MergedScorer,
    images: torch.Tensor,
    ratings: torch.Tensor,
    support: torch.Tensor,
    test: torch.Tensor,
    task_scores: list[torch.Tensor],
    uniform: torch.Tensor,
    solvers: Sequence[str],
    base_config: PersonalizeConfig,
    trial: int,
) -> dict[str, tuple[float, int, float]]:
    """SROCC on the test photos, passes and seconds of every method for one support draw."""
    y_support, y_test = ratings[support], ratings[test]
    n_tasks, k = model.n_tasks, support.numel()
    zero_shot = [srocc(s[support].numpy(), y_support.numpy()) for s in task_scores]
    best = max(range(n_tasks), key=lambda t: zero_shot[t])
    out = {
        "best single task": (srocc(task_scores[best][test].numpy(), y_test.numpy()), n_tasks * k, 0.0),
        "uniform mix": (srocc(uniform[test].numpy(), y_test.numpy()), 0, 0.0),
    }
    init = adaptive_init(zero_shot, model.n_layers, base_config.temperature).to(model.device)
    init_scores = score_images(model, images[test.to(images.device)], init).cpu()
    out["adaptive init"] = (srocc(init_scores.numpy(), y_test.numpy()), n_tasks * k, 0.0)
    for name in solvers:
        config = replace(base_config, solver=name, seed=trial)
        started = time.perf_counter()
        result = personalize(model, images[support.to(images.device)], y_support.tolist(), config)
        seconds = time.perf_counter() - started
        scores = score_images(model, images[test.to(images.device)], result.alpha.to(model.device)).cpu()
        out[name] = (srocc(scores.numpy(), y_test.numpy()), result.passes.total, seconds)
    return out
