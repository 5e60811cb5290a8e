"""How much can choosing the pairs gain over random stars, at best, under the learning curves' simulation?

docs/comparisons.md ("2026-12-06 (later): the ceiling"). The learning-curve protocol's users, answers and
noise (PARA's first 6 columns, 150 photos each, the published per-image standard deviation, stars cut at
the album's quantiles), but the learner is the one the pair rule itself assumes: a Bradley–Terry model
linear in the built-in tasks' standardised scores (ridge 1). The pairs are chosen by the app's own rule
(:mod:`aesthetic_curator.pair_selection`, in batches of 10, 10 and 30 as the simulation asks them, the
profile's win probabilities from the linear fit). So every gain of active pairs here is the rule working
exactly where its model holds; the real learner (the merged network, its coefficients and the top tuning)
can only get less of it from the rule, or more from elsewhere.

    .venv/bin/python docs/pair_ceiling.py ../shared/data/para-dev --draws 100

About 2 minutes on 2 cores (most of it scoring the photos with every task).
"""

from __future__ import annotations

import argparse
import logging
import math
import statistics

import numpy as np
import torch
from scipy.stats import spearmanr

from aesthetic_curator import pair_selection
from aesthetic_curator.builtin_model import require_builtin_bundle
from aesthetic_curator.engine.personalize import score_images
from aesthetic_curator.engine.session import ModelSession
from aesthetic_curator.evaluation.baselines import fit_pair_probe
from aesthetic_curator.evaluation.learning_curves import POOL, TEST_SHARE, appearance
from aesthetic_curator.evaluation.synthetic_users import STAR_QUANTILES
from aesthetic_curator.evaluation.users import curve_users, dataset_users

log = logging.getLogger("pair_ceiling")
ANSWERS = (10, 20, 50)


def fit_linear(features: np.ndarray, better: np.ndarray, worse: np.ndarray) -> np.ndarray:
    """Bradley–Terry weights over ``features`` from (better, worse) pairs: the summed pair loss plus |w|²
    (ridge 1), which is the probe baseline's mean loss with its ridge set to 2 N / pairs."""
    ridge = 2 * len(features) / len(better)
    index = (torch.as_tensor(better), torch.as_tensor(worse))
    return fit_pair_probe(torch.as_tensor(features), *index, ridge).numpy()


def one_draw(features, looks, hidden, noise, rng) -> dict[str, list[float]]:
    """Test SROCC at each of :data:`ANSWERS` for random stars, random pairs and active pairs on one split."""
    n = len(hidden)
    order = rng.permutation(n)
    n_test = max(10, int(TEST_SHARE * n))
    test, album = order[:n_test], order[n_test:]
    x = pair_selection.standardized(features, features[album])

    def perceive(photos):
        return hidden[photos] + noise[photos] * rng.normal(size=np.shape(photos))

    def answer(a: int, b: int) -> tuple[int, int]:
        seen = perceive(np.array([a, b]))
        return (a, b) if seen[0] > seen[1] else (b, a)

    def test_srocc(weights: np.ndarray) -> float:
        return float(spearmanr(x[test] @ weights, hidden[test])[0])

    result: dict[str, list[float]] = {"random stars": [], "random pairs": [], "active pairs": []}
    rated = rng.permutation(album)
    stars = np.searchsorted(np.quantile(hidden[album], STAR_QUANTILES), perceive(rated), side="right") + 1
    for count in ANSWERS:
        better, worse = np.nonzero(stars[:count, None] > stars[None, :count])
        weights = fit_linear(x, rated[better], rated[worse]) if len(better) else np.zeros(x.shape[1])
        result["random stars"].append(test_srocc(weights))
    for active in (False, True):
        pairs: list[tuple[int, int]] = []
        weights = np.zeros(x.shape[1])
        for count in ANSWERS:
            profile = x @ weights if active and pairs else None
            while len(pairs) < count:
                pool = rng.choice(album, POOL, replace=False)
                if active:
                    judged = np.array(pairs, dtype=int).reshape(-1, 2)
                    precision = pair_selection.answered_precision(x, judged[:, 0], judged[:, 1], profile)
                    pool_profile = profile[pool] if profile is not None else None
                    information = pair_selection.expected_information(x[pool], precision, pool_profile)
                else:
                    information = np.ones((POOL, POOL))
                where = {int(p): i for i, p in enumerate(pool)}
                seen = [(where[a], where[b]) for a, b in pairs if a in where and b in where]
                for i, j in pair_selection.choose_pairs(information, looks[pool], count - len(pairs), seen):
                    pairs.append(answer(int(pool[i]), int(pool[j])))
            judged = np.array(pairs)
            weights = fit_linear(x, judged[:, 0], judged[:, 1])
            result["active pairs" if active else "random pairs"].append(test_srocc(weights))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("para", help="the PARA folder (scores.csv, attributes.csv, images/)")
    parser.add_argument("--draws", type=int, default=100, help="splits per user (default 100)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    session = ModelSession(require_builtin_bundle(), "cpu")
    session.prepare()
    model = session.merged_model()
    users = curve_users(model, dataset_users(model, f"para-columns:{args.para}", None, 6, max_photos=150, seed=0))
    rng = np.random.default_rng(args.seed)
    cells: dict[tuple[str, int], list[float]] = {}
    scored: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for user in users:
        if id(user.images) not in scored:
            tasks = [score_images(model, user.images, model.one_hot(t)).cpu() for t in range(model.n_tasks)]
            scored[id(user.images)] = (torch.stack(tasks, 1).double().numpy(), appearance(user.images))
        features, looks = scored[id(user.images)]
        hidden, noise = user.hidden.double().numpy(), user.noise.double().numpy()
        per_user: dict[tuple[str, int], list[float]] = {}
        for _ in range(args.draws):
            for strategy, values in one_draw(features, looks, hidden, noise, rng).items():
                for count, value in zip(ANSWERS, values):
                    per_user.setdefault((strategy, count), []).append(value)
        for key, values in per_user.items():
            cells.setdefault(key, []).append(values)
        log.info("%s done", user.name)
    print(
        f"| strategy (linear learner, {len(users)} PARA users x {args.draws} draws) | "
        + " | ".join(f"{n} answers" for n in ANSWERS)
        + " |"
    )
    print("|---|" + "---|" * len(ANSWERS))
    for strategy in ("random stars", "random pairs", "active pairs"):
        means = [statistics.fmean(statistics.fmean(v) for v in cells[(strategy, n)]) for n in ANSWERS]
        print(f"| {strategy} | " + " | ".join(f"{m:.3f}" for m in means) + " |")
    gains = []
    for n in ANSWERS:
        diffs = [
            a - b for ua, ub in zip(cells[("active pairs", n)], cells[("random stars", n)]) for a, b in zip(ua, ub)
        ]
        gains.append(f"{statistics.fmean(diffs):+.3f} ± {statistics.stdev(diffs) / math.sqrt(len(diffs)):.3f}")
    print("| active pairs − random stars (± s.e. over draws) | " + " | ".join(gains) + " |")


if __name__ == "__main__":
    main()
