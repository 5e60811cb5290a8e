"""Learning curves: how fast each way of asking the user teaches the app their taste.

``aesthetic-curator eval --protocol learning-curve``. For every user and trial, a seeded 30 % of the
user's photos is held out as the test set and the rest is the "album". A simulated person answers from
the user's hidden scores (a dataset's mean opinion scores, or a synthetic user's taste) with the noise of
the real data where it is known: every answer perceives photo i as ``hidden_i + sd_i * N(0, 1)``, drawn
afresh per answer, where ``sd_i`` is the published per-image standard deviation of the raters (LIVE-C,
PARA's attributes); where none is published the answers are noiseless. Stars are the perceived score cut
at the album's star quantiles (10/30/65/90 %: most photos in the middle).

Strategies, each at 10, 20, 50, 100 answers (an answer is one star rating or one comparison):

- ``random stars``: photos drawn at random, rated with stars;
- ``suggested stars``: the photos the app's Suggest would pick (farthest-point on appearance);
- ``random pairs``: "A or B?" questions on pairs drawn at random, only spread over the album as the active
  rule's are (the baseline that shows what choosing the pairs adds);
- ``active pairs``: "A or B?" questions chosen by :mod:`pair_selection`, in batches: each pair's expected
  information about the taste, given the answers so far and (after the first batch) the profile learned
  from them (re-learned at every point of the curve);
- ``half stars then active pairs``: half the answers random stars, then the other half active pairs chosen
  with the profile learned from those stars.

Measured at each point: the test SROCC of the learned profile against the hidden scores, and the
calibration of the profile's own agreement estimate (engine.agreement) against its measured agreement
with fresh noisy judgements of the same kind about the test photos: for stars, every strictly ordered
pair of fresh star ratings of the test photos; for comparisons, fresh answers to random test pairs; for
a mix, both weighted by the number of answers of each kind. That measured value comes from a few dozen
test photos and has its own standard error (a jackknife over the test photos); the calibration table
counts runs within the estimate's ± alone, as the app shows it, and within the combined ± of the two
(what a calibrated estimate should meet about two thirds of the time).
"""

from __future__ import annotations

import logging
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from aesthetic_curator import pair_selection
from aesthetic_curator.engine.judgements import Judgements
from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.metrics import srocc
from aesthetic_curator.engine.personalize import (
    PersonalizationResult,
    PersonalizeConfig,
    personal_scores,
    personalize,
    score_images,
)
from aesthetic_curator.errors import RatingsError
from aesthetic_curator.evaluation import CURVE_STRATEGIES
from aesthetic_curator.evaluation.synthetic_users import STAR_QUANTILES
from aesthetic_curator.progress import CancelToken, ProgressCallback, check, report

log = logging.getLogger(__name__)

STRATEGIES = CURVE_STRATEGIES
DEFAULT_ANSWERS = (10, 20, 50, 100)
#: Share of each user's photos held out as the test set.
TEST_SHARE = 0.3
#: Fresh noisy test pairs the measured agreement is computed on.
TEST_PAIRS = 2000
#: Photos in each pool active pairs are chosen from.
POOL = 48


@dataclass
class CurveUser:
    """A user as the simulation sees them: photos, hidden scores, and the noise of each answer."""

    name: str
    images: torch.Tensor  # preprocessed [N, 3, H, W]
    hidden: torch.Tensor  # [N] the user's true scores
    noise: torch.Tensor  # [N] per-image standard deviation of one answer (0: noiseless)
    group: str = "real"  # "real" (human judgements) or "synthetic"


@dataclass
class CurvePoint:
    """One strategy at one number of answers, over users and trials."""

    strategy: str
    answers: int
    srocc: dict[str, list[float]] = field(default_factory=dict)  # user -> test SROCC per trial
    estimated: list[float] = field(default_factory=list)  # the profile's agreement estimate, per run
    error: list[float] = field(default_factory=list)  # its ±
    measured: list[float] = field(default_factory=list)  # agreement with fresh answers on test photos
    measured_error: list[float] = field(default_factory=list)  # its standard error over the test photos
    #: Test SROCC of the profile's earlier stages, per user and trial as ``srocc``: which stage gains or loses
    #: ("init": the adaptive init's coefficients; "coefficients": the learned ones without the top's change).
    stages: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def mean(self, users: Sequence[str]) -> float:
        """Mean over the users of their mean over trials."""
        return _user_mean(self.srocc, users)

    def spread(self, users: Sequence[str]) -> float:
        """Standard deviation over trials of the mean over ``users``."""
        per_trial = [v for v in zip(*(self.srocc[u] for u in users if self.srocc.get(u)))]
        means = [statistics.fmean(t) for t in per_trial]
        return statistics.pstdev(means) if len(means) > 1 else 0.0

    def calibration(self) -> dict[str, float]:
        """Mean estimate, measured value, |difference|, ± and the share of runs within their ± (the
        estimate's alone, and combined with the measured value's standard error)."""
        if not self.estimated:
            return {}
        gaps = [abs(e - m) for e, m in zip(self.estimated, self.measured)]
        within = [g <= s for g, s in zip(gaps, self.error)]
        combined = [math.hypot(s, t) for s, t in zip(self.error, self.measured_error)]
        within_both = [g <= c for g, c in zip(gaps, combined)]
        return {
            "estimated": statistics.fmean(self.estimated),
            "measured": statistics.fmean(self.measured),
            "gap": statistics.fmean(gaps),
            "error": statistics.fmean(self.error),
            "within": sum(within) / len(within),
            "measured_error": statistics.fmean(self.measured_error) if self.measured_error else math.nan,
            "within_both": sum(within_both) / len(within_both) if within_both else math.nan,
        }


def _user_mean(by_user: dict[str, list[float]], users: Sequence[str]) -> float:
    """Mean over ``users`` of each one's mean over trials (NaN when none has a value)."""
    values = [statistics.fmean(by_user[u]) for u in users if by_user.get(u)]
    return statistics.fmean(values) if values else math.nan


#: The stages of a profile the learning curve measures besides the profile as kept (``CurvePoint.stages``).
STAGES = ("init", "coefficients")


@dataclass
class CurveReport:
    answers: list[int]
    trials: int
    strategies: list[str]
    users: dict[str, str]  # name -> group
    points: dict[str, dict[int, CurvePoint]]  # strategy -> answers -> point

    def table(self, group: str | None = None) -> str:
        names = [u for u, g in self.users.items() if group is None or g == group]
        header = "| strategy | " + " | ".join(f"{n} answers" for n in self.answers) + " |"
        lines = [header, "|---|" + "---|" * len(self.answers)]
        for strategy in self.strategies:
            cells = []
            for n in self.answers:
                point = self.points[strategy][n]
                cells.append(f"{point.mean(names):.3f} ± {point.spread(names):.3f}")
            lines.append(f"| {strategy} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def stage_table(self) -> str:
        """Test SROCC after each stage of the profile (all users): the adaptive init, the learned
        coefficients, and the profile as kept (with the top's change, where it is tuned)."""
        names = list(self.users)
        lines = ["| strategy | answers | init | coefficients | as kept |", "|---|---|---|---|---|"]
        for strategy in self.strategies:
            for n in self.answers:
                point = self.points[strategy][n]
                if point.stages:
                    stages = [_user_mean(point.stages.get(stage, {}), names) for stage in STAGES]
                    cells = " | ".join(f"{v:.3f}" for v in (*stages, point.mean(names)))
                    lines.append(f"| {strategy} | {n} | {cells} |")
        return "\n".join(lines)

    def calibration_table(self) -> str:
        lines = [
            "| strategy | answers | estimated agreement | measured on test photos | mean gap | mean ± "
            "| runs within ± | measured's ± | runs within both ± |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for strategy in self.strategies:
            for n in self.answers:
                c = self.points[strategy][n].calibration()
                if c:
                    lines.append(
                        f"| {strategy} | {n} | {c['estimated']:.3f} | {c['measured']:.3f} | {c['gap']:.3f} | "
                        f"{c['error']:.3f} | {100 * c['within']:.0f} % | {c['measured_error']:.3f} | "
                        f"{100 * c['within_both']:.0f} % |"
                    )
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "answers": self.answers,
            "trials": self.trials,
            "strategies": self.strategies,
            "users": self.users,
            "points": {s: {str(n): asdict(p) for n, p in by_n.items()} for s, by_n in self.points.items()},
        }


def leave_one_photo_out(scores: torch.Tensor, better: torch.Tensor, worse: torch.Tensor, n: int) -> torch.Tensor:
    """[1 + n]: the share of (better, worse) pairs that ``scores`` order right (a tie half), over all pairs,
    then without the pairs of each photo 0..n-1 in turn (0.5 where nothing is left)."""
    margin = scores[better] - scores[worse]
    right = (margin > 0).double() + 0.5 * (margin == 0).double()
    count = torch.bincount(better, minlength=n).double() + torch.bincount(worse, minlength=n).double()
    count_right = torch.bincount(better, right, minlength=n) + torch.bincount(worse, right, minlength=n)
    totals = torch.cat([torch.tensor([float(margin.numel())]), margin.numel() - count])
    rights = torch.cat([right.sum().reshape(1), right.sum() - count_right])
    return torch.where(totals > 0, rights / totals.clamp(min=1), torch.full_like(totals, 0.5))


def jackknife_error(left_out: torch.Tensor) -> float:
    """The jackknife standard error of a statistic from its values with each photo left out in turn."""
    n = left_out.numel()
    if n < 2:
        return 0.0
    return math.sqrt((n - 1) / n * float(((left_out - left_out.mean()) ** 2).sum()))


def appearance(images: torch.Tensor) -> np.ndarray:
    """[N, 48] colour layout of each photo (4 x 4 x RGB), what Suggest and the spread rule compare."""
    return F.adaptive_avg_pool2d(images.float().cpu(), 4).flatten(1).numpy()


class _Person:
    """Answers as the user would, each answer with fresh noise."""

    def __init__(self, user: CurveUser, album: torch.Tensor, generator: torch.Generator) -> None:
        self.hidden, self.noise, self.generator = user.hidden.double(), user.noise.double(), generator
        self.cuts = torch.quantile(self.hidden[album], torch.tensor(STAR_QUANTILES, dtype=torch.float64))

    def perceive(self, photos: torch.Tensor) -> torch.Tensor:
        return self.hidden[photos] + self.noise[photos] * torch.randn(photos.numel(), generator=self.generator).double()

    def stars(self, photos: torch.Tensor) -> list[float]:
        return (torch.bucketize(self.perceive(photos), self.cuts, right=True) + 1).double().tolist()

    def choose(self, a: int, b: int) -> tuple[int, int]:
        """(better, worse) as this person sees them now."""
        seen = self.perceive(torch.tensor([a, b]))
        return (a, b) if seen[0] > seen[1] else (b, a)


class _Trial:
    """One user, one trial: the album/test split, the person, and learning from what was answered."""

    def __init__(self, model, user, task_scores, config, trial, seed, cancel) -> None:
        self.model, self.user, self.task_scores, self.config, self.cancel = model, user, task_scores, config, cancel
        n = user.hidden.numel()
        self.generator = torch.Generator().manual_seed(seed * 1_000_003 + trial)
        order = torch.randperm(n, generator=self.generator)
        n_test = max(10, int(TEST_SHARE * n))
        self.test, self.album = order[:n_test], order[n_test:]
        self.person = _Person(user, self.album, self.generator)
        self.features = appearance(user.images)
        self.random_order = self.album[torch.randperm(self.album.numel(), generator=self.generator)]
        first = int(torch.randint(self.album.numel(), (), generator=self.generator))
        spread = pair_selection.spread_out(self.features[self.album.numpy()], self.album.numel(), first=first)
        self.suggested_order = self.album[torch.tensor(spread)]
        a, b = self.test[torch.randint(n_test, (2, TEST_PAIRS), generator=self.generator)]
        a, b = a[a != b], b[a != b]
        first_wins = self.person.perceive(a) > self.person.perceive(b)
        self.test_choices = (torch.where(first_wins, a, b), torch.where(first_wins, b, a))
        test_stars = torch.tensor(self.person.stars(self.test))
        better, worse = (test_stars[:, None] > test_stars[None, :]).nonzero(as_tuple=True)
        self.test_star_pairs = (self.test[better], self.test[worse])

    def learn(self, stars: dict[int, float], pairs: list[tuple[int, int]]):
        """Personalize on the answers (photo indices of the user) and return the result."""
        photos = list(stars) + list(dict.fromkeys(p for pair in pairs for p in pair if p not in stars))
        index = {p: i for i, p in enumerate(photos)}
        judgements = Judgements.build([stars.get(p) for p in photos], [(index[a], index[b]) for a, b in pairs])
        chosen = torch.tensor(photos)
        result = personalize(
            self.model, self.user.images[chosen], judgements, self.config, cancel=self.cancel,
            task_scores=self.task_scores[chosen],
        )  # fmt: skip
        return result

    def scores(self, result: PersonalizationResult, photos: torch.Tensor) -> torch.Tensor:
        return personal_scores(self.model, self.user.images[photos], result, cancel=self.cancel)

    def measure(self, point: CurvePoint, result, stars: int, pairs: int) -> None:
        """Test SROCC, and the agreement estimate against fresh judgements like the ``stars`` and ``pairs`` given."""
        scores = torch.zeros(self.user.hidden.numel(), dtype=torch.float64)
        scores[self.test] = self.scores(result, self.test).double()
        value = srocc(scores[self.test].numpy(), self.user.hidden[self.test].numpy())
        point.srocc.setdefault(self.user.name, []).append(value)
        for stage, alpha in zip(STAGES, (result.init_alpha, result.alpha)):
            staged = score_images(self.model, self.user.images[self.test], alpha, cancel=self.cancel).double()
            by_user = point.stages.setdefault(stage, {})
            by_user.setdefault(self.user.name, []).append(srocc(staged.numpy(), self.user.hidden[self.test].numpy()))
        if result.agreement is not None:
            n = self.user.hidden.numel()
            star_share = leave_one_photo_out(scores, *self.test_star_pairs, n)
            choice_share = leave_one_photo_out(scores, *self.test_choices, n)
            mixed = (stars * star_share + pairs * choice_share) / (stars + pairs)  # [all, then without each]
            point.estimated.append(result.agreement.value)
            point.error.append(result.agreement.error)
            point.measured.append(float(mixed[0]))
            point.measured_error.append(jackknife_error(mixed[1:][self.test]))

    def ask_pairs(
        self,
        count: int,
        learned: PersonalizationResult | None,
        asked: list[tuple[int, int]],
        active: bool = True,
        star_pairs: Sequence[tuple[int, int]] = (),
    ) -> list[tuple[int, int]]:
        """``count`` more answered pairs by the active rule (or, not ``active``, by the spread over the album
        alone: the baseline the rule must beat), from fresh pools of the album until there are enough.
        ``star_pairs`` (better, worse) are what the stars given so far say, which the rule counts as known."""
        answered: list[tuple[int, int]] = []
        known = list(asked)
        features = pair_selection.standardized(self.task_scores.double().numpy(), self.task_scores[self.album].numpy())
        scores = None
        if learned is not None and active:
            scores = np.zeros(self.user.hidden.numel())
            scores[self.album.numpy()] = self.scores(learned, self.album).double().numpy()
        for _ in range(20):  # each pool gives at most POOL / 2 questions
            if len(answered) >= count:
                break
            pool = self.album[torch.randperm(self.album.numel(), generator=self.generator)[:POOL]]
            information = np.ones((len(pool), len(pool)))
            if active:
                judged = np.array(known + list(star_pairs), dtype=int).reshape(-1, 2)
                precision = pair_selection.answered_precision(features, judged[:, 0], judged[:, 1], scores)
                pool_scores = scores[pool.numpy()] if scores is not None else None
                information = pair_selection.expected_information(features[pool.numpy()], precision, pool_scores)
            where = {int(p): i for i, p in enumerate(pool)}
            seen = [(where[a], where[b]) for a, b in known if a in where and b in where]
            chosen = pair_selection.choose_pairs(information, self.features[pool.numpy()], count - len(answered), seen)
            for i, j in chosen:
                pair = self.person.choose(int(pool[i]), int(pool[j]))
                answered.append(pair)
                known.append(pair)
        return answered


def learning_curves(
    model: MergedScorer,
    users: Sequence[CurveUser],
    answers: Sequence[int] = DEFAULT_ANSWERS,
    trials: int = 3,
    strategies: Sequence[str] = STRATEGIES,
    config: PersonalizeConfig | None = None,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> CurveReport:
    """Every strategy at every number of ``answers``, for every user and trial (same splits and person per trial)."""
    config = config or PersonalizeConfig(seed=seed)
    answers = sorted(answers)
    points = {s: {n: CurvePoint(s, n) for n in answers} for s in strategies}
    total, done = len(users) * trials * len(strategies), 0
    for user_index, user in enumerate(users):
        on_device = user.images.to(model.device)
        task_scores = torch.stack(
            [score_images(model, on_device, model.one_hot(t), cancel=cancel).cpu() for t in range(model.n_tasks)], 1
        )
        for trial in range(trials):
            for strategy in strategies:
                check(cancel)
                run = _Trial(model, user, task_scores, config, trial, seed + 101 * user_index, cancel)
                _run_strategy(run, strategy, answers, points[strategy])
                done += 1
                report(progress, "learning curves", done, total)
    return CurveReport(answers, trials, list(strategies), {u.name: u.group for u in users}, points)


def _run_strategy(run: _Trial, strategy: str, answers: Sequence[int], points: dict[int, CurvePoint]) -> None:
    """Ask and learn as ``strategy`` does, measuring at each number of answers the album allows."""
    limit = run.album.numel()
    if strategy in ("random stars", "suggested stars"):
        order = run.random_order if strategy == "random stars" else run.suggested_order
        ratings = dict(zip(order.tolist(), run.person.stars(order)))
        for n in (n for n in answers if n <= limit):
            _learn_and_measure(run, points[n], {p: ratings[p] for p in order[:n].tolist()}, [])
    elif strategy in ("active pairs", "random pairs"):
        pairs: list[tuple[int, int]] = []
        learned = None
        for n in answers:
            pairs += run.ask_pairs(n - len(pairs), learned, pairs, active=strategy == "active pairs")
            result = _learn_and_measure(run, points[n], {}, pairs)
            learned = result if result is not None else learned
    elif strategy == "half stars then active pairs":
        ratings = dict(zip(run.random_order.tolist(), run.person.stars(run.random_order)))
        for n in (n for n in answers if n // 2 <= limit):
            stars = {p: ratings[p] for p in run.random_order[: n // 2].tolist()}
            try:
                learned = run.learn(stars, [])
            except RatingsError:  # n/2 stars that are all equal: the pairs start from the tasks instead
                learned = None
            star_pairs = [(a, b) for a in stars for b in stars if stars[a] > stars[b]]
            _learn_and_measure(run, points[n], stars, run.ask_pairs(n - n // 2, learned, [], star_pairs=star_pairs))
    else:
        raise ValueError(f"unknown strategy {strategy!r}; one of {', '.join(STRATEGIES)}")


def _learn_and_measure(run: _Trial, point: CurvePoint, stars: dict[int, float], pairs: list[tuple[int, int]]):
    try:
        result = run.learn(stars, pairs)
    except RatingsError as exc:  # e.g. ten random stars that are all equal: nothing to learn, as in the app
        log.warning("%s, %s, %d answers: %s", run.user.name, point.strategy, point.answers, exc)
        return None
    run.measure(point, result, len(stars), len(pairs))
    return result
