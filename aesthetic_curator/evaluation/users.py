"""Turning a dataset spec or a synthetic-user count into preprocessed :class:`EvalUser` tensors."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from aesthetic_curator.engine.loading import load_images
from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.evaluation.harness import EvalUser
from aesthetic_curator.evaluation.synthetic_users import make_synthetic_users
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
) -> list[EvalUser]:
    """Decode every user's photos once; unreadable photos are reported and left out."""
    preprocessor = Preprocessor.for_scorer(model.base)
    users = []
    for entry in read_user_dataset(spec, labels)[:max_users]:
        check(cancel)
        scores = dict(entry.items)
        kept, images, skipped = load_images(list(scores), preprocessor, progress=progress, cancel=cancel)
        for item in skipped:
            log.warning("user %s: skipped %s", entry.user, item.reason)
        if images is None:
            log.warning("user %s: no readable photo, left out", entry.user)
            continue
        users.append(EvalUser(entry.user, images, torch.tensor([scores[p] for p in kept])))
    return users


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
