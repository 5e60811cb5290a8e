"""Task scores computed ahead of Personalize: exact, reused, and forgotten when a photo changes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

from aesthetic_curator.engine.metrics import srocc
from aesthetic_curator.engine.session import ModelSession


def _photos(livec: Path, tmp_path: Path, count: int) -> list[Path]:
    folder = tmp_path / "photos"
    folder.mkdir()
    paths = []
    for source in sorted((livec / "images").glob("*.jpg"))[:count]:
        shutil.copy(source, folder / source.name)
        paths.append(folder / source.name)
    return paths


def test_prefetched_scores_are_each_tasks_own_and_replace_the_zero_shot_passes(test_bundle, livec, tmp_path):
    paths = _photos(livec, tmp_path, 12)
    rated = [(path, float(i % 4)) for i, path in enumerate(paths)]
    session = ModelSession(test_bundle, "cpu")
    assert session.prefetch_task_scores(paths) == 12
    assert session.prefetch_task_scores(paths) == 0  # nothing left to do
    cached = session.task_scores.lookup(paths)
    model = session.merged_model()
    from aesthetic_curator.engine.loading import load_images
    from aesthetic_curator.engine.personalize import score_images
    from aesthetic_curator.engine.preprocess import Preprocessor

    images = load_images(paths, Preprocessor.for_scorer(model.base))[1]
    for task in range(model.n_tasks):
        assert torch.allclose(cached[:, task], score_images(model, images, model.one_hot(task)), atol=1e-5)

    ahead = session.personalize(rated)
    assert ahead.passes.total == 8 * 12  # only the solver's own passes (4 evaluations, 3 Jacobians: 8 a photo)
    ratings = torch.tensor([r for _, r in rated])
    expected = {name: srocc(cached[:, t].numpy(), ratings.numpy()) for t, name in enumerate(model.task_names)}
    assert ahead.zero_shot_srocc == expected  # the init saw every rated photo

    cold = ModelSession(test_bundle, "cpu").personalize(rated)
    assert cold.passes.total > ahead.passes.total


def test_an_edited_photo_is_scored_again(test_bundle, livec, tmp_path):
    paths = _photos(livec, tmp_path, 3)
    session = ModelSession(test_bundle, "cpu")
    session.prefetch_task_scores(paths)
    assert session.task_scores.lookup(paths) is not None
    stamp = paths[0].stat().st_mtime_ns + 10**9
    os.utime(paths[0], ns=(stamp, stamp))
    assert session.task_scores.lookup(paths) is None
    assert session.task_scores.missing(paths) == [paths[0]]
