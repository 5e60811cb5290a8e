"""A bundle opened for work: loaded once, its base model built once, reused by estimate, personalize, rank.

One Personalize press in the app estimates the time, learns the profile and ranks the album; each
step used to load the bundle and build the base model again. A :class:`ModelSession` holds both for
as long as the bundle and device stay the same, and the task vectors (the large part) until
:meth:`release_task_vectors`. The CLI and the album layer (``curation``) go through it too, so there
is one path from rated files to a profile and from a profile to a ranking.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from aesthetic_curator.engine.base_model import create_base_scorer
from aesthetic_curator.engine.base_weights import download_base_weights
from aesthetic_curator.engine.bundle import Bundle
from aesthetic_curator.engine.devices import resolve_device
from aesthetic_curator.engine.explain import Explanations, explain, reference_sample
from aesthetic_curator.engine.inference import prepare_for_gpu, speed_up_for_cpu
from aesthetic_curator.engine.judgements import Judgements
from aesthetic_curator.engine.loading import load_images
from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.personalize import (
    PersonalizationResult,
    PersonalizeConfig,
    personalize,
    score_images,
    tuning_seconds,
)
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.engine.profile import Profile
from aesthetic_curator.engine.ranking import RankingResult, rank_paths
from aesthetic_curator.engine.scorer import Scorer
from aesthetic_curator.engine.solvers import get_solver
from aesthetic_curator.engine.solvers.base import Timings
from aesthetic_curator.engine.top_delta import tuned_scorer
from aesthetic_curator.engine.zero_shot_cache import TaskScoreCache
from aesthetic_curator.errors import RatingsError
from aesthetic_curator.progress import CancelToken, ProgressCallback, check

log = logging.getLogger(__name__)

#: Ranking models kept on a CPU (:meth:`ModelSession.ranking_model`); one on a GPU.
KEPT_RANKING_MODELS = 2


class ModelSession:
    """One bundle on one device, loaded lazily and once."""

    def __init__(self, bundle: Bundle | str | os.PathLike[str], device: torch.device | str = "auto") -> None:
        self._bundle = bundle if isinstance(bundle, Bundle) else None
        self.bundle_path = bundle.path if isinstance(bundle, Bundle) else Path(bundle)
        self._device_choice = device
        self._device: torch.device | None = None
        self._base: Scorer | None = None
        self._merged: MergedScorer | None = None
        self._ranking_models: dict[str, nn.Module] = {}  # profile digest and CPU choice -> model; the last used last
        #: Rank with the faster CPU model of :mod:`inference` (rank correlation >= 0.995 with float32).
        self.speed_up_cpu = True
        #: Each task model's scores of photos rated so far (filled in the background, see prefetch).
        self.task_scores = TaskScoreCache()
        #: What estimates timed on this machine, reused by the next estimate (see :func:`measured`).
        self.timings: Timings = {}
        #: Held by any work on the model: background scoring waits for a personalization, and back.
        self.lock = threading.RLock()

    # -- what is loaded once ---------------------------------------------------------------------------
    @property
    def bundle(self) -> Bundle:
        if self._bundle is None:
            self._bundle = Bundle.load(self.bundle_path)
        return self._bundle

    @property
    def device(self) -> torch.device:
        if self._device is None:
            self._device = resolve_device(self._device_choice)
        return self._device

    def prepare(self, progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> None:
        """Fetch the base weights on first use (with byte progress); a no-op when they are there."""
        download_base_weights(self.bundle.spec, progress, cancel)

    def base_scorer(self) -> Scorer:
        """theta_pre on the session's device (shared: callers must not change its weights)."""
        if self._base is None:
            self._base = create_base_scorer(self.bundle, self.device)
        return self._base

    def merged_model(self) -> MergedScorer:
        """The base plus every task vector, ready for a solver (built on first use)."""
        if self._merged is None:
            if self.device.type == "cuda":
                self.release_ranking_models()  # GPU memory is scarce: the task vectors are the session's largest part
            bundle = self.bundle
            taus = [bundle.load_task_vector(i, device=self.device) for i in range(len(bundle.tasks))]
            self._merged = MergedScorer(self.base_scorer(), taus, bundle.task_names)
        return self._merged

    @property
    def task_vectors_loaded(self) -> bool:
        """Whether the task vectors are in memory (what :meth:`release_task_vectors` gives back)."""
        return self._merged is not None

    def release_task_vectors(self) -> None:
        """Give back the memory of the task vectors (the bundle and base model stay loaded)."""
        self._merged = None

    def ranking_model(self, profile: Profile) -> nn.Module:
        """The profile's model as :meth:`rank` runs it: baked, then made faster for the device.

        Kept for the next ranking with the same profile: photos copied into an open album are fitted into its
        ranking a few at a time (a tethered camera: one per shot), and baking plus the CPU's faster copy took
        1.2-1.9 s on 2 cores with the built-in model where scoring the photo takes 0.05 s. On a CPU the last
        :data:`KEPT_RANKING_MODELS` profiles' are kept (the profile's and the plain average's, with which the
        hidden gems follow each new photo): a ViT's int8 copy is a few percent of the task vectors' memory, the
        built-in model's ONNX graph about 20 MB, so they stay while a rating is scored ahead (which loads the
        vectors). On a GPU one is kept, and loading the task vectors gives it back first, so GPU memory peaks
        no higher than before any was kept.
        """
        key = f"{hashlib.sha256(profile.to_bytes()).hexdigest()}:{self.speed_up_cpu}"
        model = self._ranking_models.pop(key, None)
        if model is None:
            kept = 1 if self.device.type == "cuda" else KEPT_RANKING_MODELS
            while len(self._ranking_models) >= kept:  # the least recently used gives its memory back first
                del self._ranking_models[next(iter(self._ranking_models))]
            model = self.personal_scorer(profile)
            if self.device.type == "cpu" and self.speed_up_cpu:
                model = speed_up_for_cpu(model)
            elif self.device.type == "cuda":
                model = prepare_for_gpu(model)
        self._ranking_models[key] = model
        return model

    def release_ranking_models(self) -> None:
        """Give back the memory of the models kept for ranking (:meth:`ranking_model`)."""
        self._ranking_models.clear()

    # -- the work --------------------------------------------------------------------------------------
    def estimate_seconds(
        self,
        k: int,
        config: PersonalizeConfig | None = None,
        rated: Sequence[Path] | None = None,
        mostly_comparisons: bool = False,
    ) -> float:
        """Honest wall time before starting, from a few passes timed the way the solver runs them
        (:meth:`Solver.estimate_seconds`; this also builds the model the personalization then reuses).
        ``mostly_comparisons``: whether comparisons outnumber the starred photos (the fast solver's passes
        depend on it)."""
        config = config or PersonalizeConfig()
        with self.lock:
            model = self.merged_model()
            ahead = rated is not None and self.task_scores.lookup(rated) is not None  # scored in the background
            solver = get_solver(config.solver)
            solving = solver.estimate_seconds(
                model, k, config, zero_shot_done=ahead, timings=self.timings, mostly_comparisons=mostly_comparisons
            )
            return solving + tuning_seconds(model, k, config, self.timings)

    def warm_up(self, k: int, solver: str | None = None) -> bool:
        """Run and time, once, the passes a personalization on ``k`` photos with ``solver`` (None: the
        default) will run, ahead of the press.

        For a background thread while the user rates: torch's first passes of a shape are slow (kernel
        set-up, first-touch memory: the first Personalize of a session took 12.8 s at K = 10 with the
        built-in model on 2 cores, a warmed one 4.8 s, docs/benchmarks.md), and the timings it keeps make
        the next :meth:`estimate_seconds` free. Returns whether it ran (False: already warm for these).
        """
        before = len(self.timings)
        self.estimate_seconds(k, PersonalizeConfig(solver=solver) if solver else PersonalizeConfig())
        return len(self.timings) > before

    def personalize(
        self,
        rated: Sequence[tuple[Path, float]],
        config: PersonalizeConfig | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        pairs: Sequence[tuple[Path, Path]] = (),
    ) -> PersonalizationResult:
        """Decode the judged photos and learn the coefficients (``Profile.from_result`` keeps them).

        ``rated`` are (photo, stars) and ``pairs`` (better photo, worse photo) answers to "A or B?";
        either may be empty. A photo that cannot be decoded is reported in ``skipped`` and its stars
        and comparisons are left out. Task scores already computed in the background
        (:meth:`prefetch_task_scores`) replace the zero-shot passes when they cover every judged photo.
        """
        ratings = dict(rated)
        photos = list(ratings) + list(dict.fromkeys(p for pair in pairs for p in pair if p not in ratings))
        with self.lock:
            model = self.merged_model()
            check(cancel)
            preprocessor = Preprocessor.for_scorer(model.base)
            kept, images, skipped = load_images(photos, preprocessor, progress=progress, cancel=cancel)
            for item in skipped:
                log.warning("judged photo skipped: %s", item.reason)
            if images is None:
                raise RatingsError("none of the rated or compared photos could be read")
            index = {path: i for i, path in enumerate(kept)}
            choices = [(index[a], index[b]) for a, b in pairs if a in index and b in index]
            judgements = Judgements.build([ratings.get(p) for p in kept], choices)
            cached = self.task_scores.lookup(kept)
            if cached is not None:
                log.debug("task scores of all %d judged photos were computed in the background", len(kept))
            result = personalize(model, images, judgements, config, progress, cancel, cached)
            result.skipped = skipped
            return result

    def prefetch_task_scores(
        self, paths: Sequence[Path], cancel: CancelToken | None = None, batch_size: int = 4
    ) -> int:
        """Score ``paths`` not yet known with every task model alone, a small batch at a time.

        Meant for a background thread while the user rates: it decodes without :attr:`lock` and holds it
        only to score each batch, so a personalization or ranking waits at most one batch's scoring.
        Returns how many photos were scored; unreadable photos are left for personalization to report.
        """
        todo = self.task_scores.missing(paths)
        if not todo:
            return 0
        with self.lock:
            preprocessor = Preprocessor.for_scorer(self.base_scorer())
        done = 0
        for start in range(0, len(todo), batch_size):
            check(cancel)
            kept, images, _ = load_images(todo[start : start + batch_size], preprocessor, workers=1)  # no lock
            if images is None:
                continue
            with self.lock:
                model = self.merged_model()
                columns = [
                    score_images(model, images, model.one_hot(t), batch_size=len(kept), cancel=cancel)
                    for t in range(model.n_tasks)
                ]
            for path, row in zip(kept, torch.stack(columns, dim=1)):
                self.task_scores.add(path, row)
            done += len(kept)
        return done

    def profile_from(self, result: PersonalizationResult, name: str = "default") -> Profile:
        return Profile.from_result(result, self.bundle, name)

    def personal_scorer(self, profile: Profile) -> Scorer:
        """The profile's merged weights as one ordinary network, summed task by task from the bundle,
        with the profile's tuned change of the top added (engine.top_tuning).

        Always this one path (memory: two bases plus one task vector), so a profile gives bit-identical
        weights in every session, and identical scores even from a quantized copy.
        """
        profile.check_bundle(self.bundle)
        scorer = MergedScorer.bake_from_bundle(self.bundle, profile.alpha, self.device, base=self.base_scorer())
        return tuned_scorer(scorer, profile.top_delta)

    def explain(
        self,
        profile: Profile,
        photos: Sequence[Path],
        judged: Sequence[Path],
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> Explanations:
        """Why ``photos`` score as they do under ``profile``: each task's part, against a sample of the
        ``judged`` photos (engine.explain). Photos that cannot be decoded are left out of the answer.
        Task vectors loaded for this alone are given back afterwards (for a large model, gigabytes)."""
        profile.check_bundle(self.bundle)
        with self.lock:
            loaded_before = self.task_vectors_loaded
            try:
                model = self.merged_model()
                preprocessor = Preprocessor.for_scorer(model.base)
                kept, images, _ = load_images(list(photos), preprocessor, cancel=cancel)
                reference = load_images(reference_sample(judged), preprocessor, cancel=cancel)[1]
                if images is None or reference is None:
                    raise RatingsError("the photos to explain, or the judged photos, cannot be read")
                return explain(model, profile.alpha, profile.top_delta, (kept, images), reference, cancel, progress)
            finally:
                if not loaded_before:
                    self.release_task_vectors()

    def rank(
        self,
        profile: Profile,
        paths: Sequence[Path],
        *,
        batch_size: int | None = None,
        workers: int | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        decode: str = "auto",
    ) -> RankingResult:
        """Score every path with the profile's model (baked once, kept: :meth:`ranking_model`), best first
        (batch size, decode threads and where JPEGs are decoded default to what suits the device:
        ``ranking.score_paths``)."""
        with self.lock:
            return rank_paths(
                self.ranking_model(profile),
                paths,
                batch_size=batch_size,
                workers=workers,
                progress=progress,
                cancel=cancel,
                decode=decode,
            )
