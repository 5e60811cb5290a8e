"""A personal profile: the learned coefficients plus what they were learned from, in one small file.

The file is safetensors (the tensor ``alpha``, and when the top of the network was fine-tuned, that
change as ``top_delta/<parameter>`` tensors in float16) with the metadata as JSON in its header, so it
is small (a few KB of coefficients; about 1.5 MB with the built-in model's tuned top), safe to load,
and bound to one bundle by its content id. A profile with a tuned top is format version 2, so an app
that would ignore the change refuses it instead of ranking differently without a word.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save

from aesthetic_curator.atomic import atomic_write_bytes
from aesthetic_curator.engine.bundle import Bundle
from aesthetic_curator.engine.personalize import PersonalizationResult
from aesthetic_curator.engine.solvers import DEFAULT_SOLVER
from aesthetic_curator.engine.top_delta import TopDelta, delta_from_tensors
from aesthetic_curator.errors import ProfileError

PROFILE_FORMAT = "aesthetic-curator-profile"
PROFILE_VERSION = 2
#: The version of a profile that is only coefficients (what apps before the tuned top read).
COEFFICIENTS_ONLY_VERSION = 1
_DELTA_PREFIX = "top_delta/"
_METADATA_KEY = "aesthetic_curator_profile"
#: Learned coefficients sit around 0-3 (a softmax start plus small steps); 1,000 is beyond any real one.
MAX_COEFFICIENT = 1e3


@dataclass
class Profile:
    """Learned coefficients for one bundle, with provenance."""

    alpha: torch.Tensor  # [n_tasks, n_layers]
    bundle_id: str
    task_names: list[str]
    n_layers: int
    k: int  # number of rated photos it was learned from
    temperature: float
    zero_shot_srocc: dict[str, float]
    train_srocc: float
    name: str = "default"
    solver: str = DEFAULT_SOLVER
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    extra: dict[str, Any] = field(default_factory=dict)  # config, passes, timing
    top_delta: TopDelta | None = None  # the fine-tuned change of the network's top (engine.top_tuning)

    @classmethod
    def from_result(cls, result: PersonalizationResult, bundle: Bundle, name: str = "default") -> Profile:
        return cls(
            alpha=result.alpha.detach().cpu().float(),
            bundle_id=bundle.bundle_id,
            task_names=list(result.task_names),
            n_layers=int(result.alpha.shape[1]),
            k=result.k,
            temperature=result.config.temperature,
            zero_shot_srocc=dict(result.zero_shot_srocc),
            train_srocc=float(result.train_srocc),
            name=name,
            solver=result.config.solver,
            extra={
                "config": result.config_dict(),
                "steps": result.steps,
                "comparisons": result.comparisons,
                "agreement": result.agreement.as_dict() if result.agreement is not None else None,
                "final_loss": result.final_loss,
                "forward_passes": result.passes.forward,
                "backward_passes": result.passes.backward,
                "seconds": round(result.seconds, 3),
                "top_tuned": result.top_tuned,
            },
            top_delta=result.top_delta,  # compact already (tune_top); to_bytes compacts again on writing
        )

    def metadata(self) -> dict[str, Any]:
        return {
            "format": PROFILE_FORMAT,
            "format_version": PROFILE_VERSION if self.top_delta is not None else COEFFICIENTS_ONLY_VERSION,
            "name": self.name,
            "bundle_id": self.bundle_id,
            "task_names": self.task_names,
            "n_layers": self.n_layers,
            "k": self.k,
            "temperature": self.temperature,
            "zero_shot_srocc": self.zero_shot_srocc,
            "train_srocc": self.train_srocc,
            "solver": self.solver,
            "created": self.created,
            "extra": self.extra,
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically so a crash never leaves half a profile."""
        return atomic_write_bytes(path, self.to_bytes())

    def to_bytes(self) -> bytes:
        """The profile file's bytes (what the album library stores)."""
        tensors = {"alpha": self.alpha.contiguous()}
        if self.top_delta is not None:
            tensors |= {_DELTA_PREFIX + name: t.contiguous() for name, t in self.top_delta.compact().tensors.items()}
        return save(tensors, metadata={_METADATA_KEY: json.dumps(self.metadata())})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Profile:
        path = Path(path)
        if not path.is_file():
            raise ProfileError(f"{path}: no such profile file")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ProfileError(f"{path}: cannot read the profile ({exc})") from exc
        return cls.from_bytes(data, str(path))

    @classmethod
    def from_bytes(cls, data: bytes, origin: str = "stored profile") -> Profile:
        """Read the bytes of a profile file (made by :meth:`to_bytes`); ``origin`` names it in errors."""
        try:
            meta = json.loads(_safetensors_metadata(data)[_METADATA_KEY])
            tensors = load(data)
            alpha = tensors["alpha"]
        except (SafetensorError, ValueError, KeyError, TypeError) as exc:
            raise ProfileError(f"{origin}: not a valid profile file ({exc})") from exc
        if not isinstance(meta, dict) or meta.get("format") != PROFILE_FORMAT:
            raise ProfileError(f"{origin}: not an Aesthetic Curator profile")
        try:
            if int(meta.get("format_version", 0)) > PROFILE_VERSION:
                raise ProfileError(f"{origin}: profile format is newer than this app; update Aesthetic Curator")
            profile = cls(
                alpha=alpha.float(),
                bundle_id=str(meta["bundle_id"]),
                task_names=[str(name) for name in meta["task_names"]],
                n_layers=int(meta["n_layers"]),
                k=int(meta["k"]),
                temperature=float(meta["temperature"]),
                zero_shot_srocc={str(k): float(v) for k, v in meta["zero_shot_srocc"].items()},
                train_srocc=float(meta["train_srocc"]),
                name=str(meta.get("name", "default")),
                solver=str(meta.get("solver", DEFAULT_SOLVER)),
                created=str(meta.get("created", "")),
                extra=meta.get("extra", {}) if isinstance(meta.get("extra", {}), dict) else {},
                top_delta=delta_from_tensors(tensors, _DELTA_PREFIX),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ProfileError(f"{origin}: malformed profile metadata ({exc!r})") from exc
        profile.check_coefficients(origin)
        if profile.top_delta is not None:
            profile.top_delta.check(origin)
        return profile

    def check_coefficients(self, origin: str) -> None:
        """Refuse coefficients no personalization produces: NaN, infinite or absurdly large ones
        would turn every score into NaN (or rank by overflow) without a word."""
        if self.alpha.ndim != 2 or self.alpha.shape[1] != self.n_layers:
            shape = list(self.alpha.shape)
            raise ProfileError(f"{origin}: coefficients of shape {shape} do not fit {self.n_layers} layers")
        if not bool(torch.isfinite(self.alpha).all()):
            raise ProfileError(f"{origin}: the profile's coefficients contain NaN or infinite values; it is damaged")
        largest = float(self.alpha.abs().max()) if self.alpha.numel() else 0.0
        if largest > MAX_COEFFICIENT:
            raise ProfileError(
                f"{origin}: a coefficient of {largest:.3g} is far outside anything personalization learns "
                f"(|alpha| <= {MAX_COEFFICIENT:g}); the profile is damaged"
            )

    def check_bundle(self, bundle: Bundle) -> None:
        """Refuse a bundle other than the one the profile was learned with."""
        if self.bundle_id != bundle.bundle_id:
            raise ProfileError(
                f"profile '{self.name}' was made with bundle {self.bundle_id[:12]}…, "
                f"not with {bundle.path} ({bundle.bundle_id[:12]}…); personalize again with this bundle"
            )
        if self.task_names != bundle.task_names or tuple(self.alpha.shape) != (len(bundle.tasks), len(bundle.layers)):
            raise ProfileError(f"profile '{self.name}' does not fit the tasks and layers of {bundle.path}")


def _safetensors_metadata(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` of safetensors bytes: the format is an 8-byte little-endian header length,
    then the JSON header (safetensors' own loader returns tensors only, and reads metadata from files)."""
    if len(data) < 8:
        raise ValueError("too short for a safetensors file")
    length = int.from_bytes(data[:8], "little")
    if length > len(data) - 8:
        raise ValueError("the header runs past the end of the data")
    header = json.loads(data[8 : 8 + length])
    metadata = header.get("__metadata__", {}) if isinstance(header, dict) else {}
    if not isinstance(metadata, dict):
        raise ValueError("malformed metadata")
    return metadata
