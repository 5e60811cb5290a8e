"""Writing bundles: a new one assembled beside its destination and renamed into place, or new tasks
added to an existing one, with the manifest replaced in one rename."""

from __future__ import annotations

import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import torch
from safetensors.torch import save_file

from aesthetic_curator.atomic import atomic_write_text
from aesthetic_curator.engine.bundle import DTYPES, MANIFEST_NAME, Bundle, file_sha256, scorer_layers
from aesthetic_curator.engine.manifest import (
    DENSE,
    ENCODINGS,
    INT4,
    INT8,
    BaseSection,
    HeadSection,
    Manifest,
    TaskInfo,
    required_format_version,
)
from aesthetic_curator.engine.scorer import Scorer
from aesthetic_curator.engine.task_vector import TaskVector
from aesthetic_curator.errors import BundleError
from aesthetic_curator.paths import confined_relpath

log = logging.getLogger(__name__)

BASE_WEIGHTS_NAME = "base.safetensors"
HEAD_REFERENCE_NAME = "head_reference.safetensors"
TASK_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

TaskEntry = tuple[TaskInfo, Mapping[str, torch.Tensor]]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _save(tensors: Mapping[str, torch.Tensor], path: Path, dtype: torch.dtype | None = None) -> str:
    prepared = {k: (v.to(dtype) if dtype else v).detach().cpu().contiguous() for k, v in tensors.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(prepared, str(path))
    return file_sha256(path)


@contextmanager
def _staged_folder(out: Path) -> Iterator[Path]:
    """A hidden sibling folder to assemble a bundle in; it replaces ``out`` in one rename at the end."""
    staging = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    staging.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield staging
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_bundle(
    out: str | os.PathLike[str],
    *,
    base_scorer: Scorer,
    tasks: Sequence[TaskEntry],
    embed_base_weights: bool,
    is_test_bundle: bool = False,
    is_builtin: bool = False,
    description: str = "",
    dtype: torch.dtype = torch.float16,
    encoding: str = DENSE,
    overwrite: bool = False,
    extra_files: Mapping[str, bytes] | None = None,
) -> Bundle:
    """Write a bundle atomically: it is assembled in a hidden sibling folder and renamed into place.

    ``base_scorer`` is theta_pre (its head is the reference head); each task vector must cover every
    layer of it, by name and shape. ``extra_files`` (relative name -> bytes) travel with the bundle,
    e.g. the licence notice of the data its tasks were trained on.
    """
    out = Path(out)
    check_output_folder(out, overwrite)
    _check_task_names([info.name for info, _ in tasks])
    layers = scorer_layers(base_scorer)
    dtype_name = {v: k for k, v in DTYPES.items()}[dtype]
    with _staged_folder(out) as staging:
        staging.mkdir()
        spec = base_scorer.spec
        state = {k: v for k, v in base_scorer.state_dict().items() if k in layers}
        base = BaseSection(spec.model_name, None if embed_base_weights else spec.pretrained, spec.model_config)
        if spec.packaged is not None and not embed_base_weights:
            base = replace(base, package=spec.packaged)
        elif embed_base_weights:
            visual = {k: v for k, v in state.items() if k.startswith("visual.")}
            digest = _save(visual, staging / BASE_WEIGHTS_NAME, torch.float32)
            base = replace(base, weights_file=BASE_WEIGHTS_NAME, weights_sha256=digest)
        elif spec.pretrained is None:
            raise BundleError("a bundle without embedded base weights needs a pretrained tag for its base model")
        reference = {k: v for k, v in state.items() if k.startswith("head.")}
        head = HeadSection(
            hidden=spec.head_hidden,
            reference_file=HEAD_REFERENCE_NAME,
            reference_sha256=_save(reference, staging / HEAD_REFERENCE_NAME, torch.float32),
            dropout=spec.head_dropout,
            template=tuple(spec.template),
        )
        entries = [_write_task(staging, info, tau, layers, dtype, encoding) for info, tau in tasks]
        for relative, content in (extra_files or {}).items():
            target = staging / confined_relpath(staging, relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        manifest = Manifest(
            base=base,
            head=head,
            layers=layers,
            tasks=entries,
            dtype=dtype_name,
            description=description,
            created=_now(),
            is_test_bundle=is_test_bundle,
            is_builtin=is_builtin,
            format_version=required_format_version(entries),
        )
        (staging / MANIFEST_NAME).write_text(manifest.to_text(), encoding="utf-8")
    log.debug("wrote bundle %s with %d tasks", out, len(tasks))
    return Bundle.load(out)


def add_tasks_to_bundle(bundle: Bundle, tasks: Sequence[TaskEntry]) -> Bundle:
    """Grow a bundle in place: new task files first, then the manifest is replaced in one rename.

    Existing files are never rewritten, so the existing task vectors stay bit-identical. Until the
    new manifest is in place the bundle is the old one; an interrupted call leaves at most unused
    files in ``tasks/``. The bundle id changes (profiles made on the old bundle no longer apply;
    re-personalize from the same ratings).
    """
    _check_task_names([*bundle.task_names, *(info.name for info, _ in tasks)])
    encoding = next((t.encoding for t in bundle.tasks if t.encoding != DENSE), DENSE)
    entries = [_write_task(bundle.path, info, tau, bundle.layers, bundle.dtype, encoding) for info, tau in tasks]
    added = ", ".join(f"{info.name} ({info.dataset})" for info, _ in tasks)
    manifest = replace(
        bundle.manifest,
        tasks=[*bundle.tasks, *entries],
        format_version=max(bundle.manifest.format_version, required_format_version(entries)),
        modified=_now(),
        description=f"{bundle.description} Added: {added}.".strip(),
    )
    atomic_write_text(bundle.path / MANIFEST_NAME, manifest.to_text())
    log.debug("added %d tasks to bundle %s", len(tasks), bundle.path)
    return Bundle.load(bundle.path)


def recode_bundle(bundle: Bundle, out: str | os.PathLike[str], encoding: str, *, overwrite: bool = False) -> Bundle:
    """A copy of ``bundle`` with every task vector stored in ``encoding`` (e.g. int4: a quarter of float16).

    Everything else is copied as it is (base reference, head, notices), so only the task files and the
    bundle id change; profiles of the original must be learned again for the copy.
    """
    out = Path(out)
    check_output_folder(out, overwrite)
    replaced = {*(info.file for info in bundle.tasks), MANIFEST_NAME}

    def ignore(folder: str, names: list[str]) -> list[str]:
        return [n for n in names if (Path(folder) / n).relative_to(bundle.path).as_posix() in replaced]

    with _staged_folder(out) as staging:
        shutil.copytree(bundle.path, staging, ignore=ignore)
        entries = [
            _write_task(staging, info, bundle.load_task_vector(i), bundle.layers, bundle.dtype, encoding)
            for i, info in enumerate(bundle.tasks)
        ]
        manifest = replace(
            bundle.manifest,
            tasks=entries,
            format_version=max(bundle.manifest.format_version, required_format_version(entries)),
            modified=_now(),
            is_builtin=False,
        )
        (staging / MANIFEST_NAME).write_text(manifest.to_text(), encoding="utf-8")
    return Bundle.load(out)


def _check_task_names(names: Sequence[str]) -> None:
    for name in names:
        if not TASK_NAME_PATTERN.match(name):
            raise BundleError(f"invalid task name '{name}': use letters, digits, '.', '_' or '-'")
    if len(set(names)) != len(names):
        raise BundleError(f"duplicate task names in {list(names)}")


def _write_task(
    folder: Path,
    info: TaskInfo,
    tau: Mapping[str, torch.Tensor],
    layers: Mapping[str, list[int]],
    dtype: torch.dtype,
    encoding: str = DENSE,
) -> TaskInfo:
    """Save one task vector under ``folder/tasks/`` and return its manifest entry."""
    _check_task_vector(info.name, tau, layers)
    relative = f"tasks/{info.name}.safetensors"
    vector = TaskVector({k: tau[k] for k in layers})
    if encoding not in ENCODINGS:
        raise BundleError(f"unknown task vector encoding '{encoding}' (choose from {', '.join(ENCODINGS)})")
    if encoding in (INT8, INT4):
        stored, zero = vector.encode_int8() if encoding == INT8 else vector.encode_int4()
        digest = _save(stored, folder / relative)
        return replace(info, file=relative, sha256=digest, encoding=encoding, zero_layers=zero)
    digest = _save(dict(vector), folder / relative, dtype)
    return replace(info, file=relative, sha256=digest, encoding=DENSE, zero_layers=[])


def check_output_folder(out: Path, overwrite: bool) -> None:
    """Refuse to replace a non-empty folder unless asked to; called before any expensive work."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise BundleError(f"{out} already exists and is not empty (use --force to replace it)")


def _check_task_vector(name: str, tau: Mapping[str, torch.Tensor], layers: Mapping[str, list[int]]) -> None:
    missing = [k for k in layers if k not in tau]
    if missing:
        raise BundleError(f"task vector '{name}' lacks {len(missing)} layers, e.g. {missing[0]}")
    for key, shape in layers.items():
        if list(tau[key].shape) != shape:
            raise BundleError(f"task vector '{name}': {key} has shape {list(tau[key].shape)}, expected {shape}")
