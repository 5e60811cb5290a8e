"""Scored-image datasets in their published layouts, read into one shape for task training.

A task is trained on a :class:`ScoredDataset`: image paths, a score on the dataset's own scale,
the train/test split and any columns a large dataset can be split by (``--split-by``). Each reader
knows one published layout (:mod:`dataset_readers`, listed in ``docs/bundles.md``); ``csv:`` turns any
scored collection into a task.

The dataset's own train/test split is used where it publishes one. Otherwise the split is seeded
by hashing each image's name, so it does not depend on row order and stays the same when rows are
added.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from aesthetic_curator.errors import CuratorError
from aesthetic_curator.factory.degradations import KINDS, Degradation

log = logging.getLogger(__name__)

TRAIN, TEST = "train", "test"


class DatasetError(CuratorError):
    """A dataset is missing, is not in the layout its reader expects, or has unusable rows."""


@dataclass(frozen=True)
class ScoredImage:
    path: Path
    score: float  # on the dataset's own scale (see ScoredDataset.score_range)
    split: str  # TRAIN or TEST
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # column -> values, for --split-by
    degradation: Degradation | None = None  # degrade tasks: which version of the photo this item is


@dataclass(frozen=True)
class ScoredDataset:
    kind: str  # reader name, e.g. "ava"
    title: str  # what the bundle shows, e.g. "AVA" or "AVA (semantic_tag = Landscape)"
    root: Path
    score_range: tuple[float, float]
    items: tuple[ScoredImage, ...]
    official_split: bool  # False when the split was seeded here

    @property
    def pairwise(self) -> bool:
        """Degrade tasks learn "original ≻ degraded" within each photo, not a score shared across photos."""
        return bool(self.items) and all(item.degradation is not None for item in self.items)

    @property
    def train(self) -> list[ScoredImage]:
        return [item for item in self.items if item.split == TRAIN]

    @property
    def test(self) -> list[ScoredImage]:
        return [item for item in self.items if item.split == TEST]

    def identity(self) -> str:
        """A hash over every row: a resumed build refuses to continue on changed data."""
        digest = hashlib.sha256()
        for item in self.items:
            extra = f"\t{item.degradation!r}" if item.degradation is not None else ""
            digest.update(f"{item.path}\t{item.score!r}\t{item.split}{extra}\n".encode())
        digest.update(repr(self.score_range).encode())
        return digest.hexdigest()[:24]


@dataclass(frozen=True)
class TaskSource:
    """One ``--task NAME=READER:PATH[,key=value...]`` argument, parsed."""

    name: str
    reader: str
    path: Path
    options: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        extra = "".join(f",{k}={v}" for k, v in sorted(self.options.items()))
        return f"{self.name}={self.reader}:{self.path}{extra}"


#: Options a task argument may carry after its path.
TASK_OPTIONS = {
    "range": "LO:HI, the score scale (csv: inferred from the scores when absent)",
    "score": "COLUMN holding the score (csv only; default: score, or mos)",
    "images": "DIR the image names are relative to (default: the reader's layout)",
    "exclude": "FILE listing image names to leave out (first CSV column or one name per line)",
    "title": "TEXT the bundle shows as the task's dataset (default: the reader's name and path)",
    "kind": "degrade only: what is degraded (set by degrade:KIND:PATH)",
}
_OPTION_SPLIT = re.compile(r",(?=[A-Za-z_]+=)")  # a comma inside a path is kept unless "word=" follows


def parse_task_source(text: str) -> TaskSource:
    """``ava=ava:/data/AVA`` or ``mine=csv:/data/s.csv,range=1:5,score=mos`` -> :class:`TaskSource`."""
    from aesthetic_curator.factory.dataset_readers import READERS  # the readers import this module

    name, sep, rest = text.partition("=")
    reader, sep2, location = rest.partition(":")
    if not sep or not sep2 or not name or not location:
        raise DatasetError(f"task '{text}' must look like NAME=READER:PATH (READER one of {', '.join(READERS)})")
    if reader not in READERS:
        raise DatasetError(f"task '{name}': unknown reader '{reader}' (one of {', '.join(READERS)})")
    options = {}
    if reader == "degrade":  # degrade:KIND:PATH, e.g. degrade:blur:~/Photos or degrade:noise+jpeg:list.csv
        kind, sep3, location = location.partition(":")
        if not sep3 or not location:
            raise DatasetError(f"task '{name}': write degrade:KIND:PATH with KIND one of {', '.join(KINDS)}")
        options["kind"] = kind
    path_text, *option_texts = _OPTION_SPLIT.split(location)
    for option in option_texts:
        key, _, value = option.partition("=")
        options[key] = value
    return TaskSource(name=name.strip(), reader=reader, path=Path(path_text).expanduser(), options=options)


# -- helpers ------------------------------------------------------------------------------------------
def seeded_split(key: str, seed: int, test_fraction: float) -> str:
    """TEST for about ``test_fraction`` of keys, decided by a hash of the key and the seed alone."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return TEST if int.from_bytes(digest[:8], "big") / 2**64 < test_fraction else TRAIN


def read_dataset(source: TaskSource, *, seed: int = 0, test_fraction: float = 0.2) -> ScoredDataset:
    """Read one task's dataset; unknown options and empty splits are errors, not surprises later."""
    unknown = sorted(set(source.options) - set(TASK_OPTIONS))
    if unknown:
        raise DatasetError(f"task '{source.name}': unknown option {unknown[0]} (options: {', '.join(TASK_OPTIONS)})")
    if source.reader not in ("csv", "degrade") and not source.path.is_dir():
        raise DatasetError(f"task '{source.name}': dataset folder {source.path} does not exist")
    from aesthetic_curator.factory.dataset_readers import (
        READERS,
        ReaderContext,
        check_images_exist,
        excluded_names,
        parse_range,
    )

    title, reader = READERS[source.reader]
    ctx = ReaderContext(source.path, source.options, seed, test_fraction)
    items, score_range, official = reader(ctx)
    if "range" in source.options:
        score_range = parse_range(source.options["range"])
    if "exclude" in source.options:
        excluded = excluded_names(Path(source.options["exclude"]).expanduser())
        before = len(items)
        items = [item for item in items if item.path.name not in excluded]
        log.info("task %s: left out %d excluded images", source.name, before - len(items))
    if title == "CSV":
        title = f"CSV {source.path.name}"
    elif source.reader == "degrade":
        title = f"graded {source.options['kind']} of the photos in {source.path.name} (self-supervised)"
    title = source.options.get("title") or title
    dataset = ScoredDataset(source.reader, title, source.path, score_range, tuple(items), official)
    if len(dataset.train) < 2 or not dataset.test:
        raise DatasetError(
            f"task '{source.name}': {len(dataset.train)} training and {len(dataset.test)} test images; "
            "a task needs at least 2 of each kind (check the layout or the split column)"
        )
    check_images_exist(list(dataset.items), source.path)
    return dataset


def split_by_column(
    name: str, dataset: ScoredDataset, column: str, *, min_images: int
) -> list[tuple[str, ScoredDataset]]:
    """One task per value of ``column``; values with fewer than ``min_images`` images share ``NAME-other``.

    An image with two values (AVA has two semantic tags) belongs to both tasks.
    """
    if not any(column in item.groups for item in dataset.items):
        available = sorted({k for item in dataset.items for k in item.groups})
        raise DatasetError(
            f"task '{name}': cannot split by '{column}' (columns: {', '.join(available) or 'none for this reader'})"
        )
    members: dict[str, list[ScoredImage]] = defaultdict(list)
    for item in dataset.items:
        for value in item.groups.get(column, ()) or ("",):
            members[value].append(item)
    tasks: list[tuple[str, ScoredDataset]] = []
    other: dict[Path, ScoredImage] = {}
    for value in sorted(members):
        group = members[value]
        trainable = sum(i.split == TRAIN for i in group) >= 2 and any(i.split == TEST for i in group)
        if value and len(group) >= min_images and trainable:
            slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", value).strip("-").lower()[:40] or "x"
            title = f"{dataset.title} ({column} = {value})"
            tasks.append((f"{name}-{slug}", replace(dataset, title=title, items=tuple(group))))
        else:
            other.update((item.path, item) for item in group)
    leftovers = list(other.values())
    if sum(i.split == TRAIN for i in leftovers) >= 2 and any(i.split == TEST for i in leftovers):
        title = f"{dataset.title} ({column}: all smaller groups)"
        tasks.append((f"{name}-other", replace(dataset, title=title, items=tuple(leftovers))))
    elif leftovers:
        log.warning("task %s: %d images in groups too small to train on are left out", name, len(leftovers))
    log.info("task %s split by %s into %d tasks", name, column, len(tasks))
    return tasks
