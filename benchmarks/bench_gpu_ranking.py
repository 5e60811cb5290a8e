"""Ranking at the speed of a GPU host: where JPEGs are decoded, in what precision the model runs, and
personalizing the built-in model on CUDA.

In one run, on the same files (real LIVE-C photos upscaled to each size and saved as quality-90 JPEGs;
``--distinct`` different pictures, hard-linked up to ``--files``, at least 10 batches so that decoding and
the model overlap):

- decode only: the CPU workers (reduced-scale libjpeg) against the GPU's decoder (``device_decode``);
- model only, per network: float32 weights under autocast (the path before this benchmark) against the
  reduced-precision copy that ranking now uses (``inference.prepare_for_gpu``), optionally ``torch.compile``;
- end to end (``ranking.score_paths``) with each decoder, and the issue's baseline in the same process: a
  plain open_clip loop (``create_model_and_transforms`` + PIL + ``encode_image``, autocast on CUDA) over a
  subset of the files (it is a serial loop: its rate does not depend on the count);
- the reduced-precision scores' rank correlation with float32 on real photos;
- the built-in model personalized on the device (K = 10 and 100, LIVE-C MOS as ratings) and its profile
  ranking the album through ``ModelSession.rank``, as the app does.

Writes the tables to docs/benchmarks.md (or ``$BENCHMARK_DOCS``) and every number to ``--json``.

    python benchmarks/bench_gpu_ranking.py --models ViT-B-16 ViT-L-14 builtin --sizes 1600x1200 4000x3000
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import tempfile
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from pathlib import Path

import torch
from bench_pipeline import plain_open_clip, sync  # the baseline, one definition
from PIL import Image
from report import publish
from scipy.stats import spearmanr

from aesthetic_curator.builtin_model import require_builtin_bundle
from aesthetic_curator.engine.bundle import Bundle
from aesthetic_curator.engine.devices import mixed_precision, resolve_device
from aesthetic_curator.engine.inference import prepare_for_gpu
from aesthetic_curator.engine.loading import default_workers, iter_batches
from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.personalize import PersonalizeConfig
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.engine.ranking import decode_device_for, default_batch_size, score_paths
from aesthetic_curator.engine.scorer import ScorerSpec, create_scorer, register_model_config
from aesthetic_curator.engine.session import ModelSession

log = logging.getLogger("bench_gpu_ranking")

#: Where JPEGs are decoded (ranking.DECODE_CHOICES; "auto" is "device" where the GPU can decode JPEGs).
DECODES = ("cpu", "device")
DECODE_LABELS = {
    "cpu": "CPU workers (reduced-scale libjpeg)",
    "device": "GPU decoder (nvJPEG, device_decode; the default)",
}


def _make_one(job: tuple[str, str, int, int]) -> None:
    source, target, width, height = job
    with Image.open(source) as photo:
        photo.convert("RGB").resize((width, height), Image.Resampling.BICUBIC).save(target, quality=90)


def make_files(folder: Path, sources: list[Path], size: tuple[int, int], count: int, distinct: int) -> list[Path]:
    """``distinct`` upscaled photos (made in parallel), hard-linked up to ``count`` files."""
    folder.mkdir(parents=True, exist_ok=True)
    made = [folder / f"src{i:04d}.jpg" for i in range(min(distinct, count))]
    jobs = [(str(sources[i % len(sources)]), str(path), *size) for i, path in enumerate(made)]
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        list(pool.map(_make_one, jobs))
    paths = []
    for i in range(count):
        path = folder / f"IMG_{i:05d}.jpg"
        os.link(made[i % len(made)], path)
        paths.append(path)
    return paths


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("nan")


def decode_only(paths: list[Path], pre: Preprocessor, batch: int, device: torch.device, decode: str) -> float:
    """Images/s of decoding alone, after one warm-up batch (nvJPEG and CUDA set-up are not counted)."""
    target = decode_device_for(device, decode)
    for loaded in iter_batches(paths[:batch], pre, batch, decode_device=target):
        loaded.model_input(device)
    started = time.perf_counter()
    for loaded in iter_batches(paths, pre, batch, decode_device=target):
        loaded.model_input(device)
    sync(device)
    return rate(len(paths), time.perf_counter() - started)


def model_only(model, device: torch.device, batch: int, autocast: bool, seconds: float = 3.0) -> float:
    images = torch.randn(batch, 3, model.image_size, model.image_size, device=device)
    precision = mixed_precision(device) if autocast else nullcontext()
    with torch.inference_mode(), precision:
        model(images)
        sync(device)
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            model(images)
            done += batch
            if done % (4 * batch) == 0:
                sync(device)
        sync(device)
    return rate(done, time.perf_counter() - started)


def end_to_end(model, paths: list[Path], batch: int, decode: str) -> float:
    started = time.perf_counter()
    scored, skipped = score_paths(model, paths, batch_size=batch, decode=decode)
    assert len(scored) == len(paths) and not skipped, skipped[:3]
    broken = sum(not math.isfinite(score) for _, score in scored)
    assert not broken, f"{broken} photos without a finite score"
    return rate(len(paths), time.perf_counter() - started)


def scores_of(model, paths: list[Path], autocast: bool) -> list[float]:
    """Scores of ``paths`` through the CPU decoder (the same pixels for every variant)."""
    device = next(model.parameters()).device
    pre = Preprocessor.for_scorer(model)
    out: list[float] = []
    for batch in iter_batches(paths, pre, 64):
        with torch.inference_mode(), mixed_precision(device) if autocast else nullcontext():
            out.extend(model(batch.model_input(device)).float().cpu().tolist())
    return out


def build(name: str, device: torch.device):
    """(label, float32 scorer on ``device``, open_clip name for the baseline)."""
    if name == "builtin":  # its LIVE-C quality task model: real weights, and scores with a real spread
        bundle = Bundle.load(require_builtin_bundle())
        register_model_config(bundle.spec.model_name, bundle.spec.model_config)
        alpha = torch.zeros(len(bundle.tasks), len(bundle.layers))
        alpha[bundle.task_names.index("livec-quality")] = 1.0
        model = MergedScorer.bake_from_bundle(bundle, alpha, device)
        return f"built-in ({bundle.spec.model_name}), livec-quality task", model, bundle.spec.model_name
    return f"{name} (random weights)", create_scorer(ScorerSpec(name), device=device), name


def compile_figures(model, device: torch.device, batch: int, eager: float, album: int) -> dict:
    compiled = torch.compile(model)
    images = torch.randn(batch, 3, model.image_size, model.image_size, device=device)
    started = time.perf_counter()
    with torch.inference_mode():
        compiled(images)
        compiled(images[: batch // 2])  # the album's last, smaller batch compiles again
    sync(device)
    compile_seconds = time.perf_counter() - started
    fast = model_only(compiled, device, batch, autocast=False)
    saved = album / eager - album / fast
    return {"compile_s": compile_seconds, "compiled_img_s": fast, "album": album, "saved_s": saved}


def livec_ratings(shared: Path) -> list[tuple[Path, float]]:
    folder = shared / "data" / "livec-sample"
    with (folder / "scores.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    found = [(folder / "images" / r["image"], float(r["mos"])) for r in rows]
    return [(path, mos) for path, mos in found if path.is_file()]


def personalize_on_device(shared: Path, device: torch.device, album: list[Path]) -> dict:
    """The app's path on the device: a ModelSession personalizes the built-in model, then ranks the album."""
    rated = livec_ratings(shared)
    session = ModelSession(require_builtin_bundle(), str(device))
    figures: dict = {}
    for key, k in (("k10", 10), ("k100_first", 100), ("k100", 100)):  # the first K = 100 pays for set-up
        started = time.perf_counter()
        result = session.personalize(rated[:k], PersonalizeConfig())
        sync(device)
        figures[f"{key}_s"] = time.perf_counter() - started
        figures[f"{key}_train_srocc"] = result.train_srocc
    profile = session.profile_from(result, "bench")
    started = time.perf_counter()
    scorer = session.personal_scorer(profile)
    if device.type == "cuda":
        scorer = prepare_for_gpu(scorer)
    sync(device)
    del scorer
    figures["bake_s"] = time.perf_counter() - started
    started = time.perf_counter()
    ranking = session.rank(profile, album)
    figures["rank_img_s"] = rate(len(ranking.ranked), time.perf_counter() - started)
    figures["rank_files"] = len(ranking.ranked)
    return figures


def save(results: dict, path: Path | None) -> None:
    if path is not None:
        path.write_text(json.dumps(results, indent=2, default=str))


def run_safely(results: dict, key: str, work):
    try:
        results[key] = work()
    except Exception as exc:  # keep the other measurements of this lease
        log.error("%s failed: %s", key, exc)
        results[key] = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
    return results[key]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["ViT-B-16", "ViT-L-14", "builtin"])
    parser.add_argument("--sizes", nargs="+", default=["1600x1200", "4000x3000"])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=None, help="photos per batch (default: ranking's for the device)")
    parser.add_argument("--files", type=int, default=None, help="files per size (default: 10 batches + 1)")
    parser.add_argument("--distinct", type=int, default=128, help="different pictures among the files")
    parser.add_argument("--baseline-files", type=int, default=128, help="files the plain open_clip loop scores")
    parser.add_argument("--compile", nargs="*", default=[], help="models to also time under torch.compile")
    parser.add_argument("--precision-photos", type=int, default=200, help="real photos for the rank correlations")
    parser.add_argument("--personalize", action="store_true", help="also personalize the built-in model here")
    parser.add_argument("--json", type=Path, default=None, help="where to write every number")
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to docs/benchmarks.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    device = resolve_device(args.device)
    batch = args.batch or default_batch_size(device)
    files = args.files or 10 * batch + 1
    sources = sorted((args.shared / "data" / "livec-sample" / "images").glob("*.jpg"))
    if not sources:
        raise SystemExit(f"no LIVE-C photos under {args.shared}")
    results: dict = {"device": str(device), "batch": batch, "files": files, "workers": default_workers(device)}
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes]
    pre = Preprocessor(224, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    with tempfile.TemporaryDirectory() as tmp:
        albums = {}
        for width, height in sizes:
            started = time.perf_counter()
            albums[(width, height)] = make_files(
                Path(tmp) / f"{width}x{height}", sources, (width, height), files, args.distinct
            )
            log.info("%d files of %dx%d made in %.1f s", files, width, height, time.perf_counter() - started)
            for decode in DECODES:
                key = f"decode_{decode}_{width}x{height}"
                run_safely(
                    results, key, lambda d=decode, a=albums[(width, height)]: decode_only(a, pre, batch, device, d)
                )
                log.info("%s: %s", key, results[key])
        if args.personalize:  # first: whether the app's own path works on this device matters most
            album = albums[sizes[0]]
            run_safely(results, "personalize", lambda: personalize_on_device(args.shared, device, album))
            log.info("personalize: %s", results["personalize"])
            save(results, args.json)
        real = sources[: args.precision_photos]
        compile_later = []
        for name in args.models:
            entry: dict = {}
            results[name] = entry
            try:
                label, model, clip_name = build(name, device)
            except Exception as exc:
                entry["error"] = f"{type(exc).__name__}: {exc}"
                log.error("%s: %s", name, exc)
                continue
            entry["label"] = label
            fast = prepare_for_gpu(model)
            run_safely(entry, "model_autocast", lambda m=model: model_only(m, device, batch, autocast=True))
            run_safely(entry, "model_prepared", lambda m=fast: model_only(m, device, batch, autocast=False))
            log.info("%s model only: autocast %s, prepared %s", name, entry["model_autocast"], entry["model_prepared"])

            def precision(m=model, f=fast) -> dict:
                reference = scores_of(m, real, autocast=False)
                autocast, prepared = scores_of(m, real, autocast=True), scores_of(f, real, autocast=False)
                return {
                    "photos": len(real),
                    "autocast_srocc": float(spearmanr(reference, autocast)[0]),
                    "prepared_srocc": float(spearmanr(reference, prepared)[0]),
                    "prepared_distinct": len(set(prepared)),
                }

            run_safely(entry, "precision", precision)
            for (width, height), album in albums.items():
                for decode in DECODES:
                    key = f"e2e_{decode}_{width}x{height}"
                    run_safely(entry, key, lambda a=album, d=decode, f=fast: end_to_end(f, a, batch, d))
                    log.info("%s %s: %s", name, key, entry[key])
                subset = album[: args.baseline_files if width * height < 5e6 else max(16, args.baseline_files // 4)]
                run_safely(
                    entry,
                    f"plain_{width}x{height}",
                    lambda s=subset, c=clip_name: plain_open_clip(c, s, min(batch, 64), device),
                )
            if name in args.compile:
                compile_later.append((entry, fast))
            del model, fast
            if device.type == "cuda":
                torch.cuda.empty_cache()
            save(results, args.json)
        for entry, fast in compile_later:  # last: compiling may take minutes
            run_safely(
                entry, "compile", lambda f=fast, e=entry: compile_figures(f, device, batch, e["model_prepared"], 5000)
            )
            log.info("compile: %s", entry["compile"])
    if device.type == "cuda":
        results["peak_gpu_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    save(results, args.json)
    publish("GPU ranking: decode, precision, end to end", _tables(results, sizes, args), not args.no_append, device)
    return 0


def _img_s(value) -> float | None:
    """Images/s of a measurement (a number, or a dict with ``img_s``); None when it failed or is missing."""
    value = value.get("img_s") if isinstance(value, dict) else value
    return float(value) if isinstance(value, (int, float)) else None


def _fmt(value, digits: int = 0) -> str:
    number = _img_s(value)
    if number is not None:
        return f"{number:,.{digits}f}"
    return "failed" if isinstance(value, dict) and "error" in value else "—"


def _tables(results: dict, sizes: list[tuple[int, int]], args) -> list[str]:
    batch, files = results["batch"], results["files"]
    columns = [f"{w}x{h}" for w, h in sizes]
    rows = [
        f"{files} files per size ({args.distinct} different LIVE-C photos upscaled, JPEG q 90), batch {batch}, "
        f"{results['workers']} decode threads. Images/s; in brackets, end to end against the plain open_clip loop "
        "of the same model and size, run in this process.",
        "",
        "| decode only | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    for decode in DECODES:
        cells = [_fmt(results.get(f"decode_{decode}_{c}")) for c in columns]
        rows.append(f"| {DECODE_LABELS[decode]} | " + " | ".join(cells) + " |")
    rows.append("")
    for name in args.models:
        entry = results.get(name, {})
        if "error" in entry:
            rows += [f"{name}: not measured ({entry['error']}).", ""]
            continue
        rows += [f"**{entry.get('label', name)}**", "", "| end to end | " + " | ".join(columns) + " |"]
        rows.append("|---|" + "---:|" * len(sizes))
        for decode in DECODES:
            cells = []
            for c in columns:
                value, plain = entry.get(f"e2e_{decode}_{c}"), _img_s(entry.get(f"plain_{c}"))
                number = _img_s(value)
                ratio = f", {number / plain:.1f}x" if number and plain else ""
                cells.append(_fmt(value) + (f" ({ratio[2:]})" if ratio else ""))
            rows.append(f"| {DECODE_LABELS[decode]} | " + " | ".join(cells) + " |")
        rows.append(
            "| plain open_clip loop (baseline) | "
            + " | ".join(_fmt(entry.get(f"plain_{c}"), 1) for c in columns)
            + " |"
        )
        bound_cells = []
        for c in columns:
            decoded = [_img_s(results.get(f"decode_{d}_{c}")) for d in DECODES]
            model = _img_s(entry.get("model_prepared"))
            bound = min([v for v in [model, max([d for d in decoded if d] or [0])] if v] or [float("nan")])
            best = _img_s(entry.get(f"e2e_device_{c}"))
            bound_cells.append(f"{best / bound:.2f}" if best and bound == bound else "—")
        rows.append(
            "| GPU decoder end to end / min(model only, fastest decode only) | " + " | ".join(bound_cells) + " |"
        )
        precision = entry.get("precision", {})
        rows += [
            "",
            f"| model only, batch {batch} | images/s | rank correlation with float32 |",
            "|---|---:|---:|",
            f"| float32 weights under autocast (before) | {_fmt(entry.get('model_autocast'))} | "
            f"{_fmt(precision.get('autocast_srocc'), 4)} |",
            f"| reduced-precision copy (prepare_for_gpu, now) | {_fmt(entry.get('model_prepared'))} | "
            f"{_fmt(precision.get('prepared_srocc'), 4)} |",
        ]
        compiled = entry.get("compile")
        if isinstance(compiled, dict) and "compile_s" in compiled:
            rows.append(
                f"| the same under torch.compile | {compiled['compiled_img_s']:,.0f} | "
                f"compile {compiled['compile_s']:.0f} s; saves {compiled['saved_s']:.1f} s "
                f"on {compiled['album']:,} photos |"
            )
        rows += [f"(rank correlations over {precision.get('photos', '—')} LIVE-C photos, decoded on the CPU)", ""]
    personal = results.get("personalize")
    if isinstance(personal, dict) and "k10_s" in personal:
        rows += [
            "| built-in model on this device (ModelSession, as the app) | value |",
            "|---|---:|",
            f"| personalize K = 10 | {personal['k10_s']:.1f} s |",
            f"| personalize K = 100, first / second run of the process | {personal['k100_first_s']:.1f} s / "
            f"{personal['k100_s']:.1f} s |",
            f"| bake the profile's network and prepare it for the GPU | {personal['bake_s']:.1f} s |",
            f"| rank {personal['rank_files']:,} {columns[0]} JPEGs with the profile (`ModelSession.rank`: bake + "
            f"prepare + score) | {personal['rank_img_s']:,.0f} images/s |",
            "",
        ]
    elif personal is not None:
        rows += [f"Personalizing on this device failed: {personal.get('error')}", ""]
    if "peak_gpu_mb" in results:
        rows.append(f"Peak GPU memory {results['peak_gpu_mb']:,.0f} MB.")
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
