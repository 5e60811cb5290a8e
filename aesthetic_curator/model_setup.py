"""Setting up the model from the app: describe a bundle, import checkpoints, make the test bundle,
fetch base weights, list the solvers.

The settings dialog calls these and never the engine itself; no Qt here. Work that takes long
takes the core's ``progress`` callback and ``cancel`` token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from aesthetic_curator.errors import CuratorError
from aesthetic_curator.paths import data_dir
from aesthetic_curator.progress import CancelToken, ProgressCallback

NO_BUNDLE_HELP = (
    "No model bundle is set up (this installation lacks the built-in model), so Personalize and Rank "
    "are unavailable. Browsing, rating and exporting by your own stars work without one.\n\n"
    "To get a bundle: choose a bundle folder you built or were given (see docs/bundles.md: "
    "`aesthetic-curator bundle …`), import the paper authors' checkpoints, or create the small test "
    "bundle to try the app (it knows nothing about real photos)."
)


@dataclass(frozen=True)
class BundleDescription:
    text: str  # what the settings dialog shows
    usable: bool  # the bundle loads
    needs_download: bool = False  # its base weights must still be fetched


def describe_bundle(path: Path | None) -> BundleDescription:
    """A readable description of the bundle at ``path`` (or of what to do without one)."""
    if path is None:
        return BundleDescription(NO_BUNDLE_HELP, False)
    from aesthetic_curator.engine.base_weights import base_weights_status
    from aesthetic_curator.engine.bundle import Bundle

    try:
        bundle = Bundle.load(path)
    except CuratorError as exc:
        return BundleDescription(f"The bundle at {path} cannot be used: {exc}\n\nChoose another bundle folder.", False)
    info = bundle.summary()
    status = base_weights_status(bundle.spec)
    tasks = ", ".join(t["name"] for t in info["tasks"])
    lines = []
    if bundle.is_builtin:
        lines += ["Built-in model: it ships with the app and works offline, nothing to set up.", info["description"]]
    lines += [
        f"Folder: {info['path']}",
        f"Base model: {info['base_model']} ({info['pretrained']})",
        f"Tasks ({len(info['tasks'])}): {tasks}",
        f"Coefficients learned per profile: {info['coefficients']}",
        f"Base weights: {status.description}",
    ]
    if info["is_test_bundle"]:
        lines.append("TEST BUNDLE: a tiny model for trying the app; it knows nothing about real photographic taste.")
    return BundleDescription("\n".join(lines), True, status.needed and not status.cached)


def bundle_id_at(path: Path | None) -> str | None:
    """The id the bundle at ``path`` gives the profiles made with it, read from its manifest alone (no torch:
    the window asks while listing profiles); None when there is no readable bundle there. The manifest's
    integrity is checked when the model loads."""
    if path is None:
        return None
    try:
        value = json.loads((path / "manifest.json").read_text(encoding="utf-8")).get("bundle_id")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and value else None


def import_official_checkpoints(
    source: Path, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
) -> Path:
    """A folder of the paper authors' checkpoints as a bundle in the app's data folder; returns its path."""
    from aesthetic_curator.engine.official_import import import_official

    target = data_dir() / "bundles" / f"imported-{source.name or 'checkpoints'}"
    import_official(source, target, overwrite=True, progress=progress, cancel=cancel)
    return target


def create_test_bundle(progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> Path:
    """The tiny self-made test bundle in the app's data folder; returns its path."""
    from aesthetic_curator.engine.test_bundle import make_test_bundle

    target = data_dir() / "bundles" / "test-bundle"
    make_test_bundle(target, overwrite=True, progress=progress, cancel=cancel)
    return target


def download_base_weights(
    bundle_path: Path, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
) -> None:
    """Fetch the base weights the bundle names (OpenCLIP's cache), reporting bytes."""
    from aesthetic_curator.engine.base_weights import download_base_weights as download
    from aesthetic_curator.engine.bundle import Bundle

    download(Bundle.load(bundle_path).spec, progress, cancel)


def solver_choices() -> dict[str, str]:
    """Solver name -> label, for a menu (the engine's registry; imports no torch)."""
    from aesthetic_curator.engine.solvers import solver_labels

    return solver_labels()
