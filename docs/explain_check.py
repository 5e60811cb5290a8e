"""How faithful "Why these scores?" (engine.explain) is, on real photos and real profiles of the built-in model.

Users: LIVE-C's human quality scores (MOS). Each trial rates 20 seeded photos of the livec-sample with their MOS
and personalizes the built-in model exactly as the app does (fast solver, top tuned), then explains 100 other
photos against those 20. Measured per trial, then mean ± std over the trials:

- completeness: how well the parts' sum (the tasks' first-order parts and the fine-tuned top's exact one)
  matches the photo's real distance from the judged photos' mean score: Pearson r over the photos, and the
  mean gap (the rest) as a share of the scores' spread (std); and the same for the tasks' parts alone;
- faithfulness, task by task: the real effect of taking task t out of the profile (its coefficients set to 0,
  the tuned top kept) on a photo's distance from the judged mean, against the part D_t the explanation gave
  it: Spearman over every (photo, task), and how often the task named first ("+") is the one whose removal
  lowers the photo most (chance: 1 in the number of tasks).

    .venv/bin/python docs/explain_check.py --trials 5
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
from pathlib import Path

import torch
from scipy import stats

from aesthetic_curator.builtin_model import builtin_bundle_path
from aesthetic_curator.engine.loading import load_images
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.engine.session import ModelSession
from aesthetic_curator.engine.top_delta import tuned_scorer

LIVEC = Path(__file__).resolve().parents[2] / "shared" / "data" / "livec-sample"


def removal_effects(session: ModelSession, profile, images: torch.Tensor) -> torch.Tensor:
    """[photos, tasks]: the photo's score minus its score with task t's coefficients set to 0."""
    model = session.merged_model()
    with torch.no_grad():
        full = tuned_scorer(model.bake(profile.alpha), profile.top_delta)(images).flatten()
        columns = []
        for task in range(model.n_tasks):
            alpha = profile.alpha.clone()
            alpha[task] = 0
            columns.append(full - tuned_scorer(model.bake(alpha), profile.top_delta)(images).flatten())
    return torch.stack(columns, dim=1)


def trial(session: ModelSession, rows: list[dict], seed: int, judged_count: int, explained_count: int) -> dict:
    picked = random.Random(seed).sample(rows, judged_count + explained_count)
    paths = [LIVEC / "images" / row["image"] for row in picked]
    judged, photos = paths[:judged_count], paths[judged_count:]
    mos = {LIVEC / "images" / row["image"]: float(row["mos"]) for row in picked}
    profile = session.profile_from(session.personalize([(p, mos[p]) for p in judged]))
    answer = session.explain(profile, photos, judged)
    explained = torch.tensor([e.explained for e in answer.photos])
    distance = torch.tensor([e.score for e in answer.photos]) - answer.reference_score
    tasks_only = torch.tensor([sum(e.parts[name] for name in session.bundle.task_names) for e in answer.photos])
    preprocessor = Preprocessor.for_scorer(session.merged_model().base)
    reference = removal_effects(session, profile, load_images(judged, preprocessor)[1]).mean(dim=0)
    effects = removal_effects(session, profile, load_images(photos, preprocessor)[1]) - reference
    parts = torch.tensor([[e.parts[name] for name in session.bundle.task_names] for e in answer.photos])
    first = parts.argmax(dim=1)
    return {
        "completeness r": float(stats.pearsonr(explained, distance)[0]),
        "gap / spread": float((explained - distance).abs().mean() / distance.std()),
        "tasks alone: completeness r": float(stats.pearsonr(tasks_only, distance)[0]),
        "tasks alone: gap / spread": float((tasks_only - distance).abs().mean() / distance.std()),
        "task SROCC": float(stats.spearmanr(parts.flatten(), effects.flatten())[0]),
        "first task lowers most": float((first == effects.argmax(dim=1)).float().mean()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--judged", type=int, default=20)
    parser.add_argument("--explained", type=int, default=100)
    args = parser.parse_args()
    with (LIVEC / "scores.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    session = ModelSession(builtin_bundle_path(), "cpu")
    results = [trial(session, rows, seed, args.judged, args.explained) for seed in range(args.trials)]
    tasks = len(session.bundle.task_names)
    print(f"| measure ({args.trials} trials, {args.judged} judged, {args.explained} explained) | mean ± std |")
    print("|---|---|")
    for name in results[0]:
        values = [r[name] for r in results]
        print(f"| {name} | {statistics.mean(values):.3f} ± {statistics.stdev(values):.3f} |")
    print(f"\n(chance for 'first task lowers most': {1 / tasks:.3f}, {tasks} tasks)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
