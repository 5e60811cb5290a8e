"""The task-vector bundle: a folder holding a base model reference and one task vector per task.

Layout::

    BUNDLE/manifest.json              format version, base model, head, layers, tasks, bundle id
    BUNDLE/base.safetensors           base tower weights (only for self-made bundles)
    BUNDLE/head_reference.safetensors the fixed reference head (the head has no pretrained value)
    BUNDLE/tasks/<name>.safetensors   tau_i = theta_finetuned_i - theta_pre, keyed by parameter name

The base comes from one of three places: an OpenCLIP pretrained tag (downloaded on first use), an
installed Python package (``base.package``: distribution, version, file, sha256; the built-in model),
or ``base.safetensors`` in the bundle. Task vectors are stored in the bundle's float dtype, or compactly
(``encoding: int8`` or ``int4``, :meth:`TaskVector.encode_int8` / :meth:`TaskVector.encode_int4`).

This module reads bundles: the manifest (:mod:`manifest`), checksums and tensors. Writing is
:mod:`bundle_writer`; building the base model from a bundle is :mod:`base_model`. Everything is
safetensors, so loading a bundle never unpickles anything.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from aesthetic_curator.engine.manifest import DENSE, INT4, INT8, Manifest, TaskInfo
from aesthetic_curator.engine.scorer import Scorer, ScorerSpec
from aesthetic_curator.engine.task_vector import StateDict, TaskVector
from aesthetic_curator.errors import BundleError
from aesthetic_curator.paths import confined_relpath

__all__ = ["DENSE", "INT4", "INT8", "MANIFEST_NAME", "Bundle", "StateDict", "TaskInfo", "file_sha256", "scorer_layers"]

MANIFEST_NAME = "manifest.json"

#: Files whose checksum this process has confirmed, with the (size, mtime, expected sha256) they had:
#: a bundle is opened by several commands of a session, and each file is hashed only once.
_VERIFIED: dict[Path, tuple[int, int, str]] = {}

DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def scorer_layers(scorer: Scorer) -> dict[str, list[int]]:
    """Name -> shape of every 'layer' (floating parameter tensor) of a scorer, in module order."""
    return {name: list(p.shape) for name, p in scorer.named_parameters() if p.is_floating_point()}


class Bundle:
    """A bundle's manifest plus checked, lazy access to its tensors."""

    def __init__(self, path: Path, manifest: Manifest) -> None:
        self.path = path
        self.manifest = manifest
        self.spec: ScorerSpec = manifest.scorer_spec()
        self.layers: dict[str, list[int]] = manifest.layers
        self.tasks: list[TaskInfo] = manifest.tasks
        self.dtype = DTYPES[manifest.dtype]
        for info in self.tasks:
            self.file(info.file)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Bundle:
        path = Path(path)
        manifest_path = path / MANIFEST_NAME
        if not manifest_path.is_file():
            raise BundleError(f"{path}: not a bundle (no {MANIFEST_NAME})")
        try:
            data = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BundleError(f"{manifest_path}: cannot read manifest ({exc})") from exc
        return cls(path, Manifest.from_json(data, str(path)))

    # -- identity -------------------------------------------------------------------------------------
    @property
    def bundle_id(self) -> str:
        return self.manifest.bundle_id

    @property
    def is_test_bundle(self) -> bool:
        return self.manifest.is_test_bundle

    @property
    def is_builtin(self) -> bool:
        return self.manifest.is_builtin

    @property
    def task_names(self) -> list[str]:
        return [t.name for t in self.tasks]

    @property
    def layer_names(self) -> list[str]:
        return list(self.layers)

    @property
    def description(self) -> str:
        return self.manifest.description

    @property
    def base_source(self) -> str:
        """Where the base weights come from, in words."""
        if self.spec.packaged is not None:
            return f"installed package {self.spec.packaged.distribution}=={self.spec.packaged.version}"
        return self.spec.pretrained or "embedded in bundle"

    # -- files ----------------------------------------------------------------------------------------
    def file(self, relative: str) -> Path:
        """A file the manifest names, refusing any name that leads out of the bundle folder."""
        try:
            return self.path / confined_relpath(self.path, relative)
        except (ValueError, TypeError):
            raise BundleError(f"{self.path}: the manifest names '{relative}', which is not inside the bundle") from None

    def read_tensors(self, relative: str, sha256: str | None, device: torch.device | str = "cpu") -> StateDict:
        """Load one tensor file after checking it against the manifest's sha256 (cheap next to a
        forward pass; remembered per file while its size and time stay the same) and refusing
        non-finite values, so a damaged or altered bundle never ranks silently wrong."""
        file = self.file(relative)
        if not file.is_file():
            raise BundleError(f"{self.path}: missing file {relative}")
        self._verify(file, relative, sha256)
        try:
            tensors = load_file(str(file), device=str(device))
        except (SafetensorError, OSError) as exc:
            raise BundleError(f"{file}: unreadable tensor file ({exc})") from exc
        for name, tensor in tensors.items():
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                raise BundleError(f"{file}: {name} holds NaN or infinite values; the bundle is damaged")
        return tensors

    def _verify(self, file: Path, relative: str, sha256: str | None) -> None:
        if not sha256:
            raise BundleError(f"{self.path}: the manifest gives no checksum for {relative}")
        info = file.stat()
        stamp = (info.st_size, info.st_mtime_ns, sha256)
        key = file.resolve()
        if _VERIFIED.get(key) == stamp:
            return
        if file_sha256(file) != sha256:
            raise BundleError(
                f"{file}: the file changed since the bundle was written (checksum mismatch); "
                "the bundle is damaged or was altered"
            )
        _VERIFIED[key] = stamp

    def check_keys(self, tensors: Mapping[str, torch.Tensor], expected: Mapping[str, list[int]], what: str) -> None:
        """Refuse tensors that do not cover exactly the ``expected`` layers with their shapes."""
        missing = [k for k in expected if k not in tensors]
        extra = [k for k in tensors if k not in expected]
        if missing or extra:
            detail = f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}"
            raise BundleError(f"{what} does not match the base model's parameters: {detail}")
        for name, shape in expected.items():
            if list(tensors[name].shape) != shape:
                raise BundleError(
                    f"{what}: parameter {name} has shape {list(tensors[name].shape)}, the base model has {shape}"
                )

    def load_task_vector(
        self, task: str | int, *, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"
    ) -> TaskVector:
        info = self.tasks[task] if isinstance(task, int) else self.task(task)
        tensors: Mapping[str, torch.Tensor] = self.read_tensors(info.file, info.sha256, device)
        what = f"task vector '{info.name}'"
        if info.encoding == INT8:
            tensors = TaskVector.decode_int8(tensors, self.layers, info.zero_layers, what)
        elif info.encoding == INT4:
            tensors = TaskVector.decode_int4(tensors, self.layers, info.zero_layers, what)
        self.check_keys(tensors, self.layers, f"task vector '{info.name}'")
        return TaskVector({name: tensors[name].to(dtype) for name in self.layers})

    def task(self, name: str) -> TaskInfo:
        for info in self.tasks:
            if info.name == name:
                return info
        raise BundleError(f"{self.path}: no task named '{name}' (tasks: {', '.join(self.task_names)})")

    def verify_files(self) -> list[str]:
        """Re-hash every file; returns the problems found (empty when the bundle is intact)."""
        base, head = self.manifest.base, self.manifest.head
        expected = [(info.file, info.sha256) for info in self.tasks]
        expected.append((head.reference_file, head.reference_sha256))
        if base.weights_file:
            expected.append((base.weights_file, base.weights_sha256))
        problems = []
        for relative, digest in expected:
            try:
                file = self.file(relative)
            except BundleError as exc:
                problems.append(str(exc))
                continue
            if not file.is_file():
                problems.append(f"missing {relative}")
            elif file_sha256(file) != digest:
                problems.append(f"{relative} changed since the bundle was written")
        return problems

    def size_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())

    def summary(self) -> dict[str, Any]:
        """A plain description for ``bundle info`` and the GUI's settings dialog."""
        n_params = sum(_numel(shape) for shape in self.layers.values())
        return {
            "path": str(self.path),
            "bundle_id": self.bundle_id,
            "is_test_bundle": self.is_test_bundle,
            "description": self.description,
            "base_model": self.spec.model_name,
            "pretrained": self.base_source,
            "layers": len(self.layers),
            "parameters": n_params,
            "coefficients": len(self.layers) * len(self.tasks),
            "dtype": str(self.dtype).replace("torch.", ""),
            "size_bytes": self.size_bytes(),
            "created": self.manifest.created,
            "tasks": [asdict(t) for t in self.tasks],
        }


def _numel(shape: Sequence[int]) -> int:
    total = 1
    for dim in shape:
        total *= dim
    return total
