"""The commands on photos: personalize, rank, eval, scan, export, and opening the window."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from aesthetic_curator.atomic import atomic_write_text
from aesthetic_curator.cli.output import BarProgress, bundle_path_from, existing_dir, say, write_csv
from aesthetic_curator.errors import CuratorError

log = logging.getLogger(__name__)


def _personalize_config(args: argparse.Namespace, solver: str):
    """The run's settings from the command line (``--steps`` belongs to the paper recipe)."""
    from aesthetic_curator.engine.solvers.base import PersonalizeConfig

    settings = {"temperature": args.temperature, "seed": getattr(args, "seed", 0)}
    settings["tune_top"] = {"auto": None, "on": True, "off": False}[getattr(args, "tune_top", "auto")]
    if args.steps is not None and solver == "paper":
        settings["steps"] = args.steps
    elif args.steps is not None:
        say(f"note: --steps sets the paper recipe's AdamW steps; the {solver} solver does not use it")
    return PersonalizeConfig.for_solver(solver, **settings)


def cmd_personalize(args: argparse.Namespace) -> int:
    from aesthetic_curator.engine.session import ModelSession
    from aesthetic_curator.profile_progress import answers_in_words
    from aesthetic_curator.ratings_file import read_pairs_csv, read_ratings_csv

    if args.ratings is None and args.pairs is None:
        raise CuratorError("personalize needs --ratings, --pairs or both: what you think of some photos")
    model = ModelSession(bundle_path_from(args), args.device)
    bundle, _ = model.bundle, model.device  # a bad bundle or device is reported before anything else
    images_root = existing_dir(args.images, "--images")
    pairs: list[tuple[Path, Path]] = []
    if args.pairs is not None:
        compared = read_pairs_csv(args.pairs, images_root)
        pairs = compared.pairs
        for note in compared.notes:
            say(f"note: {note}")
    rated = []
    if args.ratings is not None:
        rated = read_ratings_csv(args.ratings, images_root, args.rating_column, require_order=not pairs)
    config = _personalize_config(args, args.solver)
    told = answers_in_words(len(rated), len(pairs), rating_noun="rated photo")
    say(f"personalizing on {told} with {len(bundle.tasks)} tasks on {model.device}")
    bars = BarProgress(not args.quiet)
    try:
        model.prepare(bars)
        result = model.personalize(rated, config, progress=bars, pairs=pairs)
    finally:
        bars.close()
    for item in result.skipped:
        print(f"skipped {item.path}: {item.reason}", file=sys.stderr)
    model.profile_from(result, args.name).save(args.out)
    measure = "agreement" if result.comparisons else "SROCC"
    zero_shot = ", ".join(f"{k} {v:+.3f}" for k, v in result.zero_shot_srocc.items())
    say(f"zero-shot {measure} per task: {zero_shot}")
    # Under FastOptions.init_only_below star-rated photos the fast solver keeps the init and only tunes the top.
    fit = f"after {result.steps} steps" if result.steps else "with the coefficients at the adaptive init"
    say(f"training {measure} {result.train_srocc:.3f} {fit}, {result.passes.total} image passes, {result.seconds:.1f}s")
    if result.top_tuned:
        say(f"fine-tuned the {result.top_tuned} on your judgements")
    if result.agreement is not None:
        value, error = 100 * result.agreement.value, 100 * result.agreement.error
        say(f"cross-validated: predicts {value:.0f} % (± {error:.0f} %) of your judgements")
    say(f"wrote profile {args.out}")
    return 0


def cmd_rank(args: argparse.Namespace) -> int:
    from aesthetic_curator.engine.profile import Profile
    from aesthetic_curator.engine.session import ModelSession
    from aesthetic_curator.library.scanner import scan_album

    model = ModelSession(bundle_path_from(args), args.device)
    bundle, _ = model.bundle, model.device  # a bad bundle or device is reported before anything else
    profile = Profile.load(args.profile)
    profile.check_bundle(bundle)
    images_root = existing_dir(args.images, "--images")
    scan = scan_album(images_root, with_hashes=False)
    for problem in scan.problems:
        print(f"skipped {images_root / problem.path}: {problem.reason}", file=sys.stderr)
    paths = [scan.root / f.relpath for f in scan.files]
    if not paths:
        raise CuratorError(f"no images found under {images_root}")
    bars = BarProgress(not args.quiet)
    try:
        model.prepare(bars)
        result = model.rank(
            profile, paths, batch_size=args.batch_size, workers=args.workers, progress=bars, decode=args.decode
        )
    finally:
        bars.close()
    for item in result.skipped:
        print(f"skipped {item.path}: {item.reason}", file=sys.stderr)
    rows = [(item.path.relative_to(scan.root).as_posix(), f"{item.score:.6f}", item.rank) for item in result.ranked]
    write_csv(args.out, ("image", "score", "rank"), rows)  # names as the file system spells them
    say(
        f"ranked {len(result.ranked)} photos ({len(result.skipped) + len(scan.problems)} skipped) "
        f"in {result.seconds:.1f}s "
        f"({result.images_per_second:.1f} photos/s); wrote {args.out}"
    )
    return 0


def _judged_in_the_app(album: Path) -> list[Path]:
    """The photos the app's library of ``album`` learns from (rated or compared there), for explain without
    --ratings; its ratings are only read."""
    from aesthetic_curator import curation
    from aesthetic_curator.library.moved_album import find_moved_library
    from aesthetic_curator.library.store import Library, library_path_for

    library_file = library_path_for(album)
    if not library_file.is_file() and find_moved_library(album, library_file.parent) is None:
        raise CuratorError(
            f"{album} has no library of the app: give --ratings, the ratings CSV the profile learned from"
        )
    with Library.open_for_album(album) as library:
        judged = curation.judged_photos(library)
    if not judged:
        raise CuratorError(f"no photo of {album} is rated or compared in the app: give --ratings")
    return judged


def cmd_explain(args: argparse.Namespace) -> int:
    from aesthetic_curator.engine.profile import Profile
    from aesthetic_curator.engine.session import ModelSession
    from aesthetic_curator.ratings_file import read_ratings_csv

    model = ModelSession(bundle_path_from(args), args.device)
    profile = Profile.load(args.profile)
    profile.check_bundle(model.bundle)
    images_root = existing_dir(args.images, "--images")
    if args.ratings is not None:
        judged = [p for p, _ in read_ratings_csv(args.ratings, images_root, args.rating_column, require_order=False)]
    else:
        judged = _judged_in_the_app(images_root)
    photos = [photo if photo.is_absolute() else images_root / photo for photo in args.photos]
    bars = BarProgress(not args.quiet)
    try:
        answer = model.explain(profile, photos, judged, progress=bars)
    finally:
        bars.close()
    for photo in sorted(set(photos) - {e.path for e in answer.photos}):
        print(f"skipped {photo}: cannot be read", file=sys.stderr)
    say(f"against {answer.reference_count} of your rated photos (their mean score {answer.reference_score:.3f}):")
    for explained in answer.photos:
        print(f"{explained.path}: score {explained.score:.3f}: {explained.summary()}")
        if args.all:
            for task, part in sorted(explained.parts.items(), key=lambda item: -item[1]):
                print(f"    {task:<24} {part:+.3f}")
            print(f"    {'(the rest)':<24} {explained.rest:+.3f}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from aesthetic_curator.engine.session import ModelSession
    from aesthetic_curator.evaluation.baselines import FineTuneConfig
    from aesthetic_curator.evaluation.harness import EvalReport, evaluate, saved_runs
    from aesthetic_curator.evaluation.users import dataset_users, synthetic_eval_users
    from aesthetic_curator.progress import Cancelled

    if args.protocol == "learning-curve":
        if args.first_trial:
            raise CuratorError("--first-trial is for the few-shot protocol (each curve point draws its own answers)")
        return _eval_learning_curves(args)
    if (args.dataset is None) == (args.synthetic_users is None):
        raise CuratorError("give exactly one of --dataset KIND:PATH or --synthetic-users N")
    out = args.json or Path("evaluation.json")
    command = _eval_command(args)
    saved = _saved_evaluation(out, command) if args.resume else None
    session = ModelSession(bundle_path_from(args), args.device)
    session.prepare()
    model = session.merged_model()

    def save(partial: EvalReport) -> None:
        partial.settings["command"] = command  # what --resume checks the saved users against
        atomic_write_text(out, json.dumps(partial.to_json(), indent=1))

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
        config = _personalize_config(args, "paper")  # --steps are the paper recipe's
        if args.jobs < 1:
            raise CuratorError("--jobs must be at least 1")
        report = evaluate(
            model,
            users,
            args.shots,
            args.trials,
            args.solver or ["paper", "fast"],
            config,
            args.seed,
            progress=bars,
            jobs=args.jobs,
            baselines=args.baseline,
            finetune=FineTuneConfig(steps=args.finetune_steps),
            finished=saved_runs(saved, users) if saved else None,
            on_user=save,
            first_trial=args.first_trial,
        )
    except (Cancelled, KeyboardInterrupt):
        log.warning("stopped; the users finished so far are in %s: the same command with --resume goes on", out)
        raise
    finally:
        bars.close()
    if args.trials > 0:
        print(report.table())
        print()
    print("Each task alone (zero-shot SROCC over all of each user's photos):")
    print(report.zero_shot_table())
    save(report)
    say(f"{len(users)} users; wrote {out}")
    return 0


#: The command-line settings that change an evaluation's results: a resumed run must repeat them all.
_EVAL_SETTINGS = (
    "dataset",
    "labels",
    "max_photos",
    "max_users",
    "synthetic_users",
    "photos_per_user",
    "shots",
    "trials",
    "solver",
    "steps",
    "temperature",
    "tune_top",
    "seed",
    "baseline",
    "finetune_steps",
)


def _eval_command(args: argparse.Namespace) -> dict:
    """The run's identity as JSON would read it back: its bundle, the settings above and the app's version."""
    from aesthetic_curator import __version__

    settings = {name: getattr(args, name) for name in _EVAL_SETTINGS}
    if args.first_trial:  # absent at 0, so runs saved before the option existed still resume
        settings["first_trial"] = args.first_trial
    settings["bundle"] = str(args.bundle.resolve()) if args.bundle is not None else "built-in"
    settings["version"] = __version__
    return json.loads(json.dumps(settings, default=str))


def _saved_evaluation(out: Path, command: dict) -> dict | None:
    """What ``--resume`` goes on from: ``out`` as saved by the same command (None when there is none yet)."""
    if not out.exists():
        say(f"nothing saved in {out} yet: starting from the first user")
        return None
    try:
        saved = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CuratorError(f"cannot resume from {out}: {error}") from None
    before = saved.get("settings", {}).get("command") if isinstance(saved, dict) else None
    if before is None:
        raise CuratorError(f"cannot resume from {out}: it was not saved by a resumable evaluation")
    changed = sorted(key for key in command.keys() | before.keys() if command.get(key) != before.get(key))
    if changed:
        raise CuratorError(
            f"cannot resume from {out}: it was run with other settings ({', '.join(changed)}); "
            "repeat its command, or write to another --json"
        )
    if saved.get("complete"):
        say(f"every user in {out} is already evaluated; reporting it again")
    return saved


def _eval_learning_curves(args: argparse.Namespace) -> int:
    """``eval --protocol learning-curve``: test SROCC against the number of answers, per way of asking."""
    from aesthetic_curator.engine.session import ModelSession
    from aesthetic_curator.engine.solvers import DEFAULT_SOLVER, split_variant
    from aesthetic_curator.evaluation.harness import variant_config
    from aesthetic_curator.evaluation.learning_curves import learning_curves
    from aesthetic_curator.evaluation.users import curve_users, dataset_users

    if args.dataset is None and not args.synthetic_users:
        raise CuratorError("give --dataset KIND:PATH, --synthetic-users N, or both")
    session = ModelSession(bundle_path_from(args), args.device)
    session.prepare()
    model = session.merged_model()
    bars = BarProgress(not args.quiet)
    try:
        real = []
        if args.dataset is not None:
            real = dataset_users(
                model, args.dataset, args.labels, args.max_users, bars, max_photos=args.max_photos, seed=args.seed
            )
        users = curve_users(model, real, args.synthetic_users or 0, args.photos_per_user, args.seed, progress=bars)
        if not users:
            raise CuratorError("no user with readable photos")
        spec = args.solver[0] if args.solver else DEFAULT_SOLVER
        config = variant_config(spec, _personalize_config(args, split_variant(spec)[0]), args.seed)
        report = learning_curves(
            model, users, args.answers, max(1, args.trials), args.strategy, config, args.seed, progress=bars
        )
    finally:
        bars.close()
    for group in ("real", "synthetic"):
        if group in report.users.values():
            print(f"Test SROCC ({group} users; mean over users ± std over trials):")
            print(report.table(group))
            print()
    print("Test SROCC after each stage of the profile (all users):")
    print(report.stage_table())
    print()
    print("Calibration of the agreement estimate:")
    print(report.calibration_table())
    out = args.json or Path("learning-curves.json")
    atomic_write_text(out, json.dumps(report.to_json(), indent=1))
    say(f"{len(users)} users; wrote {out}")
    return 0


def cmd_scan(args: argparse.Namespace) -> int:
    from aesthetic_curator.library.album import import_xmp_ratings, index_album, write_xmp_ratings
    from aesthetic_curator.library.store import Library
    from aesthetic_curator.library.thumbnails import ThumbnailCache

    album = existing_dir(args.album, "album")
    bars = BarProgress(not args.quiet)
    with Library.open_for_album(album) as library:
        try:
            cache = None if args.no_thumbnails else ThumbnailCache()
            summary = index_album(library, thumbnails=cache, workers=args.workers, progress=bars)
            xmp_import = import_xmp_ratings(library, progress=bars) if args.import_xmp else None
            xmp_write = write_xmp_ratings(library, args.sidecar_names, progress=bars) if args.write_xmp else None
        finally:
            bars.close()
        scan, sync = summary.scan, summary.sync
        counts = ", ".join(f"{name} {count}" for name, count in scan.counts_by_format().items()) or "none"
        print(f"{len(scan.files)} photos in {library.album}: {counts}")
        if library.carried_from is not None:
            print(f"ratings, profiles and rankings kept from {library.carried_from} (the folder was moved or renamed)")
        print(
            f"changes since last scan: {len(sync.added)} added, {len(sync.removed)} removed, "
            f"{len(sync.changed)} changed, {len(sync.moved)} moved or renamed, {sync.unchanged} unchanged"
        )
        if scan.paired:
            print(f"{scan.paired} RAW files paired with their JPEG or HEIF (one photo each; exported together)")
        if sync.paired:
            print(
                f"{len(sync.paired)} of them were photos of their own before: their ratings and labels went to "
                "the pair where it had none"
            )
        if scan.ignored:
            print(f"{scan.ignored} other files ignored (not photos)")
        if cache is not None:
            print(f"thumbnails: {summary.thumbnails_made} made, {summary.thumbnails_cached} already cached")
        if xmp_import is not None:
            print(f"ratings imported from XMP: {xmp_import.imported}")
            for relpath, problem in xmp_import.problems:
                print(f"  XMP of {relpath}: {problem}", file=sys.stderr)
        if xmp_write is not None:
            print(f"ratings written to XMP sidecars: {xmp_write.written} ({xmp_write.unchanged} already said so)")
            for relpath, problem in xmp_write.problems:
                print(f"  XMP of {relpath} not written: {problem}", file=sys.stderr)
        skipped = [(p.path, p.reason) for p in scan.problems] + summary.unreadable
        if skipped:
            print(f"skipped {len(skipped)}:", file=sys.stderr)
            for path, reason in skipped:
                print(f"  {path}: {reason}", file=sys.stderr)
        say(f"library: {library.db_path}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from aesthetic_curator.library.export import export_photos, read_ranking_csv

    images = existing_dir(args.images, "--images")
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
            long_edge=args.long_edge,
            write_xmp=args.xmp,
            with_raw=not args.no_raw,
            numbered=args.numbered,
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


def cmd_gui(args: argparse.Namespace) -> int:
    from aesthetic_curator.gui.platform_check import missing_platform_packages

    album = existing_dir(args.album, "ALBUM") if args.album is not None else None
    problem = missing_platform_packages()
    if problem:
        raise CuratorError(problem)
    from aesthetic_curator.gui.app import run

    return run(album)
