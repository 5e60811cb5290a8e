"""Each task model's scores of photos, kept from the moment they are rated until Personalize is pressed.

The adaptive init needs every task's score of every rated photo: n_tasks passes per photo, about half
the CPU time of a personalization at K = 100 with ViT-B-16. Those passes do not depend on the other
ratings, so they can run in the background while the user is still rating
(:meth:`ModelSession.prefetch_task_scores`); pressing Personalize then finds them here. A photo is
remembered by path, size and modification time, so an edited file is scored again.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import torch

_Key = tuple[str, int, int]


def _key(path: Path) -> _Key | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return str(path), info.st_size, info.st_mtime_ns


class TaskScoreCache:
    """Thread-safe path -> [n_tasks] scores of one bundle's task models."""

    def __init__(self) -> None:
        self._scores: dict[_Key, torch.Tensor] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._scores)

    def missing(self, paths: Sequence[Path]) -> list[Path]:
        with self._lock:
            return [p for p in paths if (key := _key(p)) is not None and key not in self._scores]

    def add(self, path: Path, scores: torch.Tensor) -> None:
        key = _key(path)
        if key is not None:
            with self._lock:
                self._scores[key] = scores.detach().float().cpu()

    def lookup(self, paths: Sequence[Path]) -> torch.Tensor | None:
        """Scores [len(paths), n_tasks] when every path is known (unchanged), else None."""
        with self._lock:
            rows = [self._scores.get(key) if (key := _key(p)) is not None else None for p in paths]
        if not rows or any(row is None for row in rows):
            return None
        return torch.stack(rows)
