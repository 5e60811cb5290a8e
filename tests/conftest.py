"""Shared fixtures: a tiny genuinely fine-tuned test bundle, synthetic photos and the LIVE-C sample."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from aesthetic_curator.cli import main
from aesthetic_curator.engine.bundle import Bundle
from aesthetic_curator.library.album import index_album
from aesthetic_curator.library.store import Library
from aesthetic_curator.library.thumbnails import ThumbnailCache

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
LIVEC = SHARED / "data" / "livec-sample"

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True, scope="session")
def isolated_app_dirs(tmp_path_factory: pytest.TempPathFactory):
    """Libraries and caches of the tests never touch the real user folders."""
    os.environ["AESTHETIC_CURATOR_DATA_DIR"] = str(tmp_path_factory.mktemp("data"))
    os.environ["AESTHETIC_CURATOR_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def test_bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    """The default bundle, built once per session through the real ``bundle make-test`` command (~15 s)."""
    path = tmp_path_factory.mktemp("bundles") / "test-bundle"
    assert main(["bundle", "make-test", str(path), "--seed", "0", "-q"]) == 0
    return Bundle.load(path)


@pytest.fixture(scope="session")
def merged(test_bundle):
    """The test bundle's task vectors around its base, shared by the personalization tests."""
    from aesthetic_curator.engine.merge import MergedScorer

    return MergedScorer.from_bundle(test_bundle)


@pytest.fixture(scope="session")
def livec() -> Path:
    """The 400-photo LIVE-C sample from ../shared (skipped with a reason where it is absent)."""
    if not (LIVEC / "scores.csv").is_file():
        pytest.skip(f"the LIVE-C sample is not at {LIVEC}")
    return LIVEC


@pytest.fixture
def scenes_library(tmp_path: Path):
    """Three scenes (red, green, blue), 10 photos each, with thumbnails made."""
    album = tmp_path / "album"
    album.mkdir()
    rng = np.random.default_rng(0)
    for scene, colour in enumerate([(200, 30, 30), (30, 200, 30), (30, 30, 200)]):
        for n in range(10):
            noise = rng.integers(-10, 10, (48, 64, 3))
            pixels = np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(album / f"s{scene}_{n:02d}.jpg")
    lib = Library.open_for_album(album)
    cache = ThumbnailCache(tmp_path / "thumbs")
    index_album(lib, thumbnails=cache)
    yield lib, cache
    lib.close()
