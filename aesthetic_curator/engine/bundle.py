"""The task-vector bundle: a folder holding a base model reference and one task vector per task.

Layout::

    BUNDLE/manifest.json              format version, base model, head, layers, tasks, bundle id
    BUNDLE/base.safetensors           base tower weights (only for self-made bundles)
    BUNDLE/head_reference.safetensors the fixed reference head (the head has no pretrained value)
    BUNDLE/tasks/<name>.safetensors   tau_i = theta_finetuned_i - theta_pre, keyed by parameter name

The base comes from one of three places: an OpenCLIP pretrained tag (downloaded on first use), an
installed Python package (``base.package``: distribution, version, file, sha256; the built-in model),
or ``base.safetensors`` in the bundle. Task vectors are stored in the bundle's float dtype, or compactly
(``encoding: int8``): matrices as int8 with one float scale per output row, vectors in float16, and
layers the task never changed listed in ``zero_layers`` instead of stored.

Everything is safetensors, so loading a bundle never unpickles anything.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from aesthetic_curator.engine.packaged_base import PackagedBase
from aesthetic_curator.engine.scorer import DEFAULT_TEMPLATE, Scorer, ScorerSpec, create_scorer
from aesthetic_curator.errors import BundleError
from aesthetic_curator.paths import confined_relpath

log = logging.getLogger(__name__)

BUNDLE_FORMAT = "aesthetic-curator-bundle"
FORMAT_VERSION = 2  # 2: bases from installed packages, int8 task encoding
MANIFEST_NAME = "manifest.json"
BASE_WEIGHTS_NAME = "base.safetensors"
HEAD_REFERENCE_NAME = "head_reference.safetensors"
TASK_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

StateDict = dict[str, torch.Tensor]

#: Files whose checksum this process has confirmed, with the (size, mtime, expected sha256) they had:
#: one Personalize press loads the same bundle several times, and each file is hashed only once.
_VERIFIED: dict[Path, tuple[int, int, str]] = {}

_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}

DENSE, INT8 = "dense", "int8"  # task vector encodings
_SCALE_SUFFIX = "#scale"  # int8 matrices carry their per-row scales under NAME#scale


@dataclass(frozen=True)
class TaskInfo:
    """What one task vector was trained on; shown to users and kept for provenance."""

    name: str  # short identifier, e.g. "ava"
    dataset: str  # source dataset, e.g. "AVA" or "synthetic: brightness"
    score_range: tuple[float, float]  # the dataset's own score scale (mapped to 1-10 for training)
    notes: str = ""  # how it was trained, free text
    metrics: dict[str, float] = field(default_factory=dict)  # e.g. test SROCC/PLCC of the task model
    file: str = ""  # path of the task vector inside the bundle
    sha256: str = ""  # checksum of that file
    encoding: str = DENSE  # DENSE (the bundle's dtype) or INT8 (see the module docstring)
    zero_layers: list[str] = field(default_factory=list)  # INT8 only: layers this task left unchanged


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def task_vector_from(finetuned: Mapping[str, torch.Tensor], base: Mapping[str, torch.Tensor]) -> StateDict:
    """tau = theta_finetuned - theta_pre for every floating-point tensor both share, by name."""
    missing = sorted(set(base) - set(finetuned))
    if missing:
        raise BundleError(f"fine-tuned weights lack {len(missing)} base parameters, e.g. {missing[0]}")
    tau: StateDict = {}
    for name, pre in base.items():
        tuned = finetuned[name]
        if tuned.shape != pre.shape:
            raise BundleError(f"shape of {name} differs: {tuple(tuned.shape)} vs base {tuple(pre.shape)}")
        if pre.is_floating_point():
            tau[name] = tuned.detach().float().cpu() - pre.detach().float().cpu()
    return tau


def scorer_layers(scorer: Scorer) -> dict[str, list[int]]:
    """Name -> shape of every 'layer' (floating parameter tensor) of a scorer, in module order."""
    return {name: list(p.shape) for name, p in scorer.named_parameters() if p.is_floating_point()}


class Bundle:
    """A loaded bundle manifest plus lazy access to its tensors."""

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = path
        self.manifest = manifest
        try:
            base = manifest["base"]
            head = manifest["head"]
            package = base.get("package")
            self.spec = ScorerSpec(
                model_name=base["model"],
                pretrained=base.get("pretrained"),
                model_config=base.get("model_config"),
                packaged=PackagedBase.from_manifest(package) if package else None,
                head_hidden=int(head["hidden"]),
                head_dropout=float(head.get("dropout", 0.5)),
                template=tuple(float(v) for v in head.get("template", DEFAULT_TEMPLATE)),
            )
            self.layers: dict[str, list[int]] = {name: list(shape) for name, shape in manifest["layers"]}
            self.tasks = [TaskInfo(**{**t, "score_range": tuple(t["score_range"])}) for t in manifest["tasks"]]
            self.dtype = _DTYPES[manifest.get("dtype", "float16")]
            for info in self.tasks:
                self._file(info.file)
                if info.encoding not in (DENSE, INT8):
                    raise ValueError(f"task {info.name} has the unknown encoding {info.encoding!r}")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BundleError(f"{path}: malformed manifest ({exc!r})") from exc
        if not self.tasks:
            raise BundleError(f"{path}: the bundle has no tasks")
        expected = compute_bundle_id(manifest)
        if manifest.get("bundle_id") != expected:
            raise BundleError(f"{path}: manifest was edited or is corrupt (bundle id does not match its content)")

    # -- identity -------------------------------------------------------------------------------------
    @property
    def bundle_id(self) -> str:
        return self.manifest["bundle_id"]

    @property
    def is_test_bundle(self) -> bool:
        return bool(self.manifest.get("is_test_bundle", False))

    @property
    def task_names(self) -> list[str]:
        return [t.name for t in self.tasks]

    @property
    def layer_names(self) -> list[str]:
        return list(self.layers)

    @property
    def description(self) -> str:
        return str(self.manifest.get("description", ""))

    # -- loading --------------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Bundle:
        path = Path(path)
        manifest_path = path / MANIFEST_NAME
        if not manifest_path.is_file():
            raise BundleError(f"{path}: not a bundle (no {MANIFEST_NAME})")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BundleError(f"{manifest_path}: cannot read manifest ({exc})") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
            raise BundleError(f"{path}: not an Aesthetic Curator bundle")
        try:
            version = int(manifest.get("format_version", 0))
        except (TypeError, ValueError):
            raise BundleError(f"{path}: malformed manifest (format_version is not a number)") from None
        if version > FORMAT_VERSION:
            raise BundleError(
                f"{path}: bundle format {manifest['format_version']} is newer than this app supports "
                f"({FORMAT_VERSION}); update Aesthetic Curator"
            )
        return cls(path, manifest)

    def _file(self, relative: str) -> Path:
        """A file the manifest names, refusing any name that leads out of the bundle folder."""
        try:
            return self.path / confined_relpath(self.path, relative)
        except (ValueError, TypeError):
            raise BundleError(f"{self.path}: the manifest names '{relative}', which is not inside the bundle") from None

    def _read_tensors(self, relative: str, sha256: str | None, device: torch.device | str = "cpu") -> StateDict:
        """Load one tensor file after checking it against the manifest's sha256 (cheap next to a
        forward pass; remembered per file while its size and time stay the same) and refusing
        non-finite values, so a damaged or altered bundle never ranks silently wrong."""
        file = self._file(relative)
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

    def _check_keys(self, tensors: Mapping[str, torch.Tensor], expected: Mapping[str, list[int]], what: str) -> None:
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

    def create_base_scorer(self, device: torch.device | str = "cpu") -> Scorer:
        """theta_pre: the base tower (embedded or downloaded by OpenCLIP) with the reference head."""
        scorer = create_scorer(self.spec, device="cpu")
        actual = scorer_layers(scorer)
        if actual != self.layers:
            raise BundleError(
                f"{self.path}: the base model {self.spec.model_name} has {len(actual)} parameter tensors "
                f"that do not match the bundle's {len(self.layers)} layers"
            )
        state: StateDict = {}
        base_file = self.manifest["base"].get("weights_file")
        if base_file:
            visual_layers = {k: v for k, v in self.layers.items() if k.startswith("visual.")}
            base = self._read_tensors(base_file, self.manifest["base"].get("weights_sha256"))
            self._check_keys(base, visual_layers, f"{self.path}/{base_file}")
            state.update(base)
        head_layers = {k: v for k, v in self.layers.items() if k.startswith("head.")}
        head_section = self.manifest["head"]
        head = self._read_tensors(head_section["reference_file"], head_section.get("reference_sha256"))
        self._check_keys(head, head_layers, f"{self.path}/{head_section['reference_file']}")
        state.update(head)
        scorer.load_state_dict(state, strict=False)
        return scorer.to(device).eval()

    def load_task_vector(
        self, task: str | int, *, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"
    ) -> StateDict:
        info = self.tasks[task] if isinstance(task, int) else self.task(task)
        tensors = self._read_tensors(info.file, info.sha256, device)
        if info.encoding == INT8:
            tensors = _decode_int8(tensors, self.layers, info.zero_layers, f"task vector '{info.name}'")
        self._check_keys(tensors, self.layers, f"task vector '{info.name}'")
        return {name: tensors[name].to(dtype) for name in self.layers}

    def task(self, name: str) -> TaskInfo:
        for info in self.tasks:
            if info.name == name:
                return info
        raise BundleError(f"{self.path}: no task named '{name}' (tasks: {', '.join(self.task_names)})")

    def verify_files(self) -> list[str]:
        """Re-hash every file; returns the problems found (empty when the bundle is intact)."""
        base, head = self.manifest["base"], self.manifest["head"]
        expected = [(info.file, info.sha256) for info in self.tasks]
        expected.append((head["reference_file"], head.get("reference_sha256")))
        if base.get("weights_file"):
            expected.append((base["weights_file"], base.get("weights_sha256")))
        problems = []
        for relative, digest in expected:
            try:
                file = self._file(relative)
            except BundleError as exc:
                problems.append(str(exc))
                continue
            if not file.is_file():
                problems.append(f"missing {relative}")
            elif file_sha256(file) != digest:
                problems.append(f"{relative} changed since the bundle was written")
        return problems

    @property
    def base_source(self) -> str:
        """Where the base weights come from, in words."""
        if self.spec.packaged is not None:
            return f"installed package {self.spec.packaged.distribution}=={self.spec.packaged.version}"
        return self.spec.pretrained or "embedded in bundle"

    @property
    def is_builtin(self) -> bool:
        return bool(self.manifest.get("is_builtin", False))

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
            "created": self.manifest.get("created", ""),
            "tasks": [asdict(t) for t in self.tasks],
        }


def _numel(shape: Sequence[int]) -> int:
    total = 1
    for dim in shape:
        total *= dim
    return total


def compute_bundle_id(manifest: Mapping[str, Any]) -> str:
    """A content hash over everything that defines the merged model (not descriptions or dates)."""
    base = manifest.get("base", {})
    head = manifest.get("head", {})
    identity = {
        "base": [base.get("model"), base.get("pretrained"), base.get("model_config"), base.get("weights_sha256")],
        # a base from a package is identified by its file's checksum (older bundles keep their id)
        **({"package": (base["package"] or {}).get("sha256")} if "package" in base else {}),
        "head": [head.get("hidden"), head.get("template"), head.get("reference_sha256")],
        "layers": manifest.get("layers"),
        "tasks": [[t.get("name"), t.get("sha256"), *_encoding_identity(t)] for t in manifest.get("tasks", [])],
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]


def _encoding_identity(task: Mapping[str, Any]) -> list[Any]:
    if task.get("encoding", DENSE) == DENSE:
        return []
    return [task.get("encoding"), sorted(task.get("zero_layers", []))]


def encode_int8(tau: Mapping[str, torch.Tensor]) -> tuple[StateDict, list[str]]:
    """The compact form of a task vector: (tensors to store, names of all-zero layers).

    Matrices and kernels become int8 with one float32 scale per output row (max |value| / 127), so the
    rounding error of each entry is at most half a step of its own row; vectors (biases, norms) stay
    float16. A quarter of float32's size, half of float16's.
    """
    stored: StateDict = {}
    zero: list[str] = []
    for name, value in tau.items():
        value = value.detach().float().cpu()
        if not bool(value.any()):
            zero.append(name)
        elif value.ndim < 2:
            stored[name] = value.to(torch.float16)
        else:
            rows = value.reshape(value.shape[0], -1)
            scale = rows.abs().amax(dim=1).clamp(min=torch.finfo(torch.float32).tiny) / 127.0
            stored[name] = torch.round(rows / scale[:, None]).clamp(-127, 127).to(torch.int8).reshape(value.shape)
            stored[name + _SCALE_SUFFIX] = scale
    return stored, zero


def _decode_int8(
    tensors: Mapping[str, torch.Tensor], layers: Mapping[str, list[int]], zero_layers: Sequence[str], what: str
) -> StateDict:
    out: StateDict = {}
    for name, shape in layers.items():
        if name in zero_layers:
            out[name] = torch.zeros(shape, device=next(iter(tensors.values())).device if tensors else "cpu")
        elif name not in tensors:
            raise BundleError(f"{what} does not match the base model's parameters: missing ['{name}']")
        elif tensors[name].dtype == torch.int8:
            scale = tensors.get(name + _SCALE_SUFFIX)
            if scale is None or scale.numel() != tensors[name].shape[0]:
                raise BundleError(f"{what}: the int8 layer {name} has no scale per row")
            out[name] = tensors[name].float() * scale.float().view(-1, *([1] * (tensors[name].ndim - 1)))
        else:
            out[name] = tensors[name].float()
    extra = sorted(set(tensors) - set(out) - {n + _SCALE_SUFFIX for n in out})
    if extra:
        raise BundleError(f"{what} does not match the base model's parameters: unexpected {extra[:3]}")
    return out


def _save(tensors: Mapping[str, torch.Tensor], path: Path, dtype: torch.dtype | None = None) -> str:
    prepared = {k: (v.to(dtype) if dtype else v).detach().cpu().contiguous() for k, v in tensors.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(prepared, str(path))
    return file_sha256(path)


def write_bundle(
    out: str | os.PathLike[str],
    *,
    base_scorer: Scorer,
    tasks: Sequence[tuple[TaskInfo, Mapping[str, torch.Tensor]]],
    embed_base_weights: bool,
    is_test_bundle: bool = False,
    description: str = "",
    dtype: torch.dtype = torch.float16,
    encoding: str = DENSE,
    overwrite: bool = False,
    extra_files: Mapping[str, bytes] | None = None,
    manifest_extra: Mapping[str, Any] | None = None,
) -> Bundle:
    """Write a bundle atomically: it is assembled in a hidden sibling folder and renamed into place.

    ``base_scorer`` is theta_pre (its head is the reference head); each task vector must cover every
    layer of it, by name and shape. ``extra_files`` (relative name -> bytes) travel with the bundle,
    e.g. the licence notice of the data its tasks were trained on; ``manifest_extra`` adds fields.
    """
    out = Path(out)
    check_output_folder(out, overwrite)
    _check_task_names([info.name for info, _ in tasks])
    layers = scorer_layers(base_scorer)
    dtype_name = {v: k for k, v in _DTYPES.items()}[dtype]
    staging = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        spec = base_scorer.spec
        state = {k: v for k, v in base_scorer.state_dict().items() if k in layers}
        base_section: dict[str, Any] = {
            "model": spec.model_name,
            "pretrained": None if embed_base_weights else spec.pretrained,
            "model_config": spec.model_config,
        }
        if spec.packaged is not None and not embed_base_weights:
            base_section["package"] = spec.packaged.to_manifest()
        elif embed_base_weights:
            visual = {k: v for k, v in state.items() if k.startswith("visual.")}
            base_section["weights_file"] = BASE_WEIGHTS_NAME
            base_section["weights_sha256"] = _save(visual, staging / BASE_WEIGHTS_NAME, torch.float32)
        elif spec.pretrained is None:
            raise BundleError("a bundle without embedded base weights needs a pretrained tag for its base model")
        head = {k: v for k, v in state.items() if k.startswith("head.")}
        head_section = {
            "hidden": spec.head_hidden,
            "dropout": spec.head_dropout,
            "template": list(spec.template),
            "reference_file": HEAD_REFERENCE_NAME,
            "reference_sha256": _save(head, staging / HEAD_REFERENCE_NAME, torch.float32),
        }
        task_entries = [_write_task(staging, info, tau, layers, dtype, encoding) for info, tau in tasks]
        for relative, content in (extra_files or {}).items():
            target = staging / confined_relpath(staging, relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        manifest: dict[str, Any] = {
            "format": BUNDLE_FORMAT,
            "format_version": FORMAT_VERSION,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "is_test_bundle": is_test_bundle,
            "description": description,
            "dtype": dtype_name,
            "base": base_section,
            "head": head_section,
            "layers": [[name, shape] for name, shape in layers.items()],
            "tasks": task_entries,
            **dict(manifest_extra or {}),
        }
        manifest["bundle_id"] = compute_bundle_id(manifest)
        (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.debug("wrote bundle %s with %d tasks", out, len(tasks))
    return Bundle.load(out)


def add_tasks_to_bundle(bundle: Bundle, tasks: Sequence[tuple[TaskInfo, Mapping[str, torch.Tensor]]]) -> Bundle:
    """Grow a bundle in place: new task files first, then the manifest is replaced in one rename.

    Existing files are never rewritten, so the existing task vectors stay bit-identical. Until the
    new manifest is in place the bundle is the old one; an interrupted call leaves at most unused
    files in ``tasks/``. The bundle id changes (profiles made on the old bundle no longer apply;
    re-personalize from the same ratings).
    """
    _check_task_names([*bundle.task_names, *(info.name for info, _ in tasks)])
    manifest = json.loads(json.dumps(bundle.manifest))
    encoding = INT8 if any(t.encoding == INT8 for t in bundle.tasks) else DENSE
    entries = [_write_task(bundle.path, info, tau, bundle.layers, bundle.dtype, encoding) for info, tau in tasks]
    manifest["tasks"].extend(entries)
    manifest["modified"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    added = ", ".join(f"{info.name} ({info.dataset})" for info, _ in tasks)
    manifest["description"] = f"{manifest.get('description', '')} Added: {added}.".strip()
    manifest["bundle_id"] = compute_bundle_id(manifest)
    tmp = bundle.path / f".{MANIFEST_NAME}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    os.replace(tmp, bundle.path / MANIFEST_NAME)
    log.debug("added %d tasks to bundle %s", len(tasks), bundle.path)
    return Bundle.load(bundle.path)


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
) -> dict[str, Any]:
    """Save one task vector under ``folder/tasks/`` and return its manifest entry."""
    _check_task_vector(info.name, tau, layers)
    relative = f"tasks/{info.name}.safetensors"
    entry = asdict(info)
    if encoding == INT8:
        stored, zero = encode_int8({k: tau[k] for k in layers})
        digest = _save(stored, folder / relative)
        entry.update(encoding=INT8, zero_layers=zero)
    else:
        digest = _save({k: tau[k] for k in layers}, folder / relative, dtype)
        entry.update(encoding=DENSE, zero_layers=[])
    entry.update(file=relative, sha256=digest, score_range=list(info.score_range))
    return entry


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
