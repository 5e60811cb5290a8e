"""Fine-tune the base scorer on one scored dataset and return its task vector, resumably.

Everything a task needs to survive an interruption lives in its own work folder::

    embeddings/{train,test}-NNNNN.safetensors  cached backbone embeddings, one file per shard of images
    head.safetensors                            the head after stage 1
    finetune.pt                                 stage-2 checkpoint (model, AdamW, grad scaler, step)
    result.safetensors + result.json            the task vector and its test metrics, once finished

Every random choice (batch order, flips, dropout) is a function of the seed and the step, and the
learning rate is a function of the step, so a run resumed from a checkpoint produces the same
weights, bit for bit on a CPU, as one that never stopped.
"""

from __future__ import annotations

import copy
import json
import logging
import math
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import DataLoader, Dataset

from aesthetic_curator.atomic import atomic_path, atomic_write_text
from aesthetic_curator.engine.devices import autocast_dtype, mixed_precision, prefer_channels_last
from aesthetic_curator.engine.metrics import plcc, srocc
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.engine.rank_loss import margin_pair_loss, preference_pairs
from aesthetic_curator.engine.scorer import Scorer, freeze_norm_statistics
from aesthetic_curator.engine.task_vector import StateDict, TaskVector
from aesthetic_curator.errors import CuratorError
from aesthetic_curator.factory.datasets import ScoredDataset, ScoredImage
from aesthetic_curator.factory.degradations import LEVELS, Degradation
from aesthetic_curator.factory.distributed import Distributed
from aesthetic_curator.factory.recipe import TrainingRecipe, cosine_lr
from aesthetic_curator.images import decode_image
from aesthetic_curator.progress import CancelToken, ProgressCallback, check, report

log = logging.getLogger(__name__)

DEGRADE_MARGIN = 1.0  # points of the head's 1-10 scale per level of degradation (see TaskTrainer.loss)
SHARD_SIZE = 2048  # images per embedding cache file: an interrupted pass loses at most one shard
CHECKPOINT_NAME = "finetune.pt"
HEAD_NAME = "head.safetensors"
RESULT_NAME = "result.safetensors"
RESULT_INFO = "result.json"

# Streams of random numbers, so stage 1 and stage 2 never share draws.
_HEAD_STREAM, _FINETUNE_STREAM = 1, 2


@dataclass
class TaskResult:
    task_vector: StateDict
    metrics: dict[str, float]
    n_train: int
    n_test: int
    skipped: list[str] = field(default_factory=list)  # images that could not be decoded


def _seed_for(seed: int, stream: int, index: int, rank: int = 0) -> int:
    return (seed * 1_000_003 + stream * 7_919 + index * 104_729 + rank * 15_485_863) % (2**63 - 1)


class StepBatches:
    """The batch of every step, as a pure function of (seed, step): epochs of seeded permutations.

    With ``group_size`` > 1 the items come in consecutive groups (the versions of one photo in a
    degrade task) and whole groups are drawn: ``batch_size // group_size`` of them per step.
    """

    def __init__(self, n: int, batch_size: int, seed: int, stream: int, group_size: int = 1) -> None:
        self.group_size = group_size
        self.n, self.seed, self.stream = n // group_size, seed, stream
        self.batch_size = max(1, batch_size // group_size) * group_size
        self._per_step = self.batch_size // group_size
        self._permutations: dict[int, torch.Tensor] = {}

    def _permutation(self, epoch: int) -> torch.Tensor:
        if epoch not in self._permutations:
            if len(self._permutations) > 2:
                self._permutations.pop(min(self._permutations))
            generator = torch.Generator().manual_seed(_seed_for(self.seed, self.stream, epoch))
            self._permutations[epoch] = torch.randperm(self.n, generator=generator)
        return self._permutations[epoch]

    def indices(self, step: int) -> torch.Tensor:
        positions = range(step * self._per_step, (step + 1) * self._per_step)
        groups = torch.stack([self._permutation(p // self.n)[p % self.n] for p in positions])
        if self.group_size == 1:
            return groups
        return (groups[:, None] * self.group_size + torch.arange(self.group_size)).reshape(-1)

    def flips(self, step: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(_seed_for(self.seed, self.stream + 100, step))
        return torch.rand(self.batch_size, generator=generator) < 0.5


class _Stage2Sampler:
    """Yields, for each remaining step, this process's share of the global batch as (index, flip) pairs."""

    def __init__(self, batches: StepBatches, start: int, steps: int, flip: bool, distributed: Distributed) -> None:
        self.batches, self.start, self.steps, self.flip, self.distributed = batches, start, steps, flip, distributed

    def __iter__(self) -> Iterator[list[tuple[int, bool]]]:
        rank, world = self.distributed.rank, self.distributed.world_size
        for step in range(self.start, self.steps):
            indices = self.batches.indices(step).tolist()
            flips = self.batches.flips(step).tolist() if self.flip else [False] * len(indices)
            pairs = list(zip(indices, flips))
            size = self.batches.group_size  # ranks share out whole groups, so same-photo pairs stay together
            groups = [pairs[i : i + size] for i in range(0, len(pairs), size)]
            yield [pair for group in groups[rank::world] for pair in group]

    def __len__(self) -> int:
        return self.steps - self.start


class _Images(Dataset):
    """Decoded, preprocessed images (degraded first where the item says so); a file that cannot be
    decoded yields zeros and ``ok = False``."""

    def __init__(self, items: Sequence[ScoredImage], preprocessor: Preprocessor) -> None:
        self.paths: list[Path] = [item.path for item in items]
        self.degradations: list[Degradation | None] = [item.degradation for item in items]
        self.preprocessor = preprocessor

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: int | tuple[int, bool]) -> tuple[torch.Tensor, bool, int]:
        index, flip = key if isinstance(key, tuple) else (key, False)
        try:
            degradation = self.degradations[index]
            if degradation is None:
                tensor = self.preprocessor.load(self.paths[index])
            else:
                image = decode_image(self.paths[index], min_size=self.preprocessor.image_size)
                tensor = self.preprocessor(degradation.apply(image))
            ok = True
        except (CuratorError, OSError, ValueError) as exc:
            log.debug("skipping %s: %s", self.paths[index], exc)
            size = self.preprocessor.image_size
            tensor, ok = torch.zeros(3, size, size), False
        return (tensor.flip(-1) if flip else tensor), ok, index


def _loader(dataset: Dataset, recipe: TrainingRecipe, device: torch.device, **kwargs) -> DataLoader:
    return DataLoader(dataset, num_workers=max(0, recipe.workers), pin_memory=device.type == "cuda", **kwargs)


def _autocast(device: torch.device, recipe: TrainingRecipe):
    return mixed_precision(device) if recipe.mixed_precision else nullcontext()


def _save_atomically(tensors: dict[str, torch.Tensor], path: Path) -> None:
    with atomic_path(path) as partial:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(partial))


class TaskTrainer:
    """Runs the recipe for one task inside ``workdir``, picking up whatever an earlier run finished."""

    def __init__(
        self,
        base: Scorer,
        dataset: ScoredDataset,
        recipe: TrainingRecipe,
        workdir: Path,
        *,
        name: str,
        device: torch.device,
        distributed: Distributed | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        self.base, self.dataset, self.recipe, self.workdir = base, dataset, recipe, workdir
        self.name, self.device = name, device
        self.distributed = distributed or Distributed()
        self.progress, self.cancel = progress, cancel
        self.preprocessor = Preprocessor.for_scorer(base)
        template = base.spec.template
        self.target_range = (min(template), max(template))

    # -- targets ---------------------------------------------------------------------------------------
    def targets(self, items: Sequence[ScoredImage]) -> torch.Tensor:
        """The dataset's scores mapped linearly onto the head's template range (1-10 by default)."""
        lo, hi = self.dataset.score_range
        t_lo, t_hi = self.target_range
        scores = torch.tensor([item.score for item in items], dtype=torch.float32)
        return (t_lo + (t_hi - t_lo) * (scores - lo) / (hi - lo)).clamp(t_lo, t_hi)

    @property
    def pairwise(self) -> bool:
        return self.dataset.pairwise

    def loss(self, predicted: torch.Tensor, targets: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
        """MSE on the score, or for degrade tasks a margin rank loss over the pairs "less degraded ≻ more
        degraded" of the same photo (the groups of ``LEVELS`` consecutive items of a batch).

        The margin is :data:`DEGRADE_MARGIN` points of the 1-10 scale per level of difference, and a pair
        that keeps it costs nothing. The Bradley–Terry loss was tried first: it never stops widening the
        margins, so the originals were pushed against the top of the scale (measured: the sharpness
        model scored real photos 6.7-10.0, and merged personal models gave most photos 10.00, a tie).
        """
        ok = ok.to(predicted.dtype)
        if not self.pairwise:
            return (((predicted - targets) ** 2) * ok).sum() / ok.sum().clamp(min=1)
        group = torch.arange(len(predicted), device=predicted.device) // LEVELS
        pairs = preference_pairs(targets) & (group[:, None] == group[None, :])
        pairs &= (ok[:, None] * ok[None, :]).bool()  # a file that stopped decoding adds nothing
        per_level = (self.target_range[1] - self.target_range[0]) / (LEVELS - 1)  # target units per level
        return margin_pair_loss(predicted, targets, pairs, DEGRADE_MARGIN / per_level)

    def test_metrics(self, scores: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        """SROCC/PLCC against the targets; for degrade tasks the mean SROCC over the levels of each photo
        and the share of same-photo pairs in the right order."""
        if not self.pairwise:
            return {
                "test_srocc": round(srocc(scores.numpy(), targets.numpy()), 4),
                "test_plcc": round(plcc(scores.numpy(), targets.numpy()), 4),
            }
        by_photo, truth = scores.view(-1, LEVELS), targets.view(-1, LEVELS)
        per_photo = [srocc(s.numpy(), t.numpy()) for s, t in zip(by_photo, truth)]
        pairs = truth[:, :, None] > truth[:, None, :]
        right = (by_photo[:, :, None] > by_photo[:, None, :]) & pairs
        return {
            "test_srocc": round(sum(per_photo) / len(per_photo), 4),
            "test_pair_accuracy": round(float(right.sum()) / max(1, int(pairs.sum())), 4),
        }

    def _whole_groups(self, items: Sequence[ScoredImage], ok: torch.Tensor) -> torch.Tensor:
        """For degrade tasks a photo counts only when all its versions decoded (a pair needs both)."""
        if not self.pairwise:
            return ok
        return ok.view(-1, LEVELS).all(dim=1).repeat_interleave(LEVELS)

    # -- the whole recipe ------------------------------------------------------------------------------
    def run(self) -> TaskResult:
        if (self.workdir / RESULT_INFO).is_file():
            log.info("task %s: already trained, reusing %s", self.name, self.workdir)
            return self.load_result()
        train, test = self.dataset.train, self.dataset.test
        train_embeddings, train_ok = self.embeddings("train", train)
        test_embeddings, test_ok = self.embeddings("test", test)
        train_ok, test_ok = self._whole_groups(train, train_ok), self._whole_groups(test, test_ok)
        skipped = [str(item.path) for item, ok in zip([*train, *test], [*train_ok, *test_ok]) if not ok]
        if skipped:
            log.warning("task %s: %d images could not be decoded and are skipped", self.name, len(skipped))
        train = [item for item, ok in zip(train, train_ok) if ok]
        if len(train) < 2 or int(test_ok.sum()) < 2:
            n_test = int(test_ok.sum())
            raise CuratorError(f"task '{self.name}': too few readable images ({len(train)} train, {n_test} test)")
        head = self.head_stage(train_embeddings[train_ok.to(self.device)], self.targets(train))
        head_scores = self._head_scores(head, test_embeddings[test_ok.to(self.device)])
        test = [item for item, ok in zip(test, test_ok) if ok]
        test_targets = self.targets(test)
        model = self.finetune_stage(head, train)
        metrics = {"head_only_test_srocc": self.test_metrics(head_scores, test_targets)["test_srocc"]}
        if self.distributed.is_main:
            scores, ok = self.predict(model, test)
            ok = self._whole_groups(test, ok)
            metrics.update(self.test_metrics(scores[ok], test_targets[ok]))
            tau = TaskVector.between(dict(model.named_parameters()), dict(self.base.named_parameters()))
            info = {"metrics": metrics, "n_train": len(train), "n_test": int(ok.sum()), "skipped": skipped}
            _save_atomically(tau, self.workdir / RESULT_NAME)
            atomic_write_text(self.workdir / RESULT_INFO, json.dumps(info, indent=2))
            log.info("task %s: test %s", self.name, ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
        self.distributed.barrier()
        return self.load_result()

    def load_result(self) -> TaskResult:
        info = json.loads((self.workdir / RESULT_INFO).read_text(encoding="utf-8"))
        tau = load_file(str(self.workdir / RESULT_NAME))
        return TaskResult(tau, info["metrics"], info["n_train"], info["n_test"], info["skipped"])

    # -- embeddings ------------------------------------------------------------------------------------
    def embeddings(self, split: str, items: Sequence[ScoredImage]) -> tuple[torch.Tensor, torch.Tensor]:
        """Backbone embeddings of ``items`` (float32, on the device) and which images decoded."""
        folder = self.workdir / "embeddings"
        folder.mkdir(parents=True, exist_ok=True)
        n_shards = math.ceil(len(items) / SHARD_SIZE)
        rank, world = self.distributed.rank, self.distributed.world_size
        visual = prefer_channels_last(self.base.visual.to(self.device).eval())
        stage = f"{self.name}: embeddings ({split})"
        done = sum(1 for s in range(n_shards) if (folder / f"{split}-{s:05d}.safetensors").is_file())
        for shard in range(n_shards):
            path = folder / f"{split}-{shard:05d}.safetensors"
            if shard % world != rank or path.is_file():
                continue
            outputs, ok = self._infer(visual, items[shard * SHARD_SIZE : (shard + 1) * SHARD_SIZE])
            _save_atomically({"embeddings": outputs, "ok": ok.to(torch.uint8)}, path)
            done += 1
            report(self.progress, stage, done, n_shards)
        self.distributed.barrier()
        shards = [load_file(str(folder / f"{split}-{s:05d}.safetensors")) for s in range(n_shards)]
        embeddings = torch.cat([s["embeddings"] for s in shards]).to(self.device)
        ok = torch.cat([s["ok"] for s in shards]).bool()
        if len(ok) != len(items):
            raise CuratorError(f"{folder}: cached embeddings do not match the dataset; rerun with --restart")
        return embeddings, ok

    # -- stage 1 ---------------------------------------------------------------------------------------
    def head_stage(self, embeddings: torch.Tensor, targets: torch.Tensor) -> nn.Module:
        """Train a copy of the reference head on cached embeddings (the backbone is frozen)."""
        head = copy.deepcopy(self.base.head).to(self.device)
        path = self.workdir / HEAD_NAME
        if path.is_file():
            head.load_state_dict(load_file(str(path), device=str(self.device)))
            return head.eval()
        if self.distributed.is_main:
            self._train_head(head, embeddings, targets.to(self.device))
            _save_atomically(head.state_dict(), path)
        self.distributed.barrier()
        head.load_state_dict(load_file(str(path), device=str(self.device)))
        return head.eval()

    def _train_head(self, head: nn.Module, embeddings: torch.Tensor, targets: torch.Tensor) -> None:
        recipe = self.recipe
        optimizer = torch.optim.AdamW(head.parameters(), lr=recipe.head_lr, weight_decay=recipe.weight_decay)
        group = LEVELS if self.pairwise else 1
        batches = StepBatches(len(embeddings), recipe.head_batch_size, recipe.seed, _HEAD_STREAM, group)
        head.train()
        stage = f"{self.name}: head"
        for step in range(recipe.head_steps):
            check(self.cancel)
            for group in optimizer.param_groups:
                group["lr"] = cosine_lr(recipe.head_lr, recipe.final_lr_ratio, step, recipe.head_steps)
            torch.manual_seed(_seed_for(recipe.seed, _HEAD_STREAM, step))
            index = batches.indices(step).to(self.device)
            loss = self.loss(head(embeddings[index]), targets[index], torch.ones(len(index), device=self.device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if (step + 1) % 100 == 0 or step + 1 == recipe.head_steps:
                report(self.progress, stage, step + 1, recipe.head_steps, float(loss.detach()))

    def _head_scores(self, head: nn.Module, embeddings: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return head(embeddings).float().cpu()

    # -- stage 2 ---------------------------------------------------------------------------------------
    def finetune_stage(self, head: nn.Module, train: Sequence[ScoredImage]) -> Scorer:
        """Backbone + head together, checkpointed every ``checkpoint_every`` steps."""
        recipe, device = self.recipe, self.device
        model = prefer_channels_last(copy.deepcopy(self.base).to(device))
        model.head.load_state_dict(head.state_dict())
        optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.finetune_lr, weight_decay=recipe.weight_decay)
        half = autocast_dtype(device) if recipe.mixed_precision else None
        scaler = torch.amp.GradScaler("cuda") if half == torch.float16 else None
        start = self._resume(model, optimizer, scaler)
        if start >= recipe.finetune_steps:
            return model.eval()
        trained = model
        if self.distributed.enabled:
            ids = [device.index] if device.type == "cuda" else None
            trained = nn.parallel.DistributedDataParallel(model, device_ids=ids)
        targets = self.targets(train).to(device)
        group = LEVELS if self.pairwise else 1
        batches = StepBatches(len(train), recipe.finetune_batch_size, recipe.seed, _FINETUNE_STREAM, group)
        sampler = _Stage2Sampler(batches, start, recipe.finetune_steps, recipe.flip, self.distributed)
        loader = _loader(_Images(train, self.preprocessor), recipe, device, batch_sampler=sampler)
        model.train()
        freeze_norm_statistics(model)
        stage = f"{self.name}: fine-tune"
        report(self.progress, stage, start, recipe.finetune_steps)
        for step, (images, ok, index) in zip(range(start, recipe.finetune_steps), loader):
            check(self.cancel)
            for group in optimizer.param_groups:
                group["lr"] = cosine_lr(recipe.finetune_lr, recipe.final_lr_ratio, step, recipe.finetune_steps)
            torch.manual_seed(_seed_for(recipe.seed, _FINETUNE_STREAM, step, self.distributed.rank))
            ok = ok.to(device)
            with _autocast(device, recipe):
                predicted = trained(images.to(device, non_blocking=True)).float()
            loss = self.loss(predicted, targets[index.to(device)], ok)
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            finished = step + 1
            if finished % recipe.checkpoint_every == 0 or finished == recipe.finetune_steps:
                self._checkpoint(model, optimizer, scaler, finished)
            report(self.progress, stage, finished, recipe.finetune_steps, float(loss.detach()))
        return model.eval()

    def _resume(self, model: Scorer, optimizer: torch.optim.Optimizer, scaler) -> int:
        path = self.workdir / CHECKPOINT_NAME
        if not path.is_file():
            return 0
        state = torch.load(path, map_location=self.device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        log.info("task %s: resuming fine-tuning at step %d of %d", self.name, state["step"], self.recipe.finetune_steps)
        return int(state["step"])

    def _checkpoint(self, model: Scorer, optimizer: torch.optim.Optimizer, scaler, step: int) -> None:
        if not self.distributed.is_main:
            return
        path = self.workdir / CHECKPOINT_NAME
        state = {
            "step": step,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else {},
        }
        with atomic_path(path) as partial:
            torch.save(state, partial)

    def _infer(
        self, module: nn.Module, items: Sequence[ScoredImage], stage: str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``module``'s float32 outputs for every image, in order, and which images decoded.

        Shared by the embedding pass (the tower) and the test pass (the whole scorer); ``stage``
        reports progress per batch.
        """
        images = _Images(items, self.preprocessor)
        loader = _loader(images, self.recipe, self.device, batch_size=self.recipe.embed_batch_size)
        outputs, oks, done = [], [], 0
        with torch.no_grad():
            for batch, ok, _ in loader:
                check(self.cancel)
                with _autocast(self.device, self.recipe):
                    outputs.append(module(batch.to(self.device, non_blocking=True)).float().cpu())
                oks.append(ok)
                done += len(ok)
                if stage is not None:
                    report(self.progress, stage, done, len(items))
        return torch.cat(outputs), torch.cat(oks)

    # -- testing ---------------------------------------------------------------------------------------
    def predict(self, model: Scorer, items: Sequence[ScoredImage]) -> tuple[torch.Tensor, torch.Tensor]:
        return self._infer(model.eval(), items, f"{self.name}: test")
