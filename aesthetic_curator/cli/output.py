"""What every command shares: progress bars on stderr, summary lines, argument checks, CSV output."""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from aesthetic_curator.atomic import atomic_open
from aesthetic_curator.errors import CuratorError
from aesthetic_curator.progress import Progress

log = logging.getLogger("aesthetic_curator.cli")


class BarProgress:
    """Adapts engine progress reports to one tqdm bar per stage on stderr."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar = None
        self.stage: str | None = None

    def __call__(self, progress: Progress) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if progress.stage != self.stage:
            self.close()
            self.stage = progress.stage
            self.bar = tqdm(total=progress.total, desc=progress.stage, file=sys.stderr, delay=1.0, leave=False)
        if progress.loss is not None:
            self.bar.set_postfix(loss=f"{progress.loss:.4f}", refresh=False)
        self.bar.update(progress.done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def say(message: str) -> None:
    """A summary line (on stderr through logging, so -q silences it and stdout stays data)."""
    log.info(message)


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    if path.is_dir():
        raise CuratorError(f"{path} is a folder; give a file name to write")
    with atomic_open(path, "w", newline="", encoding="utf-8", errors="surrogateescape") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def existing_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise CuratorError(f"{what} {path} is not a folder")
    return path


def bundle_path_from(args: argparse.Namespace) -> Path:
    """``--bundle`` when given, else the built-in model."""
    from aesthetic_curator.builtin_model import require_builtin_bundle

    return args.bundle if args.bundle is not None else require_builtin_bundle()
