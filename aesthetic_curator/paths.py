"""Where the app keeps its own files: never inside the user's album.

``AESTHETIC_CURATOR_DATA_DIR`` and ``AESTHETIC_CURATOR_CACHE_DIR`` override the platform folders
(tests use them to stay isolated; power users to move a library to another disk).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "aesthetic-curator"


def data_dir() -> Path:
    """Libraries (SQLite) and settings: data the user would miss if it were deleted."""
    override = os.environ.get("AESTHETIC_CURATOR_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME))


def cache_dir() -> Path:
    """Thumbnails and downloaded base weights: safe to delete, rebuilt on demand."""
    override = os.environ.get("AESTHETIC_CURATOR_CACHE_DIR")
    return Path(override) if override else Path(platformdirs.user_cache_dir(APP_NAME))


def confined_relpath(root: Path, name: str | os.PathLike[str]) -> str:
    """``name`` as a normalised POSIX path relative to ``root``, refusing anything that leaves it.

    Every path a user hands us in a file (a ratings or ranking CSV, a bundle manifest) goes through
    here: an absolute path is accepted only inside ``root``; ``..`` that climbs out, a drive or a
    NUL byte is refused. The check is on the path's text, not on where symlinks point, so an album
    that links in another folder keeps working while ``../../etc/passwd`` never does.
    ``good/../good/X`` and ``good/X`` come out the same.
    """
    text = os.fspath(name)
    if not text or "\0" in text:
        raise ValueError("an empty path or one with a NUL byte")
    candidate = Path(text)
    if candidate.is_absolute():
        normal_root = os.path.normpath(os.path.abspath(root))
        normal = os.path.normpath(text)
        if os.path.commonpath([normal_root, normal]) != normal_root:
            raise ValueError(f"{text} is outside {root}")
        text = os.path.relpath(normal, normal_root)
    relative = os.path.normpath(text.replace("\\", "/") if os.sep == "\\" else text)
    parts = Path(relative).parts
    if relative in (".", "") or (parts and parts[0] == "..") or Path(relative).is_absolute():
        raise ValueError(f"{text} is not a file inside {root}")
    return Path(relative).as_posix()


def display_path(relpath: str) -> str:
    """A path for showing to a person: bytes that are not valid UTF-8 shown as U+FFFD, never an error."""
    return os.fsencode(relpath).decode("utf-8", "replace")
