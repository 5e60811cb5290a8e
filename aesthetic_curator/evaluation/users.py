"""Turning a dataset spec or a synthetic-user count into preprocessed :class:`EvalUser` tensors."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import torch

from aesthetic_curator.engine.loading import load_images
from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.evaluation.harness import EvalUser
from aesthetic_curator.evaluation.learning_curves import CurveUser
from aesthetic_curator.evaluation.synthetic_users import SYNTHETIC_NOISE, make_synthetic_users
from aesthetic_curator.evaluation.user_datasets import read_user_dataset
from aesthetic_curator.progress import CancelToken, ProgressCallback, check

log = logging.getLogger(__name__)


def dataset_users(
    model: MergedScorer,
    spec: str,
    labels: Path | None = None,
    max_users: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    max_photos: int | None = None,
    seed: int = 0,
) -> list[EvalUser]:
    """Decode every user's photos once; unreadable photos are reported and left out.

    ``max_photos`` keeps a seeded sample of each user's photos, chosen by hashing the file name, so
    users over the same photos keep the same sample; such users share one image tensor.
    """
    preprocessor = Preprocessor.for_scorer(model.base)
    users = []
    decoded: dict[tuple[Path, ...], tuple[list[Path], torch.Tensor | None]] = {}
    for entry in read_user_dataset(spec, labels)[:max_users]:
        check(cancel)
        scores = dict(entry.items)
        photos = list(scores)
        if max_photos is not None and len(photos) > max_photos:
            photos = sorted(photos, key=lambda p: _sample_key(p, seed))[:max_photos]
        key = tuple(photos)
        if key not in decoded:
            kept, images, skipped = load_images(photos, preprocessor, progress=progress, cancel=cancel)
            for item in skipped:
                log.warning("user %s: skipped %s", entry.user, item.reason)
            decoded = {key: (kept, images)}  # users come grouped by photo set: hold one at a time
        kept, images = decoded[key]
        if images is None:
            log.warning("user %s: no readable photo, left out", entry.user)
            continue
        noise = torch.tensor([entry.noise.get(p, 0.0) for p in kept]) if entry.noise else None
        users.append(EvalUser(entry.user, images, torch.tensor([scores[p] for p in kept]), noise))
    return users


def _sample_key(path: Path, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{path.name}".encode()).hexdigest()


def synthetic_eval_users(
    model: MergedScorer,
    count: int,
    photos_per_user: int = 200,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[EvalUser]:
    users = make_synthetic_users(model, count, photos_per_user, seed, progress=progress, cancel=cancel)
    return [EvalUser(u.name, u.images, u.ratings) for u in users]


def curve_users(
    model: MergedScorer,
    dataset_users_: list[EvalUser],
    synthetic: int = 0,
    photos_per_user: int = 200,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[CurveUser]:
    """Users of the learning-curve protocol: dataset users answer around their scores with the data's
    noise (none where unpublished); synthetic users around their hidden taste with their own noise."""
    users = [
        CurveUser(u.name, u.images, u.ratings.double(), u.noise if u.noise is not None else torch.zeros(len(u.ratings)))
        for u in dataset_users_
    ]
    for user in make_synthetic_users(model, synthetic, photos_per_user, seed, progress=progress, cancel=cancel):
        taste = (user.taste - user.taste.mean()) / user.taste.std().clamp_min(1e-8)
        noise = torch.full_like(taste, SYNTHETIC_NOISE)
        users.append(CurveUser(user.name, user.images, taste.double(), noise, "synthetic"))
    return users
