"""The paper's few-shot protocol, with baselines, pass counts and wall time per method.

Per user and trial, K rated photos are drawn as the support set and every other photo of that
user is the test set. Each method sees only the support set; the final model is scored once on
the test set (never a checkpoint picked by test score). Results are the mean SROCC over users,
± the standard deviation over trials of that mean, as the paper quotes them.

Methods: ``best single task`` (the task model with the best zero-shot SROCC on the support set),
``uniform mix`` (every coefficient 1/n), ``adaptive init`` (the paper's softmax init, no training),
each requested solver, and on request the practitioner's baselines of :mod:`baselines` (a linear
probe on frozen features, fine-tuning the best task's model).
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace

import torch

from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.metrics import srocc
from aesthetic_curator.engine.personalize import (
    PersonalizeConfig,
    adaptive_init,
    personal_scores,
    personalize,
    score_images,
)
from aesthetic_curator.engine.solvers import get_solver, split_variant
from aesthetic_curator.errors import RatingsError
from aesthetic_curator.evaluation.baselines import (
    BASELINE_METHODS,
    BEST_FIT_FT,
    PROBE,
    FineTuneConfig,
    best_fit_finetune,
    frozen_features,
    linear_probe_scores,
    scorer_scores,
)
from aesthetic_curator.evaluation.user_processes import evaluate_in_processes
from aesthetic_curator.progress import CancelToken, ProgressCallback, check, report

log = logging.getLogger(__name__)

BASELINES = ("best single task", "uniform mix", "adaptive init")


#: One trial's results: K, then method -> (test SROCC, passes, seconds).
TrialResult = tuple[int, dict[str, tuple[float, int, float]]]
#: One user's run: its trials' results and each task's zero-shot SROCC over all its photos.
UserRun = tuple[list[TrialResult], dict[str, float]]


@dataclass
class EvalUser:
    name: str
    images: torch.Tensor  # preprocessed [N, 3, H, W]
    ratings: torch.Tensor  # [N]
    noise: torch.Tensor | None = None  # [N] per-image sd of one rater's opinion, where the data has it


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
    zero_shot: dict[str, dict[str, float]] = field(default_factory=dict)  # user -> task -> SROCC on all photos
    # Every finished user's raw results by position, what a resumed run starts from (:func:`saved_runs`).
    runs: dict[int, UserRun] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return len(self.runs) == len(self.users)

    def to_json(self) -> dict:
        out = {"shots": self.shots, "trials": self.trials, "solvers": self.solvers, "users": self.users}
        out["complete"] = self.complete
        out["users_done"] = len(self.runs)
        out["settings"] = self.settings
        out["zero_shot"] = self.zero_shot
        out["runs"] = {
            str(index): {"user": self.users[index], "rows": rows, "zero_shot": zero_shot}
            for index, (rows, zero_shot) in sorted(self.runs.items())
        }
        out["results"] = {
            str(k): {
                name: asdict(r) | {"mean": r.mean, "std": r.std, "mean_passes": r.mean_passes}
                for name, r in methods.items()
            }
            for k, methods in self.results.items()
        }
        return out

    def zero_shot_table(self) -> str:
        """Each task model alone against each user, over all of that user's photos (no support draw)."""
        if not self.zero_shot:
            return ""
        tasks = list(next(iter(self.zero_shot.values())))
        lines = ["| user | " + " | ".join(tasks) + " |", "|---|" + "---|" * len(tasks)]
        for user, values in self.zero_shot.items():
            lines.append(f"| {user} | " + " | ".join(f"{values[t]:.3f}" for t in tasks) + " |")
        return "\n".join(lines)

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
    jobs: int = 1,
    baselines: Sequence[str] = (),
    finetune: FineTuneConfig | None = None,
    finished: Mapping[int, UserRun] | None = None,
    on_user: Callable[[EvalReport], None] | None = None,
    first_trial: int = 0,
) -> EvalReport:
    """Run the protocol; a user with too few photos for some K (K + 2 needed) is left out of that K.

    With ``jobs`` > 1 the users are spread over that many CPU processes. Every draw depends only on
    the seed, the user's position and K, so the report is the same as with one process (given the
    same torch thread count per process: floating-point sums may round differently otherwise).
    Long runs survive being stopped: ``on_user`` gets the report of the users done so far each time
    one finishes (the CLI saves it), and ``finished`` (from :func:`saved_runs`) skips users already done.
    ``first_trial`` numbers the trials from there: trials 3-4 of a 10-trial table draw exactly what that
    table's trials 3-4 drew, so a column too slow for one sitting can be run in pieces and paired later.
    """
    if first_trial < 0:
        raise RatingsError("the first trial must be 0 or more")
    for spec in solvers:
        variant_config(spec, base_config or PersonalizeConfig(), 0)  # an unknown name or setting fails here
    if jobs > 1 and model.device.type != "cpu":
        raise RatingsError("parallel evaluation (jobs > 1) runs on CPU processes; use the CPU device or one job")
    for name in baselines:
        if name not in BASELINE_METHODS:
            raise RatingsError(f"unknown baseline '{name}' (available: {', '.join(BASELINE_METHODS)})")
    protocol = _Protocol(
        list(shots),
        trials,
        list(solvers),
        base_config or PersonalizeConfig(),
        seed,
        list(baselines),
        finetune,
        first_trial,
    )
    runs: dict[int, UserRun] = {i: run for i, run in (finished or {}).items() if 0 <= i < len(users)}
    pending = [i for i in range(len(users)) if i not in runs]
    total = len(users) * len(shots) * trials
    done = len(runs) * len(shots) * trials

    def on_trials(count: int) -> None:
        nonlocal done
        done += count
        report(progress, "evaluating", done, total)

    def user_done(user_index: int, run: UserRun) -> None:
        runs[user_index] = run
        if on_user is not None:
            on_user(_summarize(protocol, users, runs))

    if runs:
        log.info("resuming: %d of %d users already evaluated", len(runs), len(users))
        report(progress, "evaluating", done, total)
    if jobs > 1 and len(pending) > 1:
        evaluate_in_processes(model, users, pending, protocol, jobs, cancel, on_trials, user_done)
    else:
        for i in pending:
            user_done(i, protocol.evaluate_user(model, i, users[i], cancel, on_trials))
    return _summarize(protocol, users, runs)


def saved_runs(saved: Mapping, users: Sequence[EvalUser]) -> dict[int, UserRun]:
    """The finished users of a report saved by :meth:`EvalReport.to_json`, to resume its run.

    Only the caller knows whether the saved run had the same settings; this checks that every saved user
    sits at the same position under the same name, since each draw depends on the user's position.
    """
    runs: dict[int, UserRun] = {}
    for key, entry in saved.get("runs", {}).items():
        index = int(key)
        if index >= len(users) or users[index].name != entry["user"]:
            raise RatingsError(
                f"the saved results have user '{entry['user']}' at position {index + 1}, which this run does not"
            )
        rows = [
            (int(k), {method: (float(v), int(p), float(t)) for method, (v, p, t) in values.items()})
            for k, values in entry["rows"]
        ]
        runs[index] = (rows, dict(entry["zero_shot"]))
    return runs


def _summarize(protocol: _Protocol, users: Sequence[EvalUser], runs: Mapping[int, UserRun]) -> EvalReport:
    """The report of the users in ``runs`` (all of them, or those done so far)."""
    shots, trials, solvers, baselines = protocol.shots, protocol.trials, protocol.solvers, protocol.baselines
    methods = [*BASELINES, *baselines, *solvers]
    results = {k: {m: MethodResult(m, k) for m in methods} for k in shots}
    for user_index in sorted(runs):  # in user order, whatever order the processes finished in
        for k, values in runs[user_index][0]:
            for method, (value, passes, seconds) in values.items():
                result = results[k][method]
                result.per_user.setdefault(users[user_index].name, []).append(value)
                result.passes.append(passes)
                result.seconds.append(seconds)
    for methods_at_k in results.values():
        for result in methods_at_k.values():
            by_trial: dict[int, list[float]] = {}
            for values in result.per_user.values():
                for trial, value in enumerate(values):
                    by_trial.setdefault(trial, []).append(value)
            result.per_trial = [statistics.fmean(v) for _, v in sorted(by_trial.items())]
    zero_shot = {}
    for index in sorted(runs):
        zero_shot[users[index].name] = runs[index][1]
    settings = {"seed": protocol.seed, "config": asdict(protocol.base_config)}
    if protocol.first_trial:
        settings["first_trial"] = protocol.first_trial
    if BEST_FIT_FT in baselines:
        settings["best_fit_finetune"] = asdict(protocol.finetune or FineTuneConfig())
    names = [u.name for u in users]
    return EvalReport(list(shots), trials, list(solvers), names, results, settings, zero_shot, dict(runs))


def variant_config(spec: str, base_config: PersonalizeConfig, trial: int) -> PersonalizeConfig:
    """The config of one ``--solver`` entry: a solver name, or a variant such as ``fast:evaluations=2``.

    A setting every solver shares (``tune_top``, ``top_steps``, ``temperature``…) changes the config; any
    other is one of the solver's own options.
    """
    name, overrides = split_variant(spec)
    solver = get_solver(name)
    shared = {f.name for f in fields(PersonalizeConfig)} - {"solver", "options", "seed"}
    config = replace(
        base_config, solver=name, seed=trial, **{key: value for key, value in overrides.items() if key in shared}
    )
    overrides = {key: value for key, value in overrides.items() if key not in shared}
    if overrides:
        try:
            options = replace(solver.options(config), **overrides)
        except TypeError as error:
            raise RatingsError(f"'{spec}': {error}") from None
        config = replace(config, options={**config.options, name: options})
    return config


@dataclass
class _Protocol:
    """What every user is put through; picklable, so worker processes get the same settings."""

    shots: list[int]
    trials: int
    solvers: list[str]
    base_config: PersonalizeConfig
    seed: int
    baselines: list[str] = field(default_factory=list)
    finetune: FineTuneConfig | None = None
    first_trial: int = 0
    # Users over the same photos (columns of one table) share one image tensor; what depends only on
    # the photos is computed once per tensor.
    _per_photo_set: dict = field(default_factory=dict, repr=False)

    def _photo_set(self, model: MergedScorer, images: torch.Tensor) -> dict:
        key = (images.data_ptr(), tuple(images.shape))
        if key not in self._per_photo_set:
            self._per_photo_set.clear()  # users come grouped by photo set: keep one at a time
            on_device = images.to(model.device)
            entry = {
                "task_scores": [score_images(model, on_device, model.one_hot(t)).cpu() for t in range(model.n_tasks)],
                "uniform": score_images(model, on_device, torch.full_like(model.alpha, 1 / model.n_tasks)).cpu(),
            }
            if PROBE in self.baselines:
                entry["features"] = frozen_features(model, images)
            self._per_photo_set[key] = entry
        return self._per_photo_set[key]

    def evaluate_user(
        self,
        model: MergedScorer,
        user_index: int,
        user: EvalUser,
        cancel: CancelToken | None,
        on_trials: Callable[[int], None],
    ) -> UserRun:
        """Every K and trial of one user, and each task's zero-shot SROCC over all the user's photos;
        the draws depend only on the seed, ``user_index``, K and the trial."""
        images, ratings = user.images.to(model.device), user.ratings.float()
        shared = self._photo_set(model, user.images)
        task_scores, uniform = shared["task_scores"], shared["uniform"]
        zero_shot = {
            name: round(srocc(scores.numpy(), ratings.numpy()), 4)
            for name, scores in zip(model.task_names, task_scores)
        }
        rows: list[TrialResult] = []
        for k in self.shots:
            if ratings.numel() < k + 2:
                log.warning("user %s has %d photos: too few for K = %d, left out", user.name, ratings.numel(), k)
                on_trials(self.trials)
                continue
            for trial in range(self.first_trial, self.first_trial + self.trials):
                check(cancel)
                generator = torch.Generator().manual_seed(self.seed * 1_000_003 + user_index * 10_007 + k * 101 + trial)
                order = draw_support(ratings, k, generator)
                if order is None:
                    log.warning("user %s: no support set of %d with two different ratings", user.name, k)
                else:
                    support, test = order[:k], order[k:]
                    values = _run_trial(
                        model,
                        images,
                        ratings,
                        support,
                        test,
                        task_scores,
                        uniform,
                        self.solvers,
                        self.base_config,
                        trial,
                        self.baselines,
                        self.finetune or FineTuneConfig(),
                        shared.get("features"),
                    )
                    rows.append((k, values))
                on_trials(1)
        return rows, zero_shot


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
    baselines: Sequence[str] = (),
    finetune: FineTuneConfig | None = None,
    features: torch.Tensor | None = None,
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
    if PROBE in baselines and features is not None:
        started = time.perf_counter()
        probe = linear_probe_scores(features, support, ratings, seed=trial)
        out[PROBE] = (srocc(probe[test].numpy(), y_test.numpy()), k, time.perf_counter() - started)
    if BEST_FIT_FT in baselines:
        started = time.perf_counter()
        tuned, passes = best_fit_finetune(
            model, best, images[support.to(images.device)], y_support, finetune or FineTuneConfig(), seed=trial
        )
        seconds = time.perf_counter() - started
        tuned_scores = scorer_scores(tuned, images[test.to(images.device)])
        out[BEST_FIT_FT] = (srocc(tuned_scores.numpy(), y_test.numpy()), n_tasks * k + passes, seconds)
    for name in solvers:
        config = variant_config(name, base_config, trial)
        started = time.perf_counter()
        result = personalize(model, images[support.to(images.device)], y_support.tolist(), config)
        seconds = time.perf_counter() - started
        scores = personal_scores(model, images[test.to(images.device)], result)
        out[name] = (srocc(scores.numpy(), y_test.numpy()), result.passes.total, seconds)
    return out
