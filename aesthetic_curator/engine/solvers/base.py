"""What every personalization solver shares: the run's settings, the solver interface, passes and output.

A run's :class:`PersonalizeConfig` holds the settings every solver uses and, per solver name, that
solver's own options dataclass; a solver reads its options with :meth:`Solver.options`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import torch
from torch import nn

from aesthetic_curator.engine.agreement import Agreement, FoldCoefficients, FoldInit
from aesthetic_curator.engine.judgements import Judgements
from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.solvers import DEFAULT_SOLVER
from aesthetic_curator.engine.top_tuning import tuned_by_default
from aesthetic_curator.progress import CancelToken, ProgressCallback, check

#: Merged parameters below which a CPU scores photos in batches of 16 rather than 4 (the built-in
#: EfficientNet-Lite0 has 4.7 M, ViT-B-16 86 M).
SMALL_NETWORK_PARAMETERS = 20_000_000


def is_small_network(model: MergedScorer) -> bool:
    """Whether ``model`` is small enough for bigger CPU batches (:data:`SMALL_NETWORK_PARAMETERS`)."""
    return model.merged_numel < SMALL_NETWORK_PARAMETERS


@dataclass
class PersonalizeConfig:
    """Settings of one personalization run: the solver, what every solver shares, and solver options.

    ``options`` maps a solver name to its options dataclass; a solver without an entry uses its
    defaults (the paper recipe's: the authors' published script; the fast solver's: what the
    evaluation harness measured as matching it, docs/evaluation.md).
    """

    solver: str = DEFAULT_SOLVER  # a name in engine.solvers.REGISTRY
    temperature: float = 0.1  # softmax temperature of the adaptive init (authors' script: 0.1)
    seed: int = 0  # same seed, same profile
    score_batch_size: int | None = None  # photos per forward pass when only scoring; None: by device
    zero_shot_photos: int | None = None  # rated photos used for the zero-shot SROCC; None: the solver's default
    zero_shot_screen: int | None = None  # every task on this many of them, the best few on all; None: by solver
    zero_shot_refine: int = 2  # tasks scored on the whole zero-shot sample after screening
    # Fine-tune the top of the merged network after the coefficients (engine/top_tuning.py). None: on for
    # the fast solver on an EfficientNet tower (the built-in model, where it was measured:
    # docs/evaluation.md); off for the paper recipe (the reference stays the paper's) and for a ViT,
    # where it is untested on real task vectors.
    tune_top: bool | None = None
    top_steps: int = 30  # its full-batch AdamW steps
    top_lr: float | None = None  # its learning rate (cosine to zero); None: by the number of photos judged
    top_flips: bool = True  # each of its steps sees a random half of the photos mirrored
    options: dict[str, Any] = field(default_factory=dict)  # solver name -> its options dataclass

    @classmethod
    def for_solver(cls, solver: str = DEFAULT_SOLVER, **settings: Any) -> PersonalizeConfig:
        """A config from flat keywords: shared settings go to the config, the rest to ``solver``'s options."""
        from aesthetic_curator.engine.solvers import get_solver

        shared = {f.name for f in fields(cls)} - {"solver", "options"}
        own = {k: v for k, v in settings.items() if k not in shared}
        config = cls(solver=solver, **{k: v for k, v in settings.items() if k in shared})
        if own:
            config.options[solver] = get_solver(solver).Options(**own)
        return config

    def tunes_top(self, model: MergedScorer) -> bool:
        """Whether this run fine-tunes the top of ``model`` after the coefficients."""
        if self.top_steps <= 0:
            return False
        if self.tune_top is None:
            return self.solver == DEFAULT_SOLVER and tuned_by_default(model.base)
        return bool(self.tune_top)

    def score_batch(self, model: MergedScorer) -> int:
        """Photos per scoring forward of ``model``.

        Cancellation is checked between batches, so on a CPU they are small enough for Cancel to act
        within a second: 4 photos of a ViT-B-16 (about a second of work), 16 of a small network such as
        the built-in EfficientNet-Lite0 (a fifth of a second), which scores batches of 4 slower per
        photo (docs/benchmarks.md). A GPU gets batches that fill it.
        """
        if self.score_batch_size:
            return self.score_batch_size
        if model.device.type != "cpu":
            return 64
        return 16 if is_small_network(model) else 4


@dataclass
class SolverRun:
    """What a solver works on: the merged model, the judged photos, the judgements and the start."""

    model: MergedScorer
    images: torch.Tensor  # [K, 3, H, W], preprocessed
    judgements: Judgements  # stars and comparisons over the K photos, on the CPU
    init: torch.Tensor  # [tasks, layers] the adaptive init
    config: PersonalizeConfig
    counter: PassCounter  # every pass through the network is counted here
    progress: ProgressCallback | None = None
    cancel: CancelToken | None = None
    #: The adaptive init from the judgements among some photos only (their indices), when every task's
    #: scores of every judged photo are known; the agreement estimate centres each fold on its own.
    fold_init: FoldInit | None = None
    #: A module of ``model.base`` whose output the top tuning starts from. A solver whose returned
    #: coefficients come from a plain forward keeps that module's output of it (SolverOutput.cut_features).
    tap: nn.Module | None = None


#: Seconds per photo of the passes an estimate timed, by what was timed (a session keeps one).
Timings = dict[str, tuple[float, ...]]


def measured(timings: Timings | None, key: str, measure: Callable[[], tuple[float, ...]]) -> tuple[float, ...]:
    """``measure()``, or what it gave the last time for ``key``.

    A session times the passes once (in the background, :meth:`ModelSession.warm_up`) and reuses them:
    the machine does not change between two presses of Personalize, and timing them again cost 1.5 s of
    a 3.3 s run at K = 10 with the built-in model (docs/benchmarks.md). ``timings=None`` always measures.
    """
    if timings is None:
        return measure()
    if key not in timings:
        timings[key] = measure()
    return timings[key]


class Solver(ABC):
    """One way to fit the (tasks x layers) coefficients to a user's judgements, from the adaptive init."""

    name: ClassVar[str]
    Options: ClassVar[type]  # the solver's own options dataclass
    #: Its defaults for the zero-shot scoring of the adaptive init (None: every rated photo, no screening).
    zero_shot_photos: ClassVar[int | None] = None
    zero_shot_screen: ClassVar[int | None] = None

    def options(self, config: PersonalizeConfig) -> Any:
        value = config.options.get(self.name)
        return value if value is not None else self.Options()

    def keeps_cut_features(self, config: PersonalizeConfig) -> bool:
        """Whether a run usually returns :attr:`SolverOutput.cut_features` (for time estimates)."""
        return False

    def gives_fold_coefficients(self, config: PersonalizeConfig) -> bool:
        """Whether a run returns :attr:`SolverOutput.fold_coefficients` (for time estimates)."""
        return False

    @abstractmethod
    def solve(self, run: SolverRun) -> SolverOutput:
        """Coefficients fitted to the ``judgements`` of ``images``, starting from ``init``."""

    @abstractmethod
    def solver_passes(self, k: int, config: PersonalizeConfig) -> int:
        """Passes through the network after the zero-shot scoring, for ``k`` rated photos."""

    def planned_passes(self, k: int, n_tasks: int, config: PersonalizeConfig) -> int:
        """Passes through the network a run on ``k`` rated photos takes (for time estimates)."""
        return self.zero_shot_passes(k, n_tasks, config) + self.solver_passes(k, config)

    def estimate_seconds(
        self,
        model: MergedScorer,
        k: int,
        config: PersonalizeConfig,
        zero_shot_done: bool = False,
        timings: Timings | None = None,
        mostly_comparisons: bool = False,
    ) -> float:
        """Wall time of a run on ``k`` photos: one timed forward + backward of 4 photos, times the planned
        passes (less the zero-shot ones when the task scores were computed ahead). ``timings``: see
        :func:`measured`. ``mostly_comparisons``: whether comparisons outnumber the starred photos (a
        solver whose passes depend on it counts them)."""
        passes = self.planned_passes(k, model.n_tasks, config)
        if zero_shot_done:
            passes -= self.zero_shot_passes(k, model.n_tasks, config)

        def measure() -> tuple[float, ...]:
            size = model.base.image_size
            images = torch.randn(4, 3, size, size, device=model.device)
            alpha = model.alpha.detach().clone().requires_grad_(True)
            started = time.perf_counter()
            model(images, alpha).sum().backward()
            alpha.grad.cpu()  # waits for a GPU's queued work
            return ((time.perf_counter() - started) / 8,)  # 4 forwards + 4 backwards

        (per_pass,) = measured(timings, "forward+backward/4", measure)
        return per_pass * passes

    # -- the zero-shot scoring every solver starts with -------------------------------------------------
    def zero_shot_limit(self, config: PersonalizeConfig) -> int | None:
        """How many rated photos the zero-shot SROCC uses (None: all of them)."""
        if config.zero_shot_photos is not None:
            return config.zero_shot_photos or None
        return self.zero_shot_photos

    def zero_shot_screen_size(self, config: PersonalizeConfig) -> int | None:
        """Photos every task is scored on before only the best few go on (None: all tasks on the whole sample)."""
        if config.zero_shot_screen is not None:
            return config.zero_shot_screen or None
        return self.zero_shot_screen

    def zero_shot_passes(self, k: int, n_tasks: int, config: PersonalizeConfig) -> int:
        """Forwards the zero-shot SROCC of the adaptive init takes: every task on the (sampled) rated photos."""
        photos = min(k, self.zero_shot_limit(config) or k)
        screen = self.zero_shot_screen_size(config)
        if screen is None or screen >= photos:
            return n_tasks * photos
        refined = min(config.zero_shot_refine, n_tasks)
        return n_tasks * screen + refined * (photos - screen)


@dataclass
class PassCounter:
    """Per-photo passes through the whole ViT: a forward and a backward each count as one."""

    forward: int = 0
    backward: int = 0

    @property
    def total(self) -> int:
        return self.forward + self.backward


@dataclass
class SolverOutput:
    alpha: torch.Tensor
    steps: int
    final_loss: float | None
    #: Scores of the rated photos under ``alpha`` when the solver already computed them (saves a pass).
    final_scores: torch.Tensor | None = None
    #: Cross-validated agreement with the judgements, when the solver measured it on its way (engine.agreement).
    agreement: Agreement | None = None
    #: What :attr:`SolverRun.tap` output for the rated photos under ``alpha``, when the solver has it.
    cut_features: torch.Tensor | None = None
    #: The coefficients refitted on some judged pair rows only (engine.agreement.fold_coefficients), when
    #: the solver has the linear model for it; the tuned agreement's folds start from them.
    fold_coefficients: FoldCoefficients | None = None


@contextmanager
def recording(module: nn.Module | None) -> Iterator[list[torch.Tensor]]:
    """Collects what ``module`` outputs during the block, a tensor per batch (nothing when it is None).

    A forward hook also fires inside ``torch.func.functional_call``, so the merged forwards of
    :class:`MergedScorer` are seen with their merged weights.
    """
    outputs: list[torch.Tensor] = []
    if module is None:
        yield outputs
        return

    def keep(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
        outputs.append(output.detach())

    handle = module.register_forward_hook(keep)
    try:
        yield outputs
    finally:
        handle.remove()


@torch.no_grad()
def score_images(
    model: MergedScorer,
    images: torch.Tensor,
    alpha: torch.Tensor | None,
    counter: PassCounter | None = None,
    batch_size: int = 64,
    cancel: CancelToken | None = None,
) -> torch.Tensor:
    """Scores of ``images`` under coefficients ``alpha`` (merged once, then batched forwards).

    ``images`` may live on another device than the model (a dataset kept on the host): each batch
    is moved over as it is scored.
    """
    return score_and_embed_images(model, images, alpha, counter, batch_size, cancel)[0]


@torch.no_grad()
def score_and_embed_images(
    model: MergedScorer,
    images: torch.Tensor,
    alpha: torch.Tensor | None,
    counter: PassCounter | None = None,
    batch_size: int = 64,
    cancel: CancelToken | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Like :func:`score_images`, plus the backbone embeddings [N, dim] on the model's device."""
    merged = model.merged_parameters(alpha)
    scores, embeddings = [], []
    for start in range(0, images.shape[0], batch_size):
        check(cancel)
        chunk = images[start : start + batch_size].to(model.device, non_blocking=True)
        embedded, scored = model.embed_and_score(merged, chunk)
        scores.append(scored.float())
        embeddings.append(embedded)
        if counter is not None:
            counter.forward += chunk.shape[0]
    return torch.cat(scores), torch.cat(embeddings)
