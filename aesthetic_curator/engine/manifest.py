"""A bundle's ``manifest.json`` as typed data: read, checked and written in this one place.

The manifest says which base model a bundle's task vectors belong to, the shape of every layer,
and each task's file, checksum and encoding. Its ``bundle_id`` is a hash over exactly the fields that
define the merged model (not descriptions or dates), so a profile can tell whether it fits a bundle,
and an edited manifest is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from aesthetic_curator.engine.packaged_base import PackagedBase
from aesthetic_curator.engine.scorer import DEFAULT_TEMPLATE, ScorerSpec
from aesthetic_curator.errors import BundleError

BUNDLE_FORMAT = "aesthetic-curator-bundle"
FORMAT_VERSION = 3  # 2: bases from installed packages, int8 task encoding; 3: int4 task encoding
DTYPE_NAMES = ("float16", "bfloat16", "float32")
DENSE, INT8, INT4 = "dense", "int8", "int4"  # task vector encodings
ENCODINGS = (DENSE, INT8, INT4)


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
    encoding: str = DENSE  # DENSE (the bundle's dtype), INT8 or INT4 (see task_vector.encode_int8/int4)
    zero_layers: list[str] = field(default_factory=list)  # INT8/INT4: layers this task left unchanged

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TaskInfo:
        known = {f.name for f in fields(cls)}
        info = cls(**{k: v for k, v in data.items() if k in known})
        info = cls(**{**asdict(info), "score_range": tuple(float(v) for v in info.score_range)})
        if info.encoding not in ENCODINGS:
            raise ValueError(f"task {info.name} has the unknown encoding {info.encoding!r}")
        return info

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "score_range": list(self.score_range)}


@dataclass(frozen=True)
class BaseSection:
    """Where theta_pre comes from: an OpenCLIP tag, an installed package, or a file in the bundle."""

    model: str  # OpenCLIP model name (or a config registered from ``model_config``)
    pretrained: str | None = None  # OpenCLIP pretrained tag, downloaded on first use
    model_config: dict[str, Any] | None = None  # an OpenCLIP model config carried by the bundle
    package: PackagedBase | None = None  # weights inside an installed Python package
    weights_file: str | None = None  # weights embedded in the bundle ...
    weights_sha256: str | None = None  # ... and their checksum

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BaseSection:
        package = data.get("package")
        return cls(
            model=str(data["model"]),
            pretrained=data.get("pretrained"),
            model_config=data.get("model_config"),
            package=PackagedBase.from_manifest(package) if package else None,
            weights_file=data.get("weights_file"),
            weights_sha256=data.get("weights_sha256"),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "pretrained": self.pretrained, "model_config": self.model_config}
        if self.package is not None:
            out["package"] = self.package.to_manifest()
        if self.weights_file:
            out.update(weights_file=self.weights_file, weights_sha256=self.weights_sha256)
        return out


@dataclass(frozen=True)
class HeadSection:
    """The scoring head's shape and its fixed reference weights (the head has no pretrained value)."""

    hidden: int
    reference_file: str
    reference_sha256: str | None = None
    dropout: float = 0.5
    template: tuple[float, ...] = DEFAULT_TEMPLATE

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HeadSection:
        return cls(
            hidden=int(data["hidden"]),
            reference_file=str(data["reference_file"]),
            reference_sha256=data.get("reference_sha256"),
            dropout=float(data.get("dropout", 0.5)),
            template=tuple(float(v) for v in data.get("template", DEFAULT_TEMPLATE)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "hidden": self.hidden,
            "dropout": self.dropout,
            "template": list(self.template),
            "reference_file": self.reference_file,
            "reference_sha256": self.reference_sha256,
        }


@dataclass
class Manifest:
    """Everything ``manifest.json`` holds; fields this version does not know are kept in ``extra``."""

    base: BaseSection
    head: HeadSection
    layers: dict[str, list[int]]  # parameter name -> shape, in module order
    tasks: list[TaskInfo]
    dtype: str = "float16"  # of dense task vectors
    description: str = ""
    created: str = ""
    modified: str = ""
    is_test_bundle: bool = False
    is_builtin: bool = False
    format_version: int = FORMAT_VERSION
    bundle_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any, origin: str) -> Manifest:
        """The one check of a manifest's shape: any problem is a :class:`BundleError` naming ``origin``."""
        if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
            raise BundleError(f"{origin}: not an Aesthetic Curator bundle")
        try:
            version = int(data.get("format_version", 0))
        except (TypeError, ValueError):
            raise BundleError(f"{origin}: malformed manifest (format_version is not a number)") from None
        if version > FORMAT_VERSION:
            raise BundleError(
                f"{origin}: bundle format {version} is newer than this app supports ({FORMAT_VERSION}); "
                "update Aesthetic Curator"
            )
        known = {f.name for f in fields(cls)} | {"format"}
        try:
            manifest = cls(
                base=BaseSection.from_json(data["base"]),
                head=HeadSection.from_json(data["head"]),
                layers={str(name): [int(d) for d in shape] for name, shape in data["layers"]},
                tasks=[TaskInfo.from_json(t) for t in data["tasks"]],
                dtype=str(data.get("dtype", "float16")),
                description=str(data.get("description", "")),
                created=str(data.get("created", "")),
                modified=str(data.get("modified", "")),
                is_test_bundle=bool(data.get("is_test_bundle", False)),
                is_builtin=bool(data.get("is_builtin", False)),
                format_version=version,
                bundle_id=str(data.get("bundle_id", "")),
                extra={k: v for k, v in data.items() if k not in known},
            )
            if manifest.dtype not in DTYPE_NAMES:
                raise ValueError(f"unknown dtype {manifest.dtype!r}")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BundleError(f"{origin}: malformed manifest ({exc!r})") from exc
        if not manifest.tasks:
            raise BundleError(f"{origin}: the bundle has no tasks")
        if data.get("bundle_id") != compute_bundle_id(data):
            raise BundleError(f"{origin}: manifest was edited or is corrupt (bundle id does not match its content)")
        return manifest

    def to_json(self) -> dict[str, Any]:
        """The JSON form, with ``bundle_id`` computed from it."""
        data: dict[str, Any] = {
            "format": BUNDLE_FORMAT,
            "format_version": self.format_version,
            "created": self.created,
            "is_test_bundle": self.is_test_bundle,
            "description": self.description,
            "dtype": self.dtype,
            "base": self.base.to_json(),
            "head": self.head.to_json(),
            "layers": [[name, list(shape)] for name, shape in self.layers.items()],
            "tasks": [t.to_json() for t in self.tasks],
            **self.extra,
        }
        if self.is_builtin:
            data["is_builtin"] = True
        if self.modified:
            data["modified"] = self.modified
        data["bundle_id"] = compute_bundle_id(data)
        return data

    def to_text(self) -> str:
        return json.dumps(self.to_json(), indent=2)

    @property
    def task_names(self) -> list[str]:
        return [t.name for t in self.tasks]

    def scorer_spec(self) -> ScorerSpec:
        """The architecture of the bundle's scorer (its weights come from the base section and the head)."""
        return ScorerSpec(
            model_name=self.base.model,
            pretrained=self.base.pretrained,
            model_config=self.base.model_config,
            packaged=self.base.package,
            head_hidden=self.head.hidden,
            head_dropout=self.head.dropout,
            template=self.head.template,
        )


def required_format_version(tasks: Sequence[TaskInfo]) -> int:
    """The oldest format that can read these tasks, so apps that predate int4 still open other bundles."""
    return FORMAT_VERSION if any(t.encoding == INT4 for t in tasks) else 2


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


def _encoding_identity(task: Mapping[str, Any]) -> Sequence[Any]:
    if task.get("encoding", DENSE) == DENSE:
        return []
    return [task.get("encoding"), sorted(task.get("zero_layers", []))]
