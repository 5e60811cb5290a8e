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
import os
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import DataLoader, Dataset

from aesthetic_curator.engine.bundle import StateDict, task_vector_from
from aesthetic_curator.engine.devices import autocast_dtype, mixed_precision
from aesthetic_curator.engine.metrics import plcc, srocc
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.engine.scorer import Scorer
from aesthetic_curator.errors import CuratorError
from aesthetic_curator.factory.datasets import ScoredDataset, ScoredImage
from aesthetic_curator.factory.distributed import Distributed
from aesthetic_curator.factory.recipe import TrainingRecipe, cosine_lr
from aesthetic_curator.progress import CancelToken, ProgressCallback, check, report

log = logging.getLogger(__name__)

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
    """The batch of every step, as a pure function of (seed, step): epochs of seeded permutations."""

    def __init__(self, n: int, batch_size: int, seed: int, stream: int) -> None:
        self.n, self.batch_size, self.seed, self.stream = n, batch_size, seed, stream
        self._permutations: dict[int, torch.Tensor] = {}

    def _permutation(self, epoch: int) -> torch.Tensor:
        if epoch not in self._permutations:
            if len(self._permutations) > 2:
                self._permutations.pop(min(self._permutations))
            generator = torch.Generator().manual_seed(_seed_for(self.seed, self.stream, epoch))
            self._permutations[epoch] = torch.randperm(self.n, generator=generator)
        return self._permutations[epoch]

    def indices(self, step: int) -> torch.Tensor:
        positions = range(step * self.batch_size, (step + 1) * self.batch_size)
        return torch.stack([self._permutation(p // self.n)[p % self.n] for p in positions])

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
            yield list(zip(indices, flips))[rank::world]

    def __len__(self) -> int:
        return self.steps - self.start


class _Images(Dataset):
    """Decoded, preprocessed images; a file that cannot be decoded yields zeros and ``ok = False``."""

    def __init__(self, paths: Sequence[Path], preprocessor: Preprocessor) -> None:
        self.paths = list(paths)
        self.preprocessor = preprocessor

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: int | tuple[int, bool]) -> tuple[torch.Tensor, bool, int]:
        index, flip = key if isinstance(key, tuple) else (key, False)
        try:
            tensor = self.preprocessor.load(self.paths[index])
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
    tmp = path.with_name(f".{path.name}.tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp))
    os.replace(tmp, path)


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

    # -- the whole recipe ------------------------------------------------------------------------------
    def run(self) -> TaskResult:
        if (self.workdir / RESULT_INFO).is_file():
            log.info("task %s: already trained, reusing %s", self.name, self.workdir)
            return self.load_result()
        train, test = self.dataset.train, self.dataset.test
        train_embeddings, train_ok = self.embeddings("train", train)
        test_embeddings, test_ok = self.embeddings("test", test)
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
        metrics = {"head_only_test_srocc": round(srocc(head_scores.numpy(), test_targets.numpy()), 4)}
        if self.distributed.is_main:
            scores, ok = self.predict(model, test)
            metrics["test_srocc"] = round(srocc(scores[ok].numpy(), test_targets[ok].numpy()), 4)
            metrics["test_plcc"] = round(plcc(scores[ok].numpy(), test_targets[ok].numpy()), 4)
            tau = task_vector_from(dict(model.named_parameters()), dict(self.base.named_parameters()))
            info = {"metrics": metrics, "n_train": len(train), "n_test": int(ok.sum()), "skipped": skipped}
            _save_atomically(tau, self.workdir / RESULT_NAME)
            tmp = self.workdir / f".{RESULT_INFO}.tmp"
            tmp.write_text(json.dumps(info, indent=2), encoding="utf-8")
            os.replace(tmp, self.workdir / RESULT_INFO)
            log.info("task %s: test SROCC %.3f, PLCC %.3f", self.name, metrics["test_srocc"], metrics["test_plcc"])
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
        visual = self.base.visual.to(self.device).eval()
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
        batches = StepBatches(len(embeddings), recipe.head_batch_size, recipe.seed, _HEAD_STREAM)
        head.train()
        stage = f"{self.name}: head"
        for step in range(recipe.head_steps):
            check(self.cancel)
            for group in optimizer.param_groups:
                group["lr"] = cosine_lr(recipe.head_lr, recipe.final_lr_ratio, step, recipe.head_steps)
            torch.manual_seed(_seed_for(recipe.seed, _HEAD_STREAM, step))
            index = batches.indices(step).to(self.device)
            loss = nn.functional.mse_loss(head(embeddings[index]), targets[index])
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
        model = copy.deepcopy(self.base).to(device)
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
        batches = StepBatches(len(train), recipe.finetune_batch_size, recipe.seed, _FINETUNE_STREAM)
        sampler = _Stage2Sampler(batches, start, recipe.finetune_steps, recipe.flip, self.distributed)
        loader = _loader(_Images([i.path for i in train], self.preprocessor), recipe, device, batch_sampler=sampler)
        model.train()
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
            error = (predicted - targets[index.to(device)]) ** 2
            loss = (error * ok).sum() / ok.sum().clamp(min=1)  # a file that stopped decoding adds nothing
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
        tmp = path.with_name(f".{path.name}.tmp")
        state = {
            "step": step,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else {},
        }
        torch.save(state, tmp)
        os.replace(tmp, path)

    def _infer(
        self, module: nn.Module, items: Sequence[ScoredImage], stage: str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``module``'s float32 outputs for every image, in order, and which images decoded.

        Shared by the embedding pass (the tower) and the test pass (the whole scorer); ``stage``
        reports progress per batch.
        """
        images = _Images([item.path for item in items], self.preprocessor)
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
