"""``aesthetic-curator bundle …``: build, grow, inspect and import task-vector bundles."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from aesthetic_curator.cli.output import BarProgress, bundle_path_from, existing_dir, say
from aesthetic_curator.errors import CuratorError


def cmd_bundle_import_official(args: argparse.Namespace) -> int:
    from aesthetic_curator.engine.official_import import import_official

    folder = existing_dir(args.checkpoints, "CHECKPOINT_DIR")
    if args.base_weights is not None and not args.base_weights.is_file():
        raise CuratorError(f"--base-weights {args.base_weights} is not a file")
    bars = BarProgress(not args.quiet)
    try:
        bundle = import_official(
            folder, args.out, base=args.base, base_weights=args.base_weights, overwrite=args.force, progress=bars
        )
    finally:
        bars.close()
    say(f"wrote bundle {bundle.path}: {bundle.spec.model_name}, tasks {', '.join(bundle.task_names)}")
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
        say(
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
            encoding="int8" if args.compact else args.encoding,
            progress=bars,
        )
    finally:
        bars.close()
    if bundle is not None:  # None on the other processes of a torchrun build
        say(f"wrote bundle {bundle.path}: {bundle.spec.model_name}, {len(bundle.tasks)} tasks")
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
        say(f"added {len(added)} tasks to {bundle.path} (now {len(bundle.tasks)}); re-personalize your profiles")
        _report_tasks(bundle, added)
    return 0


def cmd_bundle_recode(args: argparse.Namespace) -> int:
    from aesthetic_curator.engine.bundle import Bundle
    from aesthetic_curator.engine.bundle_writer import recode_bundle

    source = Bundle.load(args.bundle)
    bundle = recode_bundle(source, args.out, args.encoding, overwrite=args.force)
    say(
        f"wrote {bundle.path}: {len(bundle.tasks)} tasks as {args.encoding}, "
        f"{bundle.size_bytes() / 1e6:.1f} MB (was {source.size_bytes() / 1e6:.1f} MB); re-personalize your profiles"
    )
    return 0


def cmd_bundle_make_test(args: argparse.Namespace) -> int:
    from aesthetic_curator.engine.test_bundle import TestBundleConfig, make_test_bundle

    bars = BarProgress(not args.quiet)
    try:
        bundle = make_test_bundle(args.out, TestBundleConfig(seed=args.seed), overwrite=args.force, progress=bars)
    finally:
        bars.close()
    say(f"wrote test bundle {bundle.path} ({len(bundle.tasks)} tasks: {', '.join(bundle.task_names)})")
    say("it is for trying the pipeline only, not for ranking real photos")
    return 0


def cmd_bundle_info(args: argparse.Namespace) -> int:
    from aesthetic_curator.engine.bundle import Bundle

    bundle = Bundle.load(bundle_path_from(args))
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
