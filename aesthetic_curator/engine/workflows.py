"""The engine's public entry points: personalize from rated files, rank files with a profile.

The CLI and the GUI call these and nothing deeper, so neither needs to know about merged
weights, task-vector stacks or preprocessing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from aesthetic_curator.engine.bundle import Bundle
from aesthetic_curator.engine.loading import SkippedImage, load_images
from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.personalize import PersonalizationResult, PersonalizeConfig, personalize, planned_passes
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.engine.profile import Profile
from aesthetic_curator.engine.ranking import RankingResult, rank_paths
from aesthetic_curator.errors import RatingsError
from aesthetic_curator.progress import CancelToken, ProgressCallback, check

log = logging.getLogger(__name__)


@dataclass
class PersonalizeOutcome:
    profile: Profile
    result: PersonalizationResult
    skipped: list[SkippedImage]  # rated photos that could not be decoded


def personalize_files(
    bundle: Bundle,
    rated: Sequence[tuple[Path, float]],
    *,
    config: PersonalizeConfig | None = None,
    device: torch.device | str = "cpu",
    name: str = "default",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> PersonalizeOutcome:
    """Decode the rated photos, learn the coefficients and wrap them in a :class:`Profile`."""
    model = MergedScorer.from_bundle(bundle, device)
    check(cancel)
    ratings = dict(rated)
    kept, images, skipped = load_images(
        list(ratings), Preprocessor.for_scorer(model.base), progress=progress, cancel=cancel
    )
    for item in skipped:
        log.warning("rated photo skipped: %s", item.reason)
    if images is None:
        raise RatingsError("none of the rated photos could be read")
    result = personalize(model, images, [ratings[p] for p in kept], config, progress, cancel)
    return PersonalizeOutcome(Profile.from_result(result, bundle, name), result, skipped)


def rank_files(
    bundle: Bundle,
    profile: Profile,
    paths: Sequence[Path],
    *,
    device: torch.device | str = "cpu",
    batch_size: int = 32,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> RankingResult:
    """Bake the profile's merged model once and score every path with it."""
    profile.check_bundle(bundle)
    scorer = MergedScorer.bake_from_bundle(bundle, profile.alpha, device)
    return rank_paths(scorer, paths, batch_size=batch_size, workers=workers, progress=progress, cancel=cancel)


def estimate_personalization_seconds(
    bundle: Bundle, k: int, config: PersonalizeConfig | None = None, device: torch.device | str = "cpu"
) -> float:
    """Honest wall-time estimate before starting: time one forward + backward, times the planned passes.

    Loads the base scorer (seconds for ViT-B-16) and runs one batch of 4 photos through it with a
    gradient, the same work a solver's passes do.
    """
    config = config or PersonalizeConfig()
    scorer = bundle.create_base_scorer(device)
    size = Preprocessor.for_scorer(scorer).image_size
    images = torch.randn(4, 3, size, size, device=device)
    for param in scorer.parameters():
        param.requires_grad_(True)
    started = time.perf_counter()
    scorer(images).sum().backward()
    per_pass = (time.perf_counter() - started) / 8  # 4 forwards + 4 backwards
    n_tasks = len(bundle.tasks)
    return per_pass * planned_passes(k, n_tasks, config) + _load_seconds_estimate(bundle)


def _load_seconds_estimate(bundle: Bundle) -> float:
    """Reading the task vectors from disk: about 1 s per 500 MB (a laptop SSD, with merging set-up)."""
    return bundle.size_bytes() / 500e6
