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
