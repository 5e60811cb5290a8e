"""The readers of published dataset layouts (AVA, Flickr-AES, TAD66K, PARA, KonIQ-10k, SPAQ), of any
scored CSV, and of self-supervised degradations: each turns a folder into :class:`ScoredImage` items."""

from __future__ import annotations

import csv
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from aesthetic_curator.factory.datasets import TEST, TRAIN, DatasetError, ScoredImage, seeded_split
from aesthetic_curator.factory.degradations import LEVELS, Degradation, parse_kinds
from aesthetic_curator.images import IMAGE_EXTENSIONS

log = logging.getLogger(__name__)


def parse_range(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(":"))
    except ValueError as exc:
        raise DatasetError(f"score range '{text}' must look like LO:HI, e.g. 1:5") from exc
    if not hi > lo:
        raise DatasetError(f"score range '{text}': HI must be larger than LO")
    return lo, hi


def _float(value: str, where: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"{where}: '{value}' is not a number") from exc


def _read_csv_rows(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    if not path.is_file():
        raise DatasetError(f"missing file {path}")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        if not reader.fieldnames:
            raise DatasetError(f"{path} is empty")
        reader.fieldnames = [name.strip() for name in reader.fieldnames]
        return [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader]


def _require_columns(rows: list[dict[str, str]], columns: Iterable[str], path: Path) -> None:
    missing = [c for c in columns if rows and c not in rows[0]]
    if missing:
        raise DatasetError(f"{path}: no column {', '.join(missing)} (columns: {', '.join(rows[0])})")


def _first_existing(root: Path, candidates: Iterable[str], what: str) -> Path:
    for candidate in candidates:
        if (root / candidate).exists():
            return root / candidate
    raise DatasetError(f"{root}: cannot find {what} (looked for {', '.join(candidates)})")


def check_images_exist(items: list[ScoredImage], root: Path) -> None:
    """Fail early, before hours of work, when the image folder is plainly wrong."""
    sample = items[:: max(1, len(items) // 20)][:20]
    missing = [item.path for item in sample if not item.path.is_file()]
    if sample and len(missing) == len(sample):
        raise DatasetError(f"{root}: none of the sampled images exist (e.g. {missing[0]}); check the layout")
    if missing:
        log.warning("%s: %d of %d sampled images are missing; they will be skipped", root, len(missing), len(sample))


def excluded_names(path: Path) -> set[str]:
    if not path.is_file():
        raise DatasetError(f"exclude list {path} does not exist")
    names = set()
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for row in csv.reader(handle):
            if row and row[0].strip():
                names.add(Path(row[0].strip()).name)
    return names


@dataclass
class ReaderContext:
    root: Path
    options: Mapping[str, str]
    seed: int
    test_fraction: float

    def split_for(self, key: str) -> str:
        return seeded_split(key, self.seed, self.test_fraction)

    def images(self, default: Path) -> Path:
        return Path(self.options["images"]).expanduser() if "images" in self.options else default


Reader = Callable[[ReaderContext], tuple[list[ScoredImage], tuple[float, float], bool]]


# -- the published layouts --------------------------------------------------------------------------
def read_ava(ctx: ReaderContext) -> tuple[list[ScoredImage], tuple[float, float], bool]:
    """AVA: ``AVA.txt`` (index, id, 10 vote counts, 2 semantic tags, challenge), images ``images/<id>.jpg``.

    The score is the mean vote. ``tags.txt`` names the semantic tags; the test split is
    ``aesthetics_image_lists/generic_test.jpgl`` when present.
    """
    root = ctx.root
    labels = _first_existing(root, ["AVA.txt", "AVA_dataset/AVA.txt"], "AVA.txt")
    tag_names: dict[str, str] = {}
    tags_file = labels.with_name("tags.txt")
    if tags_file.is_file():
        for line in tags_file.read_text(encoding="utf-8", errors="replace").splitlines():
            tag_id, _, tag_name = line.strip().partition(" ")
            if tag_id:
                tag_names[tag_id] = tag_name.strip() or tag_id
    test_list = labels.parent / "aesthetics_image_lists" / "generic_test.jpgl"
    test_ids = set(test_list.read_text().split()) if test_list.is_file() else None
    images = ctx.images(_first_existing(root, ["images", "image"], "the images/ folder"))
    items = []
    for line_no, line in enumerate(labels.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 15:
            raise DatasetError(f"{labels}:{line_no}: expected 15 columns, found {len(fields)}")
        image_id = fields[1]
        votes = [_float(v, f"{labels}:{line_no}") for v in fields[2:12]]
        total = sum(votes)
        if total <= 0:
            continue
        score = sum((i + 1) * v for i, v in enumerate(votes)) / total
        tags = tuple(tag_names.get(t, t) for t in fields[12:14] if t != "0")
        split = (TEST if image_id in test_ids else TRAIN) if test_ids is not None else ctx.split_for(image_id)
        groups = {"semantic_tag": tags, "challenge": (fields[14],)}
        items.append(ScoredImage(images / f"{image_id}.jpg", score, split, groups))
    return items, (1.0, 10.0), test_ids is not None


def read_flickr_aes(ctx: ReaderContext) -> tuple[list[ScoredImage], tuple[float, float], bool]:
    """Flickr-AES: ``FLICKR-AES_image_score.txt`` (name, mean score) or the per-worker CSV, images ``40K/``.

    Without the mean-score file, the mean over the workers' scores of
    ``FLICKR-AES_image_labeled_by_each_worker.csv`` (worker, image, score) is used. There is no
    published image-level split, so it is seeded; pass ``exclude=`` with the PIAA test workers' image
    list to keep them out when you evaluate on Flickr-AES afterwards.
    """
    root = ctx.root
    images = ctx.images(_first_existing(root, ["40K"], "the 40K/ image folder"))
    scores: dict[str, float] = {}
    mean_file = root / "FLICKR-AES_image_score.txt"
    if mean_file.is_file():
        for line_no, line in enumerate(mean_file.read_text(encoding="utf-8").splitlines(), start=1):
            fields = line.replace(",", " ").split()
            if len(fields) >= 2:
                scores[fields[0]] = _float(fields[1], f"{mean_file}:{line_no}")
    else:
        worker_file = _first_existing(
            root, ["FLICKR-AES_image_labeled_by_each_worker.csv"], "FLICKR-AES_image_score.txt or the per-worker CSV"
        )
        sums: dict[str, list[float]] = defaultdict(list)
        with worker_file.open(newline="", encoding="utf-8-sig") as handle:
            rows = csv.reader(handle)
            next(rows, None)
            for line_no, row in enumerate(rows, start=2):
                if len(row) >= 3:
                    sums[row[1].strip()].append(_float(row[2], f"{worker_file}:{line_no}"))
        scores = {name: sum(values) / len(values) for name, values in sums.items()}
    items = [ScoredImage(images / name, score, ctx.split_for(name)) for name, score in scores.items()]
    return items, (1.0, 5.0), False


def read_tad66k(ctx: ReaderContext) -> tuple[list[ScoredImage], tuple[float, float], bool]:
    """TAD66K: ``labels/merge/{train,test}.csv`` (image, score), images in ``images/`` (or ``imgs/``)."""
    root = ctx.root
    label_dir = _first_existing(root, ["labels/merge", "labels", "."], "labels/merge/")
    if not (label_dir / "train.csv").is_file():
        raise DatasetError(f"{root}: no labels/merge/train.csv")
    images = ctx.images(_first_existing(root, ["images", "imgs", "image"], "the images/ folder"))
    items = []
    for split in (TRAIN, TEST):
        path = label_dir / f"{split}.csv"
        rows = _read_csv_rows(path)
        _require_columns(rows, ["image", "score"], path)
        items += [ScoredImage(images / r["image"], _float(r["score"], str(path)), split) for r in rows if r["image"]]
    return items, (0.0, 10.0), True


def read_para(ctx: ReaderContext) -> tuple[list[ScoredImage], tuple[float, float], bool]:
    """PARA: ``annotation/PARA-GiaaTrain.csv`` / ``PARA-GiaaTest.csv``, images ``imgs/<sessionId>/<imageName>``.

    The score is ``aestheticScore_mean`` (1-5); ``semantic`` and the other text columns can split it.
    """
    root = ctx.root
    images = ctx.images(_first_existing(root, ["imgs", "images"], "the imgs/ folder"))
    items = []
    for split, name in ((TRAIN, "PARA-GiaaTrain.csv"), (TEST, "PARA-GiaaTest.csv")):
        path = root / "annotation" / name
        rows = _read_csv_rows(path)
        _require_columns(rows, ["sessionId", "imageName", "aestheticScore_mean"], path)
        for row in rows:
            groups = {k: (v,) for k, v in row.items() if k in ("semantic", "sessionId") and v}
            score = _float(row["aestheticScore_mean"], str(path))
            items.append(ScoredImage(images / row["sessionId"] / row["imageName"], score, split, groups))
    return items, (1.0, 5.0), True


def read_koniq10k(ctx: ReaderContext) -> tuple[list[ScoredImage], tuple[float, float], bool]:
    """KonIQ-10k: ``koniq10k_scores_and_distributions.csv`` (image_name, MOS on 1-5), images ``1024x768/``.

    The split is the ``set`` column of ``koniq10k_distributions_sets.csv`` when present (validation
    images are trained on, since nothing is selected by validation score).
    """
    root = ctx.root
    path = root / "koniq10k_scores_and_distributions.csv"
    rows = _read_csv_rows(path)
    _require_columns(rows, ["image_name", "MOS"], path)
    sets_file = root / "koniq10k_distributions_sets.csv"
    sets = {}
    if sets_file.is_file():
        set_rows = _read_csv_rows(sets_file)
        _require_columns(set_rows, ["image_name", "set"], sets_file)
        sets = {r["image_name"]: (TEST if r["set"].lower() == "test" else TRAIN) for r in set_rows}
    images = ctx.images(_first_existing(root, ["1024x768", "512x384"], "the 1024x768/ image folder"))
    items = [
        ScoredImage(
            images / r["image_name"],
            _float(r["MOS"], str(path)),
            sets.get(r["image_name"]) or ctx.split_for(r["image_name"]),
        )
        for r in rows
    ]
    return items, (1.0, 5.0), bool(sets)


def read_spaq(ctx: ReaderContext) -> tuple[list[ScoredImage], tuple[float, float], bool]:
    """SPAQ: ``Annotations/MOS and Image attribute scores.xlsx`` (or a ``.csv`` export), images ``TestImage/``.

    The score is ``MOS`` (0-100). SPAQ publishes no split, so it is seeded.
    """
    root = ctx.root
    base = root / "Annotations" / "MOS and Image attribute scores"
    if base.with_suffix(".csv").is_file():
        rows = _read_csv_rows(base.with_suffix(".csv"))
    elif base.with_suffix(".xlsx").is_file():
        rows = _read_xlsx_rows(base.with_suffix(".xlsx"))
    else:
        raise DatasetError(f"{root}: no 'Annotations/MOS and Image attribute scores.xlsx' (or .csv)")
    _require_columns(rows, ["Image name", "MOS"], base)
    images = ctx.images(_first_existing(root, ["TestImage", "images"], "the TestImage/ folder"))
    items = [
        ScoredImage(images / r["Image name"], _float(r["MOS"], str(base)), ctx.split_for(r["Image name"]))
        for r in rows
        if r["Image name"]
    ]
    return items, (0.0, 100.0), False


def _read_xlsx_rows(path: Path) -> list[dict[str, str]]:
    from openpyxl import load_workbook

    try:
        sheet = load_workbook(path, read_only=True, data_only=True).worksheets[0]
    except Exception as exc:  # openpyxl raises many types for damaged files
        raise DatasetError(f"{path}: cannot read the spreadsheet ({exc})") from exc
    rows = sheet.iter_rows(values_only=True)
    header = [str(v).strip() if v is not None else "" for v in next(rows, ())]
    return [{h: "" if v is None else str(v).strip() for h, v in zip(header, row)} for row in rows if any(row)]


def read_csv(ctx: ReaderContext) -> tuple[list[ScoredImage], tuple[float, float], bool]:
    """Any scored collection: a CSV with ``image`` and ``score`` columns and an optional ``split`` column.

    Image names are relative to ``images=DIR``, else the CSV's folder (or its ``images/`` subfolder).
    The score range is ``range=LO:HI`` or, when absent, the lowest to highest score found. Every other
    column can be used with ``--split-by``.
    """
    path = ctx.root
    if not path.is_file():
        raise DatasetError(f"csv task: {path} is not a file")
    rows = _read_csv_rows(path)
    if not rows:
        raise DatasetError(f"{path} has no rows")
    score_column = ctx.options.get("score") or next((c for c in ("score", "mos", "MOS") if c in rows[0]), "score")
    _require_columns(rows, ["image", score_column], path)
    folder = ctx.images(path.parent)
    if "images" not in ctx.options and not (folder / rows[0]["image"]).exists() and (folder / "images").is_dir():
        folder = folder / "images"
    has_split = "split" in rows[0]
    items = []
    for line_no, row in enumerate(rows, start=2):
        if not row["image"]:
            continue
        if has_split and row["split"].lower() not in (TRAIN, TEST, "training", "val", "validation"):
            raise DatasetError(f"{path}:{line_no}: split must be train or test, not '{row['split']}'")
        split = (TEST if row["split"].lower() == TEST else TRAIN) if has_split else ctx.split_for(row["image"])
        groups = {k: (v,) for k, v in row.items() if k not in ("image", score_column, "split") and v}
        items.append(ScoredImage(folder / row["image"], _float(row[score_column], f"{path}:{line_no}"), split, groups))
    scores = [item.score for item in items]
    inferred = (min(scores), max(scores)) if scores and max(scores) > min(scores) else (0.0, 1.0)
    return items, inferred, has_split


def read_degrade(ctx: ReaderContext) -> tuple[list[ScoredImage], tuple[float, float], bool]:
    """Any photos, no labels: each photo at ``LEVELS`` graded strengths of the chosen degradation.

    PATH is a folder (searched recursively, hidden files skipped) or a CSV whose ``image`` column
    lists the photos (relative to ``images=DIR`` or the CSV's folder). The split is seeded per
    photo, so no photo is both trained on and tested; the score is ``LEVELS - 1 - level`` (3 = the
    original), and the trainer compares only versions of the same photo.
    """
    try:
        kinds = parse_kinds(ctx.options.get("kind", ""))
    except ValueError as exc:
        raise DatasetError(str(exc)) from None
    if ctx.root.is_file():
        rows = _read_csv_rows(ctx.root)
        _require_columns(rows, ["image"], ctx.root)
        folder = ctx.images(ctx.root.parent)
        photos = [folder / row["image"] for row in rows if row["image"]]
    elif ctx.root.is_dir():
        photos = sorted(
            path
            for path in ctx.root.rglob("*")
            if path.suffix.lower() in IMAGE_EXTENSIONS
            and not any(part.startswith(".") for part in path.relative_to(ctx.root).parts)
        )
    else:
        raise DatasetError(f"degrade task: {ctx.root} is neither a folder of photos nor a CSV listing them")
    items = []
    for photo in photos:
        split = ctx.split_for(photo.name)
        for level in range(LEVELS):
            degradation = Degradation(kinds, level, photo.name, ctx.seed)
            items.append(ScoredImage(photo, float(LEVELS - 1 - level), split, degradation=degradation))
    return items, (0.0, float(LEVELS - 1)), False


#: reader name -> (published dataset name, reader)
READERS: dict[str, tuple[str, Reader]] = {
    "ava": ("AVA", read_ava),
    "flickr-aes": ("Flickr-AES", read_flickr_aes),
    "tad66k": ("TAD66K", read_tad66k),
    "para": ("PARA", read_para),
    "koniq10k": ("KonIQ-10k", read_koniq10k),
    "spaq": ("SPAQ", read_spaq),
    "csv": ("CSV", read_csv),
    "degrade": ("degradations", read_degrade),
}
