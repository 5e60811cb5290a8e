"""Writing a file so that a crash or a full disk never leaves half of it: the one way this app writes.

Every write goes to a hidden temporary file beside the target and is renamed over it only once it
is complete; on any error the temporary file is removed and the target is untouched. The temporary
names are short (a long target name still leaves room) and recognisable, so a folder can be swept
of the leftovers of a killed process (:func:`is_temporary`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

#: The end of every temporary file name this module makes.
TEMPORARY_SUFFIX = ".aecur-partial"


def temporary_name(target: Path) -> Path:
    """A fresh hidden name beside ``target`` for its content in the making."""
    return target.with_name(f".aecur-{uuid.uuid4().hex[:12]}{TEMPORARY_SUFFIX}")


def is_temporary(path: Path) -> bool:
    """Whether ``path`` is a leftover of an interrupted atomic write (ours only: hidden, with our suffix)."""
    return path.name.startswith(".") and path.name.endswith(TEMPORARY_SUFFIX)


@contextmanager
def atomic_path(target: str | os.PathLike[str], *, replace: bool = True) -> Iterator[Path]:
    """A temporary path to write ``target``'s new content to; it becomes ``target`` when the block ends.

    With ``replace=False`` an existing target is never overwritten (``FileExistsError`` instead), for
    writers that must not clobber what another process put there meanwhile.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = temporary_name(target)
    try:
        yield partial
        if not replace and target.exists():
            raise FileExistsError(f"{target} appeared while it was being written; not overwritten")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


@contextmanager
def atomic_open(target: str | os.PathLike[str], mode: str = "w", **options: Any) -> Iterator[IO[Any]]:
    """``open(target, mode)`` for writing, atomically: the file appears complete or not at all."""
    with atomic_path(target) as partial, partial.open(mode, **options) as handle:
        yield handle


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_open(target, "wb") as handle:
        handle.write(data)
    return Path(target)


def atomic_write_text(target: str | os.PathLike[str], text: str) -> Path:
    with atomic_open(target, "w", encoding="utf-8") as handle:
        handle.write(text)
    return Path(target)
