"""theta_pre of a bundle: its scorer built from the base section and the reference head.

Kept apart from the bundle format (:mod:`bundle`), which only reads files: this is where OpenCLIP
builds the architecture and the base weights (embedded, packaged or downloaded) go into it.
"""

from __future__ import annotations

import torch

from aesthetic_curator.engine.bundle import Bundle, StateDict, scorer_layers
from aesthetic_curator.engine.scorer import Scorer, create_scorer
from aesthetic_curator.errors import BundleError


def create_base_scorer(bundle: Bundle, device: torch.device | str = "cpu") -> Scorer:
    """The base tower (embedded, from a package, or downloaded by OpenCLIP) with the reference head."""
    scorer = create_scorer(bundle.spec, device="cpu")
    actual = scorer_layers(scorer)
    if actual != bundle.layers:
        raise BundleError(
            f"{bundle.path}: the base model {bundle.spec.model_name} has {len(actual)} parameter tensors "
            f"that do not match the bundle's {len(bundle.layers)} layers"
        )
    state: StateDict = {}
    base, head = bundle.manifest.base, bundle.manifest.head
    if base.weights_file:
        visual_layers = {k: v for k, v in bundle.layers.items() if k.startswith("visual.")}
        weights = bundle.read_tensors(base.weights_file, base.weights_sha256)
        bundle.check_keys(weights, visual_layers, f"{bundle.path}/{base.weights_file}")
        state.update(weights)
    head_layers = {k: v for k, v in bundle.layers.items() if k.startswith("head.")}
    reference = bundle.read_tensors(head.reference_file, head.reference_sha256)
    bundle.check_keys(reference, head_layers, f"{bundle.path}/{head.reference_file}")
    state.update(reference)
    scorer.load_state_dict(state, strict=False)
    return scorer.to(device).eval()
