"""Compact bundles: the size of int4 task vectors and whether merged models still rank photos the same.

Built-in bundle (real task vectors, stored as int8): recoded to int4; the merged model of several
profiles (all tasks equal, each task alone, a random mix per layer) scores LIVE-C photos with both, and
the Spearman correlation between the two is reported, with the sizes against a dense float16 bundle.
ViT-B-16 (random weights, no hub here): the exact storage of int4 against float16 for its real layer
shapes, and the correlation for random task vectors of 2 % of each layer's weight scale.

    python benchmarks/bench_compact.py
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

import torch
from report import publish

from aesthetic_curator.builtin_model import require_builtin_bundle
from aesthetic_curator.engine.bundle import Bundle
from aesthetic_curator.engine.bundle_writer import recode_bundle
from aesthetic_curator.engine.loading import load_images
from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.metrics import srocc
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.engine.scorer import ScorerSpec, create_scorer
from aesthetic_curator.engine.task_vector import TaskVector

log = logging.getLogger("bench_compact")


def task_bytes(bundle: Bundle) -> int:
    return sum(bundle.file(t.file).stat().st_size for t in bundle.tasks)


def float16_bytes(layers: dict[str, list[int]], tasks: int) -> int:
    return tasks * sum(2 * torch.Size(shape).numel() for shape in layers.values())


def scores(bundle: Bundle, alpha: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    scorer = MergedScorer.bake_from_bundle(bundle, alpha)
    with torch.inference_mode():
        return torch.cat([scorer(images[i : i + 32]) for i in range(0, len(images), 32)])


def builtin_rows(photos: list[Path]) -> list[str]:
    bundle = Bundle.load(require_builtin_bundle())
    n, layers = len(bundle.tasks), len(bundle.layers)
    generator = torch.Generator().manual_seed(0)
    profiles = {"all tasks equal": torch.full((n, layers), 1.0 / n)}
    for index, name in enumerate(bundle.task_names):
        profiles[f"{name} alone"] = torch.eye(n)[index][:, None].repeat(1, layers)
    mix = torch.softmax(2 * torch.randn(n, generator=generator), 0)[:, None]
    mix = mix + 0.1 * torch.randn(n, layers, generator=generator)
    profiles["random mix per layer"] = mix
    with tempfile.TemporaryDirectory() as folder:
        compact = recode_bundle(bundle, Path(folder) / "int4", "int4")
        images = load_images(photos, Preprocessor.for_scorer(MergedScorer.bake_from_bundle(bundle, mix)))[1]
        correlations = {
            name: srocc(scores(compact, alpha, images).numpy(), scores(bundle, alpha, images).numpy())
            for name, alpha in profiles.items()
        }
        dense, int8, int4 = float16_bytes(bundle.layers, n), task_bytes(bundle), task_bytes(compact)
    worst = min(correlations, key=correlations.get)
    log.info("built-in: %s", correlations)
    return [
        f"| built-in EfficientNet-Lite0, {n} tasks (real) | {dense / 1e6:.1f} MB | {int8 / 1e6:.1f} MB "
        f"({int8 / dense:.1%}) | **{int4 / 1e6:.1f} MB ({int4 / dense:.1%})** | "
        f"{correlations['all tasks equal']:.4f} / {correlations['random mix per layer']:.4f} / "
        f"{correlations[worst]:.4f} ({worst}) |",
    ]


def vit_rows(arch: str, photos: list[Path]) -> list[str]:
    torch.manual_seed(0)
    scorer = create_scorer(ScorerSpec(arch)).eval()
    params = {k: v for k, v in scorer.named_parameters() if v.is_floating_point()}
    layers = {k: list(v.shape) for k, v in params.items()}
    tau = TaskVector({k: 0.02 * v.detach().std().clamp_min(1e-3) * torch.randn_like(v) for k, v in params.items()})
    int8 = sum(t.numel() * t.element_size() for t in tau.encode_int8()[0].values())
    stored, zero = tau.encode_int4()
    int4 = sum(t.numel() * t.element_size() for t in stored.values())
    dense = float16_bytes(layers, 1)
    images = load_images(photos, Preprocessor.for_scorer(scorer))[1]
    decoded = TaskVector.decode_int4(stored, layers, zero, "benchmark")
    results = []
    for vector in (tau, decoded):
        merged = MergedScorer(scorer, [vector], ["t"], alpha=torch.ones(1, len(layers))).bake()
        with torch.inference_mode():
            results.append(torch.cat([merged(images[i : i + 16]) for i in range(0, len(images), 16)]).numpy())
    rho = srocc(results[1], results[0])
    return [
        f"| {arch}, per task (random weights, tau = 2 % of each layer's scale) | {dense / 1e6:.1f} MB | "
        f"{int8 / 1e6:.1f} MB ({int8 / dense:.1%}) | **{int4 / 1e6:.1f} MB ({int4 / dense:.1%})** | {rho:.4f} |",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--arch", default="ViT-B-16")
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to docs/benchmarks.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    photos = sorted((args.shared / "data" / "livec-more" / "images").glob("*.jpg"))[: args.photos]
    rows = [
        "| task vectors | dense float16 | int8 | int4 | SROCC int4 vs stored (equal / random mix / worst) |",
        "|---|---|---|---|---|",
        *builtin_rows(photos),
        *vit_rows(args.arch, photos[:64]),
        "",
        f"Merged-model scores on {len(photos)} LIVE-C photos (livec-more; 64 for the ViT). The built-in bundle's"
        " stored form is int8, so its int4 copy is compared with that.",
    ]
    publish("Compact bundles: int4 task vectors", rows, not args.no_append)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
