"""``bundle make-test``: a tiny, genuinely fine-tuned bundle for trying and testing the pipeline.

A tiny ViT is first trained on all synthetic statistics at once (standing in for a pretrained
foundation model), then fine-tuned separately on each statistic (brightness, colourfulness,
sharpness, contrast, warmth, a fixed projection) with the paper's two stages: head only, then
backbone + head. Each fine-tuned copy minus the base is a real task vector. The whole build runs
in seconds on a CPU. The bundle says plainly that it is not for real photos.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from aesthetic_curator.engine.bundle import Bundle, TaskInfo
from aesthetic_curator.engine.bundle_writer import check_output_folder, write_bundle
from aesthetic_curator.engine.metrics import plcc, srocc
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.engine.scorer import Scorer, ScorerSpec, create_scorer
from aesthetic_curator.engine.synthetic import pixel_statistics, synthetic_photos
from aesthetic_curator.engine.task_vector import TaskVector
from aesthetic_curator.progress import CancelToken, ProgressCallback, check, report

log = logging.getLogger(__name__)

TINY_MODEL = "curator-tiny-vit"
TEST_BUNDLE_NOTE = (
    "TEST BUNDLE: a tiny ViT fine-tuned on synthetic pixel statistics. It exercises the whole "
    "pipeline but knows nothing about real photographic taste; do not use it to rank real photos."
)


@dataclass
class TestBundleConfig:
    """Sizes and step counts of the test-bundle build (defaults: a few seconds on 2 CPU cores)."""

    __test__ = False  # not a pytest test class

    seed: int = 0
    n_images: int = 768  # synthetic training photos (20% held out for each task's test SROCC)
    photo_size: int = 48  # generated photo size; the model input is the tiny ViT's 32 px
    head_hidden: int = 64
    pretrain_steps: int = 200
    head_steps: int = 40  # stage 1: head only, backbone frozen
    finetune_steps: int = 80  # stage 2: backbone + head
    batch_size: int = 32
    tasks: tuple[str, ...] = ("brightness", "colourfulness", "sharpness", "contrast", "warmth", "projection")


def tiny_spec(head_hidden: int = 64) -> ScorerSpec:
    config_path = Path(__file__).with_name("model_configs") / f"{TINY_MODEL}.json"
    return ScorerSpec(
        model_name=TINY_MODEL,
        pretrained=None,
        model_config=json.loads(config_path.read_text()),
        head_hidden=head_hidden,
        head_dropout=0.1,
    )


def _to_scale(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map raw statistics to the head's 1-10 range, clipping outliers."""
    return 1.0 + 9.0 * np.clip((values - lo) / max(hi - lo, 1e-8), 0.0, 1.0)


def _train(
    params: Sequence[nn.Parameter],
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    n: int,
    steps: int,
    lr: float,
    batch_size: int,
    generator: torch.Generator,
    cancel: CancelToken | None,
) -> float:
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps, eta_min=lr / 10)
    loss = torch.tensor(0.0)
    for _ in range(steps):
        check(cancel)
        idx = torch.randint(0, n, (batch_size,), generator=generator)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(idx)
        loss.backward()
        optimizer.step()
        scheduler.step()
    return float(loss.detach())


def make_test_bundle(
    out: str | os.PathLike[str],
    config: TestBundleConfig | None = None,
    *,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Bundle:
    """Build and write a test bundle; see the module docstring for what it contains."""
    config = config or TestBundleConfig()
    check_output_folder(Path(out), overwrite)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    spec = tiny_spec(config.head_hidden)
    base = create_scorer(spec, head_seed=config.seed + 1)
    preprocessor = Preprocessor.for_scorer(base)
    photos = synthetic_photos(config.n_images, config.photo_size, config.seed)
    images = preprocessor.batch(photos)
    # Statistics are measured on the exact pixels the model sees (its input crop, unnormalised).
    mean = torch.tensor(preprocessor.mean).view(1, 3, 1, 1)
    std = torch.tensor(preprocessor.std).view(1, 3, 1, 1)
    pixels = ((images * std + mean).clamp(0, 1) * 255).permute(0, 2, 3, 1).numpy()
    statistics = pixel_statistics(config.seed)
    raw = {name: np.array([statistics[name](p) for p in pixels]) for name in config.tasks}
    n = len(photos)
    n_train = int(n * 0.8)
    total_stages = 1 + len(config.tasks)
    report(progress, "test bundle", 0, total_stages)

    # "Pretraining": one shared tower learns all statistics, so task vectors start from useful features.
    standardized = torch.tensor(
        np.stack([(v - v[:n_train].mean()) / (v[:n_train].std() + 1e-8) for v in raw.values()], axis=1),
        dtype=torch.float32,
    )
    aux = nn.Linear(base.visual.output_dim, standardized.shape[1])
    train_images = images[:n_train]

    def pretrain_loss(idx: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(aux(base.visual(train_images[idx])), standardized[idx])

    base.train()
    _train(
        [*base.visual.parameters(), *aux.parameters()],
        pretrain_loss,
        n_train,
        config.pretrain_steps,
        2e-3,
        config.batch_size,
        generator,
        cancel,
    )
    base.eval()
    report(progress, "test bundle", 1, total_stages)

    tasks: list[tuple[TaskInfo, dict[str, torch.Tensor]]] = []
    base_state = {k: v.detach().clone() for k, v in base.named_parameters()}
    for index, name in enumerate(config.tasks):
        values = raw[name]
        lo, hi = np.percentile(values[:n_train], [1, 99])
        target = torch.tensor(_to_scale(values, lo, hi), dtype=torch.float32)
        model = _finetune(base, train_images, target[:n_train], config, generator, cancel)
        with torch.no_grad():
            predicted = model(images[n_train:]).numpy()
        metrics = {
            "test_srocc": round(srocc(predicted, target[n_train:].numpy()), 4),
            "test_plcc": round(plcc(predicted, target[n_train:].numpy()), 4),
        }
        tau = TaskVector.between(dict(model.named_parameters()), base_state)
        info = TaskInfo(
            name=name,
            dataset=f"synthetic: {name} of generated images",
            score_range=(float(lo), float(hi)),
            notes=(
                f"{config.head_steps} head-only + {config.finetune_steps} full fine-tuning steps on "
                f"{n_train} synthetic photos (seed {config.seed})"
            ),
            metrics=metrics,
        )
        tasks.append((info, tau))
        log.debug("test task %s: held-out SROCC %.3f", name, metrics["test_srocc"])
        report(progress, "test bundle", 2 + index, total_stages)
    return write_bundle(
        out,
        base_scorer=base,
        tasks=tasks,
        embed_base_weights=True,
        is_test_bundle=True,
        description=TEST_BUNDLE_NOTE,
        overwrite=overwrite,
    )


def _finetune(
    base: Scorer,
    images: torch.Tensor,
    target: torch.Tensor,
    config: TestBundleConfig,
    generator: torch.Generator,
    cancel: CancelToken | None,
) -> Scorer:
    """The paper's two stages at toy scale: head with frozen backbone, then everything."""
    model = copy.deepcopy(base)

    def loss(idx: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(model(images[idx]), target[idx])

    model.train()
    _train(
        list(model.head.parameters()), loss, len(images), config.head_steps, 3e-3, config.batch_size, generator, cancel
    )
    _train(
        list(model.parameters()), loss, len(images), config.finetune_steps, 5e-4, config.batch_size, generator, cancel
    )
    return model.eval()
