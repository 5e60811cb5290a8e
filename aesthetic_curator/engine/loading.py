"""Decoding photos into model input on a thread pool, a few batches ahead of the consumer.

PIL releases the GIL while decoding, so threads keep several cores busy; the bounded look-ahead
keeps memory flat however large the album is. Workers produce uint8 crops with no torch math (torch
ops in worker threads fight torch's intra-op threads); a batch is converted and normalised once, on
the model's device (:meth:`LoadedBatch.model_input`).

With a ``decode_device`` (a CUDA GPU), workers only read JPEG files' bytes and headers, and each batch's
JPEGs are decoded together on that device (:mod:`device_decode`); other files, and JPEGs the device
cannot decode, still go through the CPU decoder.
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

from aesthetic_curator.engine.device_decode import EncodedJpeg, decode_on_device, read_encoded_jpeg
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
    pixels: torch.Tensor | None  # uint8 [len(paths), H, W, 3] (on the decode device), None when none was readable
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


def default_workers(device: torch.device | str | None = None) -> int:
    """Decode threads: up to 8 when the model shares the CPU's cores; every core (up to 32) feeding a GPU."""
    cores = os.cpu_count() or 2
    if device is not None and torch.device(device).type == "cuda":
        return max(1, min(32, cores))
    return max(1, min(8, cores))


def _load(preprocessor: Preprocessor, path: Path) -> np.ndarray | str:
    try:
        return preprocessor.load_pixels(path)
    except ImageDecodeError as exc:
        return str(exc)


def _load_for_device(preprocessor: Preprocessor, path: Path) -> EncodedJpeg | np.ndarray | str:
    """A JPEG the device can decode as its bytes; anything else decoded here, as :func:`_load` does."""
    return read_encoded_jpeg(path) or _load(preprocessor, path)


def _assemble(
    loaded: list[EncodedJpeg | np.ndarray], preprocessor: Preprocessor, device: torch.device | None
) -> tuple[torch.Tensor | None, dict[int, str]]:
    """One uint8 [N, H, W, 3] batch of the readable worker results (on ``device`` when some were decoded
    there), and the reasons of those that neither the device nor then the CPU could decode, by position."""
    encoded = [i for i, item in enumerate(loaded) if isinstance(item, EncodedJpeg)]
    if not encoded or device is None:
        return torch.from_numpy(np.stack(loaded)), {}
    crops: list[torch.Tensor | np.ndarray | str] = list(loaded)
    decoded = decode_on_device([loaded[i] for i in encoded], preprocessor.image_size, device)
    for i, crop in zip(encoded, decoded):
        crops[i] = crop if crop is not None else _load(preprocessor, loaded[i].path)  # the CPU decoder
    failures = {i: crop for i, crop in enumerate(crops) if isinstance(crop, str)}
    kept = [crop for crop in crops if not isinstance(crop, str)]
    if not kept:
        return None, failures
    size = preprocessor.image_size
    pixels = torch.zeros((len(kept), size, size, 3), dtype=torch.uint8, device=device)
    on_cpu = [row for row, crop in enumerate(kept) if isinstance(crop, np.ndarray)]
    on_device = [row for row, crop in enumerate(kept) if isinstance(crop, torch.Tensor)]
    if on_cpu:
        stacked = torch.from_numpy(np.stack([kept[row] for row in on_cpu]))
        if device.type == "cuda":
            stacked = stacked.pin_memory()
        pixels[on_cpu] = stacked.to(device, non_blocking=True)
    if on_device:
        pixels[on_device] = torch.stack([kept[row] for row in on_device])
    return pixels, failures


def iter_batches(
    paths: Sequence[Path],
    preprocessor: Preprocessor,
    batch_size: int = 32,
    workers: int | None = None,
    cancel: CancelToken | None = None,
    lookahead: int = 3,
    decode_device: torch.device | str | None = None,
) -> Iterator[LoadedBatch]:
    """Yield preprocessed batches of ``paths`` in order; unreadable files are reported, not raised.

    With ``decode_device``, JPEGs are decoded on that device in batches (the module docstring), and the
    batches' pixels are on it.
    """
    device = torch.device(decode_device) if decode_device is not None else None
    load = _load_for_device if device is not None else _load
    chunks = [list(paths[i : i + batch_size]) for i in range(0, len(paths), batch_size)]
    with ThreadPoolExecutor(max_workers=workers or default_workers(device)) as pool:
        pending: deque[tuple[list[Path], list[Future]]] = deque()
        next_chunk = 0
        try:
            while next_chunk < len(chunks) or pending:
                while next_chunk < len(chunks) and len(pending) < lookahead:
                    chunk = chunks[next_chunk]
                    pending.append((chunk, [pool.submit(load, preprocessor, p) for p in chunk]))
                    next_chunk += 1
                chunk, futures = pending.popleft()
                check(cancel)
                results = [future.result() for future in futures]
                readable = [i for i, loaded in enumerate(results) if not isinstance(loaded, str)]
                pixels, failures = (
                    _assemble([results[i] for i in readable], preprocessor, device) if readable else (None, {})
                )
                for position, reason in failures.items():
                    results[readable[position]] = reason
                kept, skipped = [], []
                for path, loaded in zip(chunk, results):
                    if isinstance(loaded, str):
                        log.debug("skipped %s", loaded)
                        skipped.append(SkippedImage(path, loaded))
                    else:
                        kept.append(path)
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
