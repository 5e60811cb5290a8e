"""``bundle import-official``: a bundle from the paper authors' published checkpoints.

The authors publish one fine-tuned model per dataset (``clip_L_3fc_{ava,aes,tad,para,koniq,spaq}.pth``,
``clip_B_3fc_*`` for ViT-B-16). Each file holds ``{"model": state_dict}`` of the whole CLIP
(``backbone.*``, text tower included and unchanged by fine-tuning) plus the scoring head
(``score_predictor.projection.0.*`` and ``.3.*``). Importing one means:

* loading it with ``torch.load(..., weights_only=True)``, so nothing but tensors is unpickled;
* checking that every file has the same architecture;
* checking the base: the text tower was never trained, so it must equal the candidate base's text
  tower exactly. A mismatch means the checkpoints came from another base, and the import refuses;
* subtracting the base image tower and the fixed reference head to get each task vector.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import open_clip
import torch

from aesthetic_curator.engine.base_weights import parse_base, read_weights_file
from aesthetic_curator.engine.bundle import Bundle, TaskInfo
from aesthetic_curator.engine.bundle_writer import check_output_folder, write_bundle
from aesthetic_curator.engine.scorer import (
    ScorerSpec,
    create_scorer,
    open_clip_cache_dir,
    packaged_model_config,
    register_model_config,
)
from aesthetic_curator.engine.task_vector import TaskVector
from aesthetic_curator.errors import BundleError
from aesthetic_curator.progress import CancelToken, ProgressCallback, check, report

log = logging.getLogger(__name__)

BACKBONE = "backbone."
HEAD = "score_predictor."
FILE_NAME = re.compile(r"^clip_(?P<arch>[A-Za-z])_3fc_(?P<task>[A-Za-z0-9_-]+)$")

#: Short task name in the authors' file names -> (dataset, its score range).
OFFICIAL_TASKS: dict[str, tuple[str, tuple[float, float]]] = {
    "ava": ("AVA", (1.0, 10.0)),
    "aes": ("Flickr-AES", (1.0, 5.0)),
    "tad": ("TAD66K", (1.0, 10.0)),
    "para": ("PARA", (1.0, 5.0)),
    "koniq": ("KonIQ-10k", (1.0, 5.0)),
    "spaq": ("SPAQ", (0.0, 100.0)),
}

#: The base each architecture letter was fine-tuned from (METHOD.md: the authors use this tag).
DEFAULT_BASES = {"L": "ViT-L-14:datacomp_xl_s13b_b90k", "B": "ViT-B-16:datacomp_xl_s13b_b90k"}

#: Largest difference tolerated between a checkpoint's text tower and the base's (fp16 round trips).
TEXT_TOLERANCE = 1e-3


@dataclass
class OfficialCheckpoint:
    path: Path
    task: str
    arch_letter: str | None
    backbone: dict[str, torch.Tensor]  # CLIP state dict without the "backbone." prefix
    head: dict[str, torch.Tensor]  # keys "projection.0.weight", ...


def load_checkpoint(path: Path) -> OfficialCheckpoint:
    """Read one checkpoint with ``weights_only=True`` and split it into backbone and head."""
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, truncated files, non-tensor payloads
        raise BundleError(f"{path.name}: cannot be read as a checkpoint of tensors ({exc})") from exc
    state = raw.get("model", raw) if isinstance(raw, Mapping) else None
    if not isinstance(state, Mapping):
        raise BundleError(f"{path.name}: expected a dict with a 'model' state dict")
    backbone = {k[len(BACKBONE) :]: v for k, v in state.items() if k.startswith(BACKBONE)}
    head = {k[len(HEAD) :]: v for k, v in state.items() if k.startswith(HEAD)}
    if not any(k.startswith("visual.") for k in backbone) or "projection.0.weight" not in head:
        raise BundleError(f"{path.name}: no 'backbone.visual.*' image tower or 'score_predictor.projection.*' head")
    match = FILE_NAME.match(path.stem)
    task = match.group("task").lower() if match else re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem)
    return OfficialCheckpoint(path, task, match.group("arch").upper() if match else None, backbone, head)


def _base_clip_state(name: str, tag: str | None, base_weights: Path | None) -> dict[str, torch.Tensor]:
    """The whole base CLIP state dict: from a local file, or downloaded by OpenCLIP."""
    config = packaged_model_config(name)
    if config is not None:
        register_model_config(name, config)
    if open_clip.get_model_config(name) is None:
        raise BundleError(f"unknown base architecture '{name}' (not an OpenCLIP model name)")
    if base_weights is not None:
        state = read_weights_file(base_weights)
        clip = open_clip.create_model(name, pretrained=None)
        try:
            missing, _ = clip.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # shapes that do not fit the architecture
            raise BundleError(f"{base_weights.name} does not fit the {name} architecture ({exc})") from exc
        if missing:
            raise BundleError(f"{base_weights.name} is not a full {name} state dict (lacks e.g. {missing[0]})")
        return {k: v.detach() for k, v in clip.state_dict().items()}
    try:
        clip = open_clip.create_model(
            name, pretrained=tag, cache_dir=str(open_clip_cache_dir()), require_pretrained=True
        )
    except Exception as exc:  # no network, unknown tag, a broken download in the cache
        raise BundleError(
            f"cannot load the base weights {name}:{tag} ({exc}); the first use needs a network connection, "
            "or pass a local file with --base-weights"
        ) from exc
    return {k: v.detach() for k, v in clip.state_dict().items()}


def verify_same_base(checkpoint: OfficialCheckpoint, base_state: Mapping[str, torch.Tensor], base_label: str) -> None:
    """Refuse when the checkpoint's unchanged parts (the text tower) differ from the base's."""
    text_keys = [k for k in checkpoint.backbone if not k.startswith("visual.") and k in base_state]
    if not text_keys:
        raise BundleError(f"{checkpoint.path.name}: no text-tower weights to check the base against")
    for key in text_keys:
        ours, theirs = base_state[key].float(), checkpoint.backbone[key].float()
        if ours.shape != theirs.shape:
            raise BundleError(
                f"{checkpoint.path.name} does not fit the base {base_label}: {key} has shape "
                f"{list(theirs.shape)}, the base {list(ours.shape)}; pass the right --base"
            )
        difference = float((ours - theirs).abs().max()) if ours.numel() else 0.0
        if difference > TEXT_TOLERANCE * max(1.0, float(ours.abs().max())):
            raise BundleError(
                f"{checkpoint.path.name} was not fine-tuned from {base_label}: its text tower, which fine-tuning "
                f"leaves unchanged, differs from the base's ({key} by {difference:.3g}). "
                "Pass the base the checkpoints were made from with --base NAME:TAG or --base-weights FILE."
            )


def import_official(
    checkpoint_dir: Path,
    out: Path,
    *,
    base: str | None = None,
    base_weights: Path | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Bundle:
    """Turn a folder of the authors' ``.pth`` checkpoints into a bundle (see the module docstring)."""
    check_output_folder(out, overwrite)
    files = sorted(p for p in Path(checkpoint_dir).glob("*.pth") if p.is_file())
    if not files:
        raise BundleError(f"no .pth checkpoints in {checkpoint_dir}")
    checkpoints = []
    for index, path in enumerate(files, start=1):
        check(cancel)
        checkpoints.append(load_checkpoint(path))
        report(progress, "reading checkpoints", index, len(files))
    first = checkpoints[0]
    shapes = {k: tuple(v.shape) for k, v in first.backbone.items()}
    for other in checkpoints[1:]:
        if {k: tuple(v.shape) for k, v in other.backbone.items()} != shapes or other.head.keys() != first.head.keys():
            raise BundleError(f"{other.path.name} and {first.path.name} have different architectures")
    tasks = [c.task for c in checkpoints]
    if len(set(tasks)) != len(tasks):
        raise BundleError(f"two checkpoints map to the same task name: {tasks}")
    if base is None:
        letters = {c.arch_letter for c in checkpoints}
        if len(letters) != 1 or None in letters or next(iter(letters)) not in DEFAULT_BASES:
            raise BundleError("cannot tell the base model from the file names; pass --base NAME:TAG")
        base = DEFAULT_BASES[next(iter(letters))]
    name, tag = parse_base(base, base_weights)
    label = f"{name}:{tag}" if tag else f"{name} ({base_weights.name})"
    check(cancel)
    base_state = _base_clip_state(name, tag, base_weights)
    for checkpoint in checkpoints:
        verify_same_base(checkpoint, base_state, label)
    hidden = int(first.head["projection.0.weight"].shape[0])
    config = packaged_model_config(name)
    spec = ScorerSpec(
        model_name=name, pretrained=tag if base_weights is None else None, model_config=config, head_hidden=hidden
    )
    scorer = create_scorer(replace(spec, pretrained=None), device="cpu")  # random tower, seeded reference head
    visual = {k: v for k, v in base_state.items() if k.startswith("visual.")}
    scorer.load_state_dict(visual, strict=False)
    scorer.spec = spec
    reference = {k: v.detach().clone() for k, v in scorer.named_parameters()}
    entries = []
    for index, checkpoint in enumerate(checkpoints, start=1):
        check(cancel)
        finetuned = {k: checkpoint.backbone[k] for k in reference if k.startswith("visual.")}
        finetuned.update({f"head.{k}": v for k, v in checkpoint.head.items() if f"head.{k}" in reference})
        missing = [k for k in reference if k not in finetuned]
        if missing:
            raise BundleError(f"{checkpoint.path.name} lacks {missing[0]} of the {name} scorer")
        dataset, score_range = OFFICIAL_TASKS.get(checkpoint.task, (checkpoint.task, (1.0, 10.0)))
        info = TaskInfo(
            name=checkpoint.task,
            dataset=dataset,
            score_range=score_range,
            notes=f"imported from the authors' checkpoint {checkpoint.path.name}",
        )
        entries.append((info, TaskVector.between(finetuned, reference)))
        report(progress, "task vectors", index, len(checkpoints))
    return write_bundle(
        out,
        base_scorer=scorer,
        tasks=entries,
        embed_base_weights=base_weights is not None,
        description=f"Imported from the authors' published checkpoints ({', '.join(tasks)}) on {label}.",
        overwrite=overwrite,
    )
