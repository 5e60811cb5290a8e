"""Ranking throughput from JPEG files: does the decode pipeline keep the model busy?

In one run, on the same files: the decode pipeline alone (uint8 crops from worker threads, normalised
per batch on the device), the model alone (a pre-made batch), ranking end to end, and the baseline of
the issue: a plain open_clip loop (``create_model_and_transforms`` + PIL + ``encode_image`` in batches,
float32 on the CPU, autocast on CUDA). The goal is end to end >= 0.9 x min(model only, decode only).

The files are LIVE-C photos (``../shared``) upscaled to 1600x1200 and saved as quality-90 JPEGs, at
least 10 batches of them so that decoding and the model overlap.

    python benchmarks/bench_pipeline.py --model builtin
    python benchmarks/bench_pipeline.py --model ViT-B-16 --files 320
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import open_clip
import torch
from PIL import Image
from report import publish

from aesthetic_curator.builtin_model import require_builtin_bundle
from aesthetic_curator.engine.base_model import create_base_scorer
from aesthetic_curator.engine.bundle import Bundle
from aesthetic_curator.engine.devices import mixed_precision, resolve_device
from aesthetic_curator.engine.loading import default_workers, iter_batches
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.engine.ranking import score_paths
from aesthetic_curator.engine.scorer import ScorerSpec, create_scorer, register_model_config

log = logging.getLogger("bench_pipeline")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_files(folder: Path, shared: Path, count: int) -> list[Path]:
    sources = sorted((shared / "data" / "livec-sample" / "images").glob("*.jpg"))
    paths = []
    for i in range(count):
        path = folder / f"{i:05d}.jpg"
        if sources:
            with Image.open(sources[i % len(sources)]) as photo:
                photo.convert("RGB").resize((1600, 1200), Image.Resampling.BICUBIC).save(path, quality=90)
        else:
            Image.effect_noise((1600, 1200), 40 + i % 50).convert("RGB").save(path, quality=90)
        paths.append(path)
    return paths


def decode_only(paths: list[Path], pre: Preprocessor, batch: int, device: torch.device) -> float:
    started = time.perf_counter()
    for loaded in iter_batches(paths, pre, batch):
        loaded.model_input(device)
    sync(device)
    return len(paths) / (time.perf_counter() - started)


def model_only(scorer, device: torch.device, batch: int, repeats: int = 4) -> float:
    images = torch.randn(batch, 3, scorer.image_size, scorer.image_size, device=device)
    with torch.inference_mode(), mixed_precision(device):
        scorer(images)
        sync(device)
        started = time.perf_counter()
        for _ in range(repeats):
            scorer(images)
        sync(device)
    return repeats * batch / (time.perf_counter() - started)


def end_to_end(scorer, paths: list[Path], batch: int) -> float:
    started = time.perf_counter()
    scored, skipped = score_paths(scorer, paths, batch_size=batch)
    assert len(scored) == len(paths) and not skipped
    return len(paths) / (time.perf_counter() - started)


def plain_open_clip(name: str, paths: list[Path], batch: int, device: torch.device) -> float:
    """The baseline: open_clip's own transforms on PIL images in the main thread, then encode_image."""
    model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=None, device=device)
    model.eval()
    started = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, len(paths), batch):
            images = []
            for path in paths[start : start + batch]:
                with Image.open(path) as image:
                    images.append(preprocess(image.convert("RGB")))
            stacked = torch.stack(images).to(device)
            with torch.autocast(device.type, enabled=device.type == "cuda"):
                model.encode_image(stacked)
        sync(device)
    return len(paths) / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="builtin", help="builtin, or an OpenCLIP architecture (random weights)")
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--files", type=int, default=None, help="JPEG files (default: 10 batches' worth + 1)")
    parser.add_argument("--batch", type=int, default=None, help="photos per batch (default: 32 CPU, 128 GPU)")
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to docs/benchmarks.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    device = resolve_device(args.device)
    batch = args.batch or (128 if device.type == "cuda" else 32)
    files = args.files or 10 * batch + 1
    if args.model == "builtin":
        bundle = Bundle.load(require_builtin_bundle())
        scorer = create_base_scorer(bundle, device)
        clip_name = bundle.spec.model_name
        register_model_config(clip_name, bundle.spec.model_config)
        label = f"built-in ({bundle.spec.model_name})"
    else:
        scorer = create_scorer(ScorerSpec(args.model), device=device)
        clip_name, label = args.model, args.model
    pre = Preprocessor.for_scorer(scorer)
    with tempfile.TemporaryDirectory() as folder:
        paths = make_files(Path(folder), args.shared, files)
        log.info("%d files of 1600x1200; batch %d; %d decode workers", files, batch, default_workers())
        decode = decode_only(paths, pre, batch, device)
        model = model_only(scorer, device, batch)
        e2e = end_to_end(scorer, paths, batch)
        plain = plain_open_clip(clip_name, paths, batch, device)
    bound = min(decode, model)
    rows = [
        f"{label}, {files} LIVE-C photos upscaled to 1600x1200 JPEG (q 90), batch {batch}, "
        f"{default_workers()} decode workers, {device.type}:",
        "",
        "| path | images/s | vs plain open_clip loop |",
        "|---|---|---|",
        f"| decode only (uint8 crops in workers, normalised per batch) | {decode:.1f} | {decode / plain:.2f}x |",
        f"| model only (pre-made batch) | {model:.1f} | {model / plain:.2f}x |",
        f"| **end to end (`rank`)** | **{e2e:.1f}** | **{e2e / plain:.2f}x** |",
        f"| plain open_clip loop (baseline, same run) | {plain:.1f} | 1.00x |",
        "",
        f"End to end / min(decode only, model only) = {e2e / bound:.2f} (goal >= 0.90).",
    ]
    publish(f"Decode pipeline: {label}", rows, not args.no_append, device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
