"""The scorer: an OpenCLIP image tower plus the paper's distribution head.

Every task model, the merged personal model and the baked model are all instances of
:class:`Scorer`, built by :func:`create_scorer` from a :class:`ScorerSpec`.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import open_clip
import torch
from torch import nn

from aesthetic_curator.engine.packaged_base import PackagedBase, tower_state
from aesthetic_curator.errors import BundleError
from aesthetic_curator.paths import cache_dir

log = logging.getLogger(__name__)

#: Score bins of the head; the merged model's score is the expectation over these values.
DEFAULT_TEMPLATE: tuple[float, ...] = tuple(float(v) for v in range(1, 11))

_PACKAGED_CONFIGS = Path(__file__).with_name("model_configs")
_registry_lock = threading.Lock()
_registered_dir: Path | None = None


@dataclass(frozen=True)
class ScorerSpec:
    """Everything needed to build a scorer's architecture (not its weights)."""

    model_name: str  # an OpenCLIP model name, e.g. "ViT-B-16", or a custom config's name
    pretrained: str | None = None  # OpenCLIP pretrained tag; None when weights come from a bundle file
    model_config: dict[str, Any] | None = None  # full OpenCLIP config for custom (non-builtin) models
    head_hidden: int = 512  # width of the head's hidden layer (paper: 512)
    head_dropout: float = 0.5  # dropout in the head (paper: 0.5); inactive in eval mode
    template: tuple[float, ...] = field(default=DEFAULT_TEMPLATE)  # value of each output bin
    packaged: PackagedBase | None = None  # base weights from an installed package (no download, no embedding)


def open_clip_cache_dir() -> Path:
    """Where OpenCLIP downloads base weights on a user's machine."""
    return cache_dir() / "open_clip"


#: A key of our own in a model config: the image preprocessing its weights were trained with
#: (OpenCLIP reads it only from hub configs, so it is handed over as ``force_preprocess_cfg``).
PREPROCESS_KEY = "preprocess_cfg"


def packaged_model_config(name: str) -> dict[str, Any] | None:
    """The OpenCLIP config of a custom architecture shipped with the app (``model_configs/NAME.json``)."""
    path = _PACKAGED_CONFIGS / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def register_model_config(name: str, config: dict[str, Any]) -> None:
    """Make a custom architecture known to OpenCLIP under ``name`` (idempotent).

    Bundles carry the config of custom models in their manifest, so a test bundle made on one
    machine loads on any other without shipping extra files.
    """
    global _registered_dir
    with _registry_lock:
        config = {k: v for k, v in config.items() if k != PREPROCESS_KEY}
        existing = open_clip.get_model_config(name)
        if existing is not None:
            existing = {k: v for k, v in existing.items() if k != PREPROCESS_KEY}
            if _canonical(existing) != _canonical(config):
                raise BundleError(f"model config '{name}' conflicts with an already registered architecture")
            return
        if _registered_dir is None:
            _registered_dir = Path(tempfile.mkdtemp(prefix="aesthetic-curator-configs-"))
            open_clip.add_model_config(_registered_dir)
        (_registered_dir / f"{name}.json").write_text(json.dumps(config))
        open_clip.add_model_config(_registered_dir)


def _canonical(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True)


class ScoreHead(nn.Module):
    """Linear -> GELU -> Dropout -> Linear(10) -> Sigmoid, normalised to a distribution over bins.

    The layer names (``projection.0``, ``projection.3``) match the authors' checkpoints so their
    head weights can be imported by name.
    """

    def __init__(self, embed_dim: int, hidden: int, dropout: float, template: tuple[float, ...]) -> None:
        super().__init__()
        self.projection = nn.Sequential(
            nn.Linear(embed_dim, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, len(template)),
            nn.Sigmoid(),
        )
        self.register_buffer("template", torch.tensor(template, dtype=torch.float32), persistent=False)

    def distribution(self, embedding: torch.Tensor) -> torch.Tensor:
        probs = self.projection(embedding)
        return probs / probs.sum(dim=-1, keepdim=True)

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        # Always float32, also under a GPU's autocast: a score in bf16 has 8 bits of mantissa (steps of
        # 1/32 between 4 and 8), which would tie most photos of an album.
        with torch.autocast(embedding.device.type, enabled=False):
            return self.distribution(embedding.float()) @ self.template


class Scorer(nn.Module):
    """Image tensor batch -> one aesthetic score per image."""

    def __init__(self, spec: ScorerSpec, visual: nn.Module) -> None:
        super().__init__()
        self.spec = spec
        self.visual = visual
        embed_dim = int(getattr(visual, "output_dim", 0) or _timm_feature_width(visual))
        self.head = ScoreHead(embed_dim, spec.head_hidden, spec.head_dropout, spec.template)
        cfg = getattr(visual, "preprocess_cfg", {}) or {}
        size = cfg.get("size", visual.image_size)
        self.image_size = int(size[0] if isinstance(size, (tuple, list)) else size)
        self.mean = tuple(float(v) for v in cfg.get("mean", open_clip.OPENAI_DATASET_MEAN))
        self.std = tuple(float(v) for v in cfg.get("std", open_clip.OPENAI_DATASET_STD))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.visual(images))

    def float_parameter_names(self) -> list[str]:
        """The 'layers' of the method: every floating-point parameter tensor, in module order."""
        return [name for name, p in self.named_parameters() if p.is_floating_point()]


def freeze_norm_statistics(model: nn.Module) -> None:
    """Put batch-norm layers in eval mode: their running statistics are buffers, not parameters, so a
    task vector cannot carry them; training must use (and keep) the base's statistics."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


def _timm_feature_width(visual: nn.Module) -> int:
    """OpenCLIP's timm towers have no ``output_dim``; without a projection their width is the trunk's."""
    trunk = getattr(visual, "trunk", None)
    if trunk is None:
        raise BundleError(f"cannot tell the embedding width of the image tower {type(visual).__name__}")
    return int(trunk.num_features)


def create_scorer(spec: ScorerSpec, *, device: torch.device | str = "cpu", head_seed: int = 0) -> Scorer:
    """Build a scorer; OpenCLIP downloads ``spec.pretrained`` weights into the user cache if needed.

    Without a pretrained tag the tower is randomly initialised (weights are expected to be loaded
    afterwards from a bundle). The head is always seeded so the reference head is reproducible.
    """
    config = spec.model_config or packaged_model_config(spec.model_name)
    if config is not None:
        register_model_config(spec.model_name, config)
    if open_clip.get_model_config(spec.model_name) is None:
        raise BundleError(f"unknown model architecture '{spec.model_name}' (not an OpenCLIP model name)")
    config = config or {}
    try:
        clip = open_clip.create_model(
            spec.model_name,
            pretrained=spec.pretrained,
            cache_dir=str(open_clip_cache_dir()),
            require_pretrained=spec.pretrained is not None,
            force_preprocess_cfg=config.get(PREPROCESS_KEY),
        )
    except BundleError:
        raise
    except Exception as exc:  # RuntimeError from OpenCLIP, OSError/hub errors from the download, bad files
        raise BundleError(
            f"cannot load base weights {spec.model_name}:{spec.pretrained} ({exc}); "
            "the first use needs a network connection to download them"
        ) from exc
    visual = clip.visual
    del clip
    if spec.packaged is not None:
        _load_packaged(visual, spec.packaged)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(head_seed)
    try:
        scorer = Scorer(spec, visual)
    finally:
        torch.random.set_rng_state(generator_state)
    return scorer.to(device).eval()


def _load_packaged(visual: nn.Module, base: PackagedBase) -> None:
    """Fill a timm tower (OpenCLIP's ``TimmModel.trunk``) from an installed package's weights, strictly."""
    trunk = getattr(visual, "trunk", None)
    if trunk is None:
        raise BundleError(f"{base.model_name} has no timm trunk to take the weights of {base.distribution}")
    try:
        trunk.load_state_dict(tower_state(base), strict=True)
    except RuntimeError as exc:  # names or shapes that do not fit: a wrong config or a changed package
        raise BundleError(f"the weights of {base.distribution} do not fit {base.model_name} ({exc})") from exc


class _RandomInitFilter(logging.Filter):
    """Drop OpenCLIP's 'initialized randomly' warning: our towers get their weights from a bundle."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "No pretrained weights loaded" not in record.getMessage()


logging.getLogger().addFilter(_RandomInitFilter())
