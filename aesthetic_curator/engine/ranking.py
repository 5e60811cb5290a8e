"""Scoring a whole album with a baked personal model: one ordinary forward pass per photo."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch

from aesthetic_curator.engine.device_decode import device_decoding_works
from aesthetic_curator.engine.devices import mixed_precision
from aesthetic_curator.engine.loading import SkippedImage, iter_batches
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.engine.scorer import Scorer
from aesthetic_curator.errors import CuratorError
from aesthetic_curator.progress import CancelToken, ProgressCallback, report

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoredImage:
    path: Path
    score: float
    rank: int  # 1 = best


@dataclass
class RankingResult:
    ranked: list[ScoredImage]  # best first
    skipped: list[SkippedImage]
    seconds: float = 0.0

    @property
    def images_per_second(self) -> float:
        return len(self.ranked) / self.seconds if self.seconds > 0 else 0.0


def _device_of(model: torch.nn.Module) -> torch.device:
    """Where a model runs: its first parameter or buffer's device (the CPU for an exported graph)."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def _runs_in_float32(model: torch.nn.Module) -> bool:
    """Whether ``model`` holds float32 weights (then autocast runs it in half precision on a GPU); a model
    already converted (``inference.prepare_for_gpu``) keeps its own precision."""
    return all(p.dtype == torch.float32 for p in model.parameters() if p.is_floating_point())


#: Where JPEGs are decoded for ranking: "auto" (on the model's GPU when torchvision can decode JPEGs there:
#: 1.7-2.6x the CPU workers' rate on a 16-core H200 host, docs/benchmarks.md "GPU ranking"; else the CPU),
#: "cpu" (worker threads, reduced-scale libjpeg) or "device" (the model's device, where it can).
DECODE_CHOICES = ("auto", "cpu", "device")


def decode_device_for(device: torch.device, decode: str = "auto") -> torch.device | None:
    """The device to decode JPEGs on for a model on ``device`` (None: the CPU workers)."""
    if decode not in DECODE_CHOICES:
        raise ValueError(f"unknown decode choice '{decode}' (one of {', '.join(DECODE_CHOICES)})")
    if decode == "cpu" or device.type != "cuda":
        return None
    return device if device_decoding_works(device) else None


def default_batch_size(device: torch.device) -> int:
    """Photos per ranking batch: 32 on a CPU (Cancel answers within a batch), 256 on a GPU (fills it)."""
    return 256 if device.type == "cuda" else 32


def score_paths(
    scorer: Scorer,
    paths: Sequence[Path],
    *,
    batch_size: int | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    decode: str = "auto",
) -> tuple[list[tuple[Path, float]], list[SkippedImage]]:
    """Score every readable path, in input order; unreadable ones are returned as skipped.

    On CUDA a float32 model runs under bf16/fp16 autocast, JPEGs are decoded where ``decode`` says, and a
    batch's scores are read back only after the next batch is queued, so neither the GPU nor the decoding
    waits for the other. Photos that get no finite score on a GPU are decoded again by the CPU workers and
    scored again (see :func:`_finite_scores`).
    """
    device = _device_of(scorer)
    decode_device = decode_device_for(device, decode)
    preprocessor = Preprocessor.for_scorer(scorer)
    precision = mixed_precision(device) if _runs_in_float32(scorer) else nullcontext()
    scored: list[tuple[Path, float]] = []
    skipped: list[SkippedImage] = []
    waiting: tuple[list[Path], _HostScores] | None = None  # the last batch's scores, on their way to the host
    done = 0

    def settle(batch_paths: list[Path], host: _HostScores) -> None:
        values = host.values()
        if decode_device is not None or device.type == "cuda":
            values = _finite_scores(scorer, preprocessor, batch_paths, values, precision)
        scored.extend(zip(batch_paths, values))

    batches = iter_batches(
        paths,
        preprocessor,
        batch_size or default_batch_size(device),
        workers,
        cancel,
        decode_device=decode_device,
    )
    for batch in batches:
        skipped.extend(batch.skipped)
        if batch.pixels is not None:
            images = batch.model_input(device)
            with torch.inference_mode(), precision:
                scores = _HostScores(scorer(images).float())
            if waiting is not None:
                settle(*waiting)
            waiting = (batch.paths, scores)
        done += batch.attempted
        report(progress, "ranking", done, len(paths))
    if waiting is not None:
        settle(*waiting)
    return scored, skipped


def _finite_scores(
    scorer: Scorer, preprocessor: Preprocessor, paths: list[Path], values: list[float], precision
) -> list[float]:
    """``values`` with each non-finite score replaced by the score of the same photo decoded by the CPU
    workers and scored again.

    A safety net, not a path that is expected to run: in one of three H200 leases, 180 photos of one batch
    (of 2,561) ranked with GPU decoding got NaN scores, which neither that lease's tests nor the other runs
    reproduced and which no CPU test shows (docs/benchmarks.md, "GPU ranking"). A user's ranking must not
    depend on that: the photos are decoded again on the CPU, and only a score that is still not finite
    reaches ``rank_paths``'s "damaged bundle or profile" check.
    """
    broken = [i for i, value in enumerate(values) if not math.isfinite(value)]
    if not broken:
        return values
    log.warning("%d photo(s) got no finite score on the GPU; decoding them on the CPU and scoring again", len(broken))
    device = _device_of(scorer)
    again: dict[Path, float] = {}
    for batch in iter_batches([paths[i] for i in broken], preprocessor, len(broken)):
        if batch.pixels is not None:
            with torch.inference_mode(), precision:
                again.update(zip(batch.paths, scorer(batch.model_input(device)).float().cpu().tolist()))
    return [again.get(path, value) for path, value in zip(paths, values)]


class _HostScores:
    """A batch's scores copied to the host without blocking (pinned memory and an event on CUDA), so that
    reading them waits for that batch's model alone, not for the batches queued after it."""

    def __init__(self, scores: torch.Tensor) -> None:
        self._event = None
        if scores.device.type == "cuda":
            self._host = torch.empty(scores.shape, dtype=scores.dtype, pin_memory=True)
            self._host.copy_(scores, non_blocking=True)
            self._event = torch.cuda.Event()
            self._event.record()
        else:
            self._host = scores

    def values(self) -> list[float]:
        if self._event is not None:
            self._event.synchronize()
        return self._host.tolist()


def rank_paths(
    scorer: Scorer,
    paths: Sequence[Path],
    *,
    batch_size: int | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    decode: str = "auto",
) -> RankingResult:
    """Score ``paths`` and order them best first (ties broken by path, so the order is stable)."""
    started = time.perf_counter()
    scored, skipped = score_paths(
        scorer, paths, batch_size=batch_size, workers=workers, progress=progress, cancel=cancel, decode=decode
    )
    broken = [path for path, score in scored if not math.isfinite(score)]
    if broken:
        raise CuratorError(
            f"the model gave {len(broken)} photo(s) no usable score (NaN or infinite, e.g. {broken[0].name}); "
            "the bundle or profile is damaged: personalize again, or reinstall the bundle"
        )
    ordered = sorted(scored, key=lambda item: (-item[1], str(item[0])))
    ranked = [ScoredImage(path, score, rank) for rank, (path, score) in enumerate(ordered, start=1)]
    return RankingResult(ranked, skipped, time.perf_counter() - started)
