"""Scoring a whole album with a baked personal model: one ordinary forward pass per photo."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from aesthetic_curator.engine.devices import mixed_precision
from aesthetic_curator.engine.loading import SkippedImage, iter_batches
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.engine.scorer import Scorer
from aesthetic_curator.errors import CuratorError
from aesthetic_curator.progress import CancelToken, ProgressCallback, report


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


def score_paths(
    scorer: Scorer,
    paths: Sequence[Path],
    *,
    batch_size: int = 32,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> tuple[list[tuple[Path, float]], list[SkippedImage]]:
    """Score every readable path, in input order; unreadable ones are returned as skipped.

    On CUDA the forward pass runs under bf16/fp16 autocast.
    """
    device = _device_of(scorer)
    scored: list[tuple[Path, float]] = []
    skipped: list[SkippedImage] = []
    done = 0
    for batch in iter_batches(paths, Preprocessor.for_scorer(scorer), batch_size, workers, cancel):
        skipped.extend(batch.skipped)
        if batch.pixels is not None:
            images = batch.model_input(device)
            with torch.inference_mode(), mixed_precision(device):
                scores = scorer(images).float().cpu().tolist()
            scored.extend(zip(batch.paths, scores))
        done += batch.attempted
        report(progress, "ranking", done, len(paths))
    return scored, skipped


def rank_paths(
    scorer: Scorer,
    paths: Sequence[Path],
    *,
    batch_size: int = 32,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> RankingResult:
    """Score ``paths`` and order them best first (ties broken by path, so the order is stable)."""
    started = time.perf_counter()
    scored, skipped = score_paths(
        scorer, paths, batch_size=batch_size, workers=workers, progress=progress, cancel=cancel
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
