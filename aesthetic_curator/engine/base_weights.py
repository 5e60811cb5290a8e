"""Base weights that OpenCLIP downloads on first use: are they here, and fetching them with progress.

A bundle either embeds its base tower or names an OpenCLIP pretrained tag. For a tag, the weights
come from the Hugging Face hub into the app's cache the first time they are needed. Fetching them
ahead of time here gives the user a byte-level progress bar and a Cancel button; a later
``create_model`` then finds them in the cache.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import open_clip
import torch
from tqdm.auto import tqdm

from aesthetic_curator.engine.scorer import ScorerSpec, open_clip_cache_dir
from aesthetic_curator.errors import BundleError, Cancelled
from aesthetic_curator.progress import CancelToken, ProgressCallback, check, report

#: OpenCLIP's file names on the hub, safest format first.
_HUB_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


def parse_base(base: str, weights_file: Path | None) -> tuple[str, str | None]:
    """``NAME:TAG`` (or ``NAME`` with a local weights file) -> (name, tag); neither is an error."""
    name, _, tag = base.partition(":")
    if weights_file is None and not tag:
        raise BundleError("the base needs a pretrained tag (--base NAME:TAG) or a local file (--base-weights)")
    return name, tag or None


def read_weights_file(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from a local file: safetensors, or a ``.pth`` read with ``weights_only=True``."""
    if not path.is_file():
        raise BundleError(f"base weights file {path} does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            loaded = load_file(str(path))
        else:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # safetensors, zip, unpickler (weights_only refusals) and I/O all raise their own types
        reason = f"{type(exc).__name__}: {exc}"
        raise BundleError(f"base weights file {path} is not a readable weights file ({reason})") from exc
    state = loaded.get("state_dict", loaded) if isinstance(loaded, Mapping) else None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BundleError(f"base weights file {path} holds no state dict of tensors")
    return dict(state)


@dataclass
class BaseWeightsStatus:
    needed: bool  # False when the bundle embeds its base tower
    cached: bool
    description: str  # what the user reads in the settings dialog


def _hub_location(spec: ScorerSpec) -> tuple[str, list[str]] | None:
    cfg = open_clip.get_pretrained_cfg(spec.model_name, spec.pretrained or "")
    hub = cfg.get("hf_hub", "") if cfg else ""
    if not hub:
        return None
    repo, filename = os.path.split(hub.rstrip("/")) if not hub.endswith("/") else (hub.rstrip("/"), "")
    names = [filename] if filename else list(_HUB_FILES)
    if filename.endswith(".bin"):
        names.insert(0, filename[: -len(".bin")] + ".safetensors")
    return repo, names


def base_weights_status(spec: ScorerSpec) -> BaseWeightsStatus:
    if spec.packaged is not None:
        from aesthetic_curator.engine.packaged_base import locate

        package = f"{spec.packaged.distribution}=={spec.packaged.version}"
        try:
            locate(spec.packaged)
        except BundleError as exc:
            return BaseWeightsStatus(False, False, str(exc))
        return BaseWeightsStatus(False, True, f"installed with the app (Python package {package}); works offline")
    if not spec.pretrained:
        return BaseWeightsStatus(False, True, "base weights are inside the bundle")
    label = f"{spec.model_name} ({spec.pretrained})"
    location = _hub_location(spec)
    if location is None:
        return BaseWeightsStatus(True, False, f"{label}: OpenCLIP downloads them on first use")
    from huggingface_hub import try_to_load_from_cache

    repo, names = location
    for name in names:
        found = try_to_load_from_cache(repo, name, cache_dir=str(open_clip_cache_dir()))
        if isinstance(found, str):
            return BaseWeightsStatus(True, True, f"{label}: downloaded")
    return BaseWeightsStatus(
        True, False, f"{label}: not downloaded yet; the first personalization downloads them (needs a network)"
    )


def download_base_weights(
    spec: ScorerSpec, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
) -> None:
    """Fetch the base weights into the OpenCLIP cache, reporting bytes; a no-op when already there."""
    status = base_weights_status(spec)
    if not status.needed or status.cached:
        return
    location = _hub_location(spec)
    if location is None:
        return  # only OpenCLIP knows where; create_model downloads them
    from huggingface_hub import hf_hub_download

    class _Reporting(tqdm):
        def update(self, n: float | None = 1) -> bool | None:
            check(cancel)
            shown = super().update(n)
            report(progress, "downloading base weights", int(self.n), int(self.total or 0))
            return shown

    repo, names = location
    errors = []
    for name in names:
        check(cancel)
        try:
            hf_hub_download(repo, name, cache_dir=str(open_clip_cache_dir()), tqdm_class=_Reporting)
            return
        except Cancelled:
            raise
        except Exception as exc:  # the hub raises many types; each means "not this file"
            errors.append(f"{name}: {exc}")
    raise BundleError(
        f"cannot download the base weights {spec.model_name} ({spec.pretrained}) from {repo}: "
        f"{'; '.join(errors)}. Connect to the internet and try again, or use a bundle with embedded base weights."
    )
