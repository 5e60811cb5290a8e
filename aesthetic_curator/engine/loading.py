"""Decoding photos into model input on a thread pool, a few batches ahead of the consumer.

PIL releases the GIL while decoding, so threads keep several cores busy; the bounded look-ahead
keeps memory flat however large the album is. Workers produce uint8 crops with no torch math (torch
ops in worker threads fight torch's intra-op threads); a batch is converted and normalised once, on
the model's device (:meth:`LoadedBatch.model_input`).
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.errors import ImageDecodeError
from aesthetic_curator.progress import CancelToken, ProgressCallback, check, report

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SkippedImage:
    path: Path
    reason: str


@dataclass
class LoadedBatch:
    paths: list[Path]  # readable photos of this batch, in input order
    pixels: torch.Tensor | None  # uint8 [len(paths), H, W, 3], None when none was readable
    skipped: list[SkippedImage]
    attempted: int  # photos of the input consumed by this batch (readable or not)
    preprocessor: Preprocessor | None = None

    def model_input(self, device: torch.device | str = "cpu") -> torch.Tensor | None:
        """The normalised float [N, 3, H, W] batch on ``device`` (converted there, in one go)."""
        if self.pixels is None or self.preprocessor is None:
            return None
        return self.preprocessor.normalise(self.pixels, device)

    @property
    def tensors(self) -> torch.Tensor | None:
        """The batch normalised on the CPU."""
        return self.model_input("cpu")


def default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 2))


def _load(preprocessor: Preprocessor, path: Path) -> np.ndarray | str:
    try:
        return preprocessor.load_pixels(path)
    except ImageDecodeError as exc:
        return str(exc)


def iter_batches(
    paths: Sequence[Path],
    preprocessor: Preprocessor,
    batch_size: int = 32,
    workers: int | None = None,
    cancel: CancelToken | None = None,
    lookahead: int = 3,
) -> Iterator[LoadedBatch]:
    """Yield preprocessed batches of ``paths`` in order; unreadable files are reported, not raised."""
    chunks = [list(paths[i : i + batch_size]) for i in range(0, len(paths), batch_size)]
    with ThreadPoolExecutor(max_workers=workers or default_workers()) as pool:
        pending: deque[tuple[list[Path], list[Future]]] = deque()
        next_chunk = 0
        try:
            while next_chunk < len(chunks) or pending:
                while next_chunk < len(chunks) and len(pending) < lookahead:
                    chunk = chunks[next_chunk]
                    pending.append((chunk, [pool.submit(_load, preprocessor, p) for p in chunk]))
                    next_chunk += 1
                chunk, futures = pending.popleft()
                check(cancel)
                arrays, kept, skipped = [], [], []
                for path, future in zip(chunk, futures):
                    loaded = future.result()
                    if isinstance(loaded, str):
                        log.debug("skipped %s", loaded)
                        skipped.append(SkippedImage(path, loaded))
                    else:
                        arrays.append(loaded)
                        kept.append(path)
                pixels = torch.from_numpy(np.stack(arrays)) if arrays else None
                yield LoadedBatch(kept, pixels, skipped, len(chunk), preprocessor)
        finally:
            for _, futures in pending:
                for future in futures:
                    future.cancel()


def load_images(
    paths: Sequence[Path],
    preprocessor: Preprocessor,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> tuple[list[Path], torch.Tensor | None, list[SkippedImage]]:
    """All readable ``paths`` as one tensor (for the few rated photos), plus what was skipped."""
    kept: list[Path] = []
    tensors: list[torch.Tensor] = []
    skipped: list[SkippedImage] = []
    done = 0
    for batch in iter_batches(paths, preprocessor, workers=workers, cancel=cancel):
        done += batch.attempted
        report(progress, "loading photos", done, len(paths))
        kept.extend(batch.paths)
        skipped.extend(batch.skipped)
        if batch.tensors is not None:
            tensors.append(batch.tensors)
    return kept, (torch.cat(tensors) if tensors else None), skipped
