"""The fast (damped Gauss–Newton) solver and the evaluation harness, on the session's test bundle."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from aesthetic_curator.cli import SOLVER_CHOICES, main
from aesthetic_curator.engine.metrics import srocc
from aesthetic_curator.engine.personalize import (
    Judgements,
    PassCounter,
    PersonalizeConfig,
    personalize,
    planned_passes,
    score_images,
    zero_shot_srocc,
    zero_shot_subset,
)
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.engine.profile import Profile
from aesthetic_curator.engine.rank_loss import preference_pairs
from aesthetic_curator.engine.solvers import REGISTRY, get_solver, split_variant
from aesthetic_curator.engine.solvers.base import score_and_embed_images
from aesthetic_curator.engine.solvers.head_refit import refit_head
from aesthetic_curator.engine.solvers.jacobian import in_chunks, scores_and_jacobian
from aesthetic_curator.engine.solvers.linear_problem import LinearProblem
from aesthetic_curator.engine.synthetic import synthetic_photos
from aesthetic_curator.errors import Cancelled, RatingsError
from aesthetic_curator.evaluation.harness import evaluate
from aesthetic_curator.evaluation.synthetic_users import make_synthetic_users, quantise_to_stars
from aesthetic_curator.evaluation.user_datasets import read_user_dataset
from aesthetic_curator.evaluation.users import synthetic_eval_users
from aesthetic_curator.progress import CancelToken


@pytest.fixture(scope="module")
def photos(merged) -> torch.Tensor:
    return Preprocessor.for_scorer(merged.base).batch(synthetic_photos(60, 48, seed=4321))


@pytest.mark.parametrize("chunk", [1, 2], ids=["one photo at a time (CPU)", "batched per-photo gradients"])
def test_jacobian_matches_autograd_row_by_row(merged, photos, chunk):
    alpha = torch.rand(merged.n_tasks, merged.n_layers, generator=torch.Generator().manual_seed(chunk))
    counter = PassCounter()
    scores, jacobian, embeddings = scores_and_jacobian(merged, photos[:5], alpha, counter, chunk=chunk)
    assert counter.forward == 5 and counter.backward == 5
    for row in range(5):
        a = alpha.clone().requires_grad_(True)
        value = merged(photos[row : row + 1], a)[0]
        (grad,) = torch.autograd.grad(value, a)
        assert torch.allclose(jacobian[row], grad, atol=1e-5)
        assert torch.isclose(scores[row], value.detach(), atol=1e-5)
    # The embeddings kept for the head refit give the same scores through the head alone.
    head = alpha[:, merged.head_layers()]
    assert torch.allclose(merged.head_scores(embeddings, head), scores, atol=1e-5)


def test_jacobian_chunks_shrink_when_the_gpu_runs_out_of_memory(merged, photos):
    """A chunk that does not fit is halved and retried; nothing is skipped, counted twice or reordered."""
    tried = []

    def compute(batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tried.append(batch.shape[0])
        if batch.shape[0] > 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return batch[:, 0, 0, 0], batch.flatten(1)[:, :2]

    values, rows = map(torch.cat, zip(*in_chunks(compute, photos[:10], chunk=16)))
    assert tried[:3] == [10, 8, 4] and max(tried[3:]) <= 2
    assert torch.equal(values, photos[:10, 0, 0, 0]) and torch.equal(rows, photos[:10].flatten(1)[:, :2])

    def always_out_of_memory(batch: torch.Tensor):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")

    with pytest.raises(torch.cuda.OutOfMemoryError):
        in_chunks(always_out_of_memory, photos[:3], chunk=4)


def test_pass_counting_hand_checked(merged, photos):
    """K = 12, 6 tasks, 2 evaluations, zero-shot on all 12 (K below the screen of 16).

    zero-shot 6 x 12 = 72 forwards; Jacobian at the init 12 + 12; evaluation 1 a Jacobian at the
    candidate 12 + 12; evaluation 2 a forward only, 12; no final scoring pass
    (the last evaluation's scores are reused) and none for the head refit, which works on the embeddings
    those passes produced: forward 72 + 12 + 12 + 12 = 108, backward 24.
    """
    two = PersonalizeConfig.for_solver("fast", evaluations=2)
    result = personalize(merged, photos[:12], [float(i % 4) for i in range(12)], two)
    assert (result.passes.forward, result.passes.backward) == (108, 24)
    assert planned_passes(12, merged.n_tasks, two) == 132
    # Each further evaluation is a forward (K), and a backward (K) more where it takes a fresh Jacobian.
    default = PersonalizeConfig()
    options = get_solver("fast").options(default)
    extra = 12 * (options.evaluations - 2) + 12 * (options.refreshes() - 1)
    assert planned_passes(12, merged.n_tasks, default) == 132 + extra


def test_each_solver_estimates_its_time_from_the_work_it_runs(merged, monkeypatch):
    """The fast solver times a Jacobian chunk and a scoring batch; the paper recipe a training pass. With a
    clock that advances 1 s per reading, each timed piece takes 1 s, so the estimate is its count of pieces."""
    ticks = iter(range(10**6))
    monkeypatch.setattr("time.perf_counter", lambda: float(next(ticks)))
    fast, paper = get_solver("fast"), get_solver("paper")
    config = PersonalizeConfig()
    chunk, batch = 8, config.score_batch(merged)  # a small network on a CPU: 8 photos per Jacobian, 16 a batch
    assert batch == 16
    jacobian_photos = 4 * 20
    forwards = planned_passes(20, merged.n_tasks, config) - 2 * jacobian_photos
    assert fast.estimate_seconds(merged, 20, config) == pytest.approx(jacobian_photos / chunk + forwards / batch)
    ahead = forwards - fast.zero_shot_passes(20, merged.n_tasks, config)
    assert fast.estimate_seconds(merged, 20, config, zero_shot_done=True) == pytest.approx(
        jacobian_photos / chunk + ahead / batch
    )
    paper_config = PersonalizeConfig.for_solver("paper")
    assert paper.estimate_seconds(merged, 20, paper_config) == pytest.approx(
        planned_passes(20, merged.n_tasks, paper_config) / 8
    )


def test_an_estimate_reuses_the_timings_it_is_given(merged, monkeypatch):
    """A session times the machine once: the next estimate, for any k, reads no clock and scales the same rates."""
    readings = []

    def clock() -> float:
        readings.append(None)
        return float(len(readings))

    monkeypatch.setattr("time.perf_counter", clock)
    config, timings = PersonalizeConfig(), {}
    for solver_name in ("fast", "paper"):
        solver = get_solver(solver_name)
        solver_config = PersonalizeConfig.for_solver(solver_name)
        first = solver.estimate_seconds(merged, 20, solver_config, timings=timings)
        timed = len(readings)
        assert timed > 0 and timings
        again = solver.estimate_seconds(merged, 40, solver_config, timings=timings)
        assert len(readings) == timed  # nothing timed the second time
        assert again > first
        assert solver.estimate_seconds(merged, 20, solver_config, timings=timings) == first
    assert set(timings) == {"jacobian/8+forward/16", "forward+backward/4"}
    assert config.score_batch(merged) == 16


def test_chord_steps_reuse_the_last_jacobian(merged, photos):
    """4 evaluations with 2 Jacobians: the first and one at evaluation 1; evaluations 2-4 take chord steps
    (a forward each, the last Jacobian kept): forward 72 + 12 + 4 x 12 = 132, backward 24."""
    ratings = [float(i % 4) for i in range(12)]
    chord = PersonalizeConfig.for_solver("fast", evaluations=4, jacobians=2)
    result = personalize(merged, photos[:12], ratings, chord)
    assert (result.passes.forward, result.passes.backward) == (132, 24)
    assert planned_passes(12, merged.n_tasks, chord) == result.passes.total
    every = PersonalizeConfig.for_solver("fast", evaluations=4, jacobians=None)  # one per evaluation
    full = personalize(merged, photos[:12], ratings, every)
    assert full.passes.backward == 4 * 12
    # More Jacobians than evaluations cannot be used; one is always there.
    assert get_solver("fast").Options(evaluations=2, jacobians=9).refreshes() == 1
    assert get_solver("fast").Options(evaluations=3, jacobians=0).refreshes() == 0
    # The chord steps still learn: the judged photos are ordered better than at the init.
    assert result.train_srocc > srocc(score_images(merged, photos[:12], result.init_alpha).numpy(), ratings)


def test_zero_shot_uses_a_screened_sample_at_large_k(merged, photos):
    """K = 60: every task on 16 of a 48-photo sample, the best 2 tasks on the other 32, then 5 K (2 evaluations)."""
    two = PersonalizeConfig.for_solver("fast", evaluations=2)
    result = personalize(merged, photos[:60], [float(i % 5) for i in range(60)], two)
    zero_shot = merged.n_tasks * 16 + 2 * 32
    assert result.passes.total == zero_shot + 5 * 60 == planned_passes(60, merged.n_tasks, two)


def test_zero_shot_screening_refines_only_the_best_tasks(merged, photos):
    """The screened SROCCs are exact: the best tasks' on all photos, the others' on the screen."""
    ratings = torch.tensor([float(i % 5) for i in range(30)])  # sorted by nothing useful: 0 1 2 3 4 0 1 ...
    judgements = Judgements.from_ratings(ratings.tolist())
    order = zero_shot_subset(judgements, None, seed=7)
    assert sorted(order.tolist()) == list(range(30)) and order.tolist() != list(range(30))  # all, shuffled
    counter = PassCounter()
    values = zero_shot_srocc(merged, photos[order], judgements.restricted(order), counter, screen=10, refine=2)
    assert counter.forward == merged.n_tasks * 10 + 2 * 20
    screen = order[:10]
    tasks = range(merged.n_tasks)
    full = [srocc(score_images(merged, photos[:30], merged.one_hot(t)).numpy(), ratings.numpy()) for t in tasks]
    screened = [
        srocc(score_images(merged, photos[screen], merged.one_hot(t)).numpy(), ratings[screen].numpy()) for t in tasks
    ]
    best = sorted(tasks, key=screened.__getitem__, reverse=True)[:2]
    assert values == pytest.approx([full[t] if t in best else screened[t] for t in tasks])
    paper = PersonalizeConfig(solver="paper")
    assert get_solver("paper").zero_shot_screen_size(paper) is None  # the reference keeps the paper's init exactly


def test_fast_solver_beats_init_and_best_single_task_on_realizable_users(merged):
    users = [u for u in make_synthetic_users(merged, 6, photos_per_user=160, seed=5) if u.kind == "merged"]
    assert len(users) == 3
    gains_init, gains_single = [], []
    for index, user in enumerate(users):
        order = torch.randperm(len(user.ratings), generator=torch.Generator().manual_seed(index))
        support, test = order[:40], order[40:]
        result = personalize(merged, user.images[support], user.ratings[support].tolist(), PersonalizeConfig())
        target = user.taste[test].numpy()
        fitted = srocc(score_images(merged, user.images[test], result.alpha).numpy(), target)
        init = srocc(score_images(merged, user.images[test], result.init_alpha).numpy(), target)
        best_task = max(result.zero_shot_srocc, key=result.zero_shot_srocc.get)
        single = srocc(
            score_images(merged, user.images[test], merged.one_hot(result.task_names.index(best_task))).numpy(),
            target,
        )
        gains_init.append(fitted - init)
        gains_single.append(fitted - single)
    assert sum(gains_init) / 3 > 0.02, gains_init
    assert sum(gains_single) / 3 > 0.02, gains_single


def test_head_refit_fits_the_head_alone_on_the_kept_embeddings(merged, photos):
    """A taste that differs from the start only in the head is fitted by the refit alone, with no pass.

    The refit lowers the objective, leaves every ViT coefficient exactly as it was, and reports the
    scores the refitted model really gives (checked by scoring again through the whole model).
    """
    start = torch.full((merged.n_tasks, merged.n_layers), 1.0 / merged.n_tasks)
    hidden = start.clone()
    columns = merged.head_layers()
    assert [merged.layer_names[c] for c in columns] == [n for n in merged.layer_names if n.startswith("head.")]
    hidden[:, columns] = torch.randn(merged.n_tasks, len(columns), generator=torch.Generator().manual_seed(3)) * 2
    images = photos[:48]
    ratings = quantise_to_stars(score_images(merged, images, hidden))
    hi, lo = preference_pairs(ratings).nonzero(as_tuple=True)
    counter = PassCounter()
    scores, embeddings = score_and_embed_images(merged, images, start, counter)
    assert torch.allclose(scores, score_images(merged, images, start))
    no_prior = lambda coefficients: coefficients.sum() * 0.0  # noqa: E731

    refit = refit_head(merged, embeddings, start, hi, lo, no_prior, folds=5, seed=0)

    assert refit is not None and counter.forward == 48 and counter.backward == 0
    vit = [c for c in range(merged.n_layers) if c not in columns]
    assert torch.equal(refit.alpha[:, vit], start[:, vit]) and not torch.equal(refit.alpha, start)
    loss_before = torch.nn.functional.softplus(-(scores[hi] - scores[lo])).mean()
    loss_after = torch.nn.functional.softplus(-(refit.scores[hi] - refit.scores[lo])).mean()
    assert loss_after < loss_before - 0.01
    assert torch.allclose(refit.scores, score_images(merged, images, refit.alpha), atol=1e-5)
    assert srocc(refit.scores.numpy(), ratings.numpy()) > srocc(scores.numpy(), ratings.numpy()) + 0.05


def test_head_refit_declines_when_ten_ratings_are_noise(merged, photos):
    """Cross-validation is the guard against overfitting few ratings: random stars on 10 photos are
    (nearly always) left alone. Deterministic: 9 of these 10 seeded draws are declined."""
    start = torch.full((merged.n_tasks, merged.n_layers), 1.0 / merged.n_tasks)
    _, embeddings = score_and_embed_images(merged, photos[:10], start)
    no_prior = lambda coefficients: coefficients.sum() * 0.0  # noqa: E731
    declined = 0
    for seed in range(10):
        stars = torch.randint(1, 6, (10,), generator=torch.Generator().manual_seed(seed)).float()
        hi, lo = preference_pairs(stars).nonzero(as_tuple=True)
        declined += refit_head(merged, embeddings, start, hi, lo, no_prior, folds=5, seed=0) is None
    assert declined >= 8


def test_fast_solver_cancels_and_is_deterministic(merged, photos):
    ratings = [float(i % 5) for i in range(20)]
    first = personalize(merged, photos[:20], ratings, PersonalizeConfig())
    second = personalize(merged, photos[:20], ratings, PersonalizeConfig())
    assert torch.equal(first.alpha, second.alpha)
    token = CancelToken()
    before = merged.alpha.detach().clone()

    def cancel_in_training(progress) -> None:
        if progress.stage == "training":
            token.cancel()

    with pytest.raises(Cancelled):
        personalize(merged, photos[:20], ratings, PersonalizeConfig(), progress=cancel_in_training, cancel=token)
    assert torch.equal(merged.alpha.detach(), before)


def test_stars_are_quantised_like_a_person():
    stars = quantise_to_stars(torch.linspace(0, 1, 1000))
    counts = [int((stars == s).sum()) for s in range(1, 6)]
    assert counts == [100, 200, 350, 250, 100]


def test_harness_is_deterministic_and_complete(merged):
    users = synthetic_eval_users(merged, 2, photos_per_user=40, seed=3)
    config = PersonalizeConfig.for_solver("paper", steps=5)
    first = evaluate(merged, users, [10], trials=2, solvers=["paper", "fast"], base_config=config, seed=1)
    second = evaluate(merged, users, [10], trials=2, solvers=["paper", "fast"], base_config=config, seed=1)
    methods = first.results[10]
    assert list(methods) == ["best single task", "uniform mix", "adaptive init", "paper", "fast"]
    for name, result in methods.items():
        assert len(result.per_trial) == 2
        assert set(result.per_user) == {u.name for u in users}
        assert result.per_trial == second.results[10][name].per_trial
    # zero-shot, 5 steps of forward + backward, the final scoring, the agreement's Jacobian
    assert methods["paper"].mean_passes == merged.n_tasks * 10 + 5 * 2 * 10 + 10 + 2 * 10
    assert methods["fast"].mean_passes == merged.n_tasks * 10 + 8 * 10  # 3 Jacobians, 4 forwards
    json.dumps(first.to_json())  # serialisable
    assert "| 10 | fast |" in first.table()


def test_harness_in_processes_gives_the_serial_report(merged):
    """--jobs spreads users over spawned processes; the draws and so the report do not change."""
    users = synthetic_eval_users(merged, 3, photos_per_user=30, seed=5)
    config = PersonalizeConfig.for_solver("paper", steps=3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # workers get threads // jobs = 1: the same float sums as the serial run
    try:
        serial = evaluate(merged, users, [8], trials=2, solvers=["paper", "fast"], base_config=config, seed=2)
        seen = []
        parallel = evaluate(merged, users, [8], 2, ["paper", "fast"], config, seed=2, progress=seen.append, jobs=2)
    finally:
        torch.set_num_threads(threads)
    for name, result in serial.results[8].items():
        other = parallel.results[8][name]
        assert list(other.per_user) == list(result.per_user)  # user order kept, whatever finished first
        for user, values in result.per_user.items():
            assert other.per_user[user] == pytest.approx(values, abs=1e-9)
        assert other.passes == result.passes
    assert seen[-1].done == seen[-1].total == 3 * 2
    on_gpu = SimpleNamespace(device=torch.device("cuda"))  # refused before the model is used
    with pytest.raises(RatingsError, match="CPU"):
        evaluate(on_gpu, users, [8], 1, ["fast"], config, jobs=2)


def _write_per_user_csv(path: Path, rows: list[tuple[str, str, float]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["worker", "image_name", "score"])
        writer.writerows(rows)


def test_dataset_readers_follow_each_layout(tmp_path: Path):
    realcur = tmp_path / "REAL-CUR"
    (realcur / "images" / "u1" / "3").mkdir(parents=True)
    _write_per_user_csv(realcur / "labels.csv", [("u1", "a.jpg", 3.0), ("u2", "b.jpg", 4.0)])
    users = read_user_dataset(f"realcur:{realcur}")
    assert [u.user for u in users] == ["u1", "u2"]
    assert users[0].items == [(realcur / "images" / "u1" / "3" / "a.jpg", 3.0)]
    flickr = tmp_path / "FLICKR-AES"
    flickr.mkdir()
    _write_per_user_csv(flickr / "test.csv", [("A1", "x.jpg", 2.0)])
    assert read_user_dataset(f"flickr-aes:{flickr}")[0].items == [(flickr / "40K" / "x.jpg", 2.0)]
    aadb = tmp_path / "AADB"
    aadb.mkdir()
    _write_per_user_csv(aadb / "aadb.csv", [("w", "y.jpg", 1.0)])
    assert read_user_dataset(f"aadb:{aadb}")[0].items[0][0] == aadb / "datasetImages_originalSize" / "y.jpg"
    generic = tmp_path / "mine.csv"
    _write_per_user_csv(generic, [("me", "photos/z.jpg", 5.0)])
    assert read_user_dataset(f"csv:{generic}")[0].items == [(tmp_path / "photos" / "z.jpg", 5.0)]
    from aesthetic_curator.errors import RatingsError

    (flickr / "other.csv").write_text("worker,image_name,score\n")
    with pytest.raises(RatingsError, match="--labels"):
        read_user_dataset(f"flickr-aes:{flickr}")
    with pytest.raises(RatingsError, match="KIND:PATH"):
        read_user_dataset(f"nope:{flickr}")


def test_solver_variants_are_compared_on_the_same_draws(merged):
    users = synthetic_eval_users(merged, 1, photos_per_user=30, seed=4)
    report = evaluate(merged, users, [10], trials=1, solvers=["fast", "fast:evaluations=1,jacobians=1"], seed=2)
    methods = report.results[10]
    assert methods["fast"].mean_passes == merged.n_tasks * 10 + 8 * 10
    assert methods["fast:evaluations=1,jacobians=1"].mean_passes == merged.n_tasks * 10 + 3 * 10
    for bad in ("fast:evaluatons=2", "fast:evaluations", "nosuch"):
        with pytest.raises(RatingsError):
            evaluate(merged, users, [10], trials=1, solvers=[bad])
    assert split_variant("fast: damping=3.5, head_refit=false,jacobian_chunk=none") == (
        "fast",
        {"damping": 3.5, "head_refit": False, "jacobian_chunk": None},
    )


def test_solver_choice_reaches_the_cli(tmp_path: Path, test_bundle, livec):
    assert set(SOLVER_CHOICES) == set(REGISTRY)
    ratings = tmp_path / "ratings.csv"
    with (livec / "scores.csv").open() as source, ratings.open("w") as target:
        target.writelines(line for _, line in zip(range(13), source))
    for solver in ("paper", "fast"):
        out = tmp_path / f"{solver}.safetensors"
        args = ["personalize", "--bundle", str(test_bundle.path), "--images", str(livec / "images")]
        args += ["--ratings", str(ratings), "--rating-column", "mos", "--out", str(out), "-q", "--solver", solver]
        assert main([*args, "--steps", "3"] if solver == "paper" else args) == 0
        assert Profile.load(out).solver == solver


def test_eval_command_writes_table_and_json(tmp_path: Path, test_bundle, capsys):
    out = tmp_path / "eval.json"
    args = ["eval", "--bundle", str(test_bundle.path), "--synthetic-users", "2", "--photos-per-user", "30"]
    args += ["--shots", "10", "--trials", "1", "--solver", "fast", "--json", str(out), "-q"]
    assert main(args) == 0
    assert "| 10 | fast |" in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert set(data["results"]["10"]) == {"best single task", "uniform mix", "adaptive init", "fast"}
    with pytest.raises(SystemExit):  # argparse's own message, before any model loads
        main([*args[:-5], "--solver", "nosuch:evaluations=2", "-q"])
    assert "unknown solver 'nosuch'" in capsys.readouterr().err


def test_eval_saves_every_user_and_resumes_where_it_stopped(tmp_path: Path, test_bundle, capsys, monkeypatch):
    """A long evaluation stopped part-way keeps its finished users; --resume evaluates only the rest and
    reports what an unbroken run reports; a saved run with other settings is refused in one line."""
    from aesthetic_curator.evaluation import harness

    whole, stopped = tmp_path / "whole.json", tmp_path / "stopped.json"
    args = ["eval", "--bundle", str(test_bundle.path), "--synthetic-users", "3", "--photos-per-user", "16"]
    args += ["--shots", "6", "--trials", "1", "--solver", "fast", "-q"]
    assert main([*args, "--json", str(whole)]) == 0
    expected = json.loads(whole.read_text())
    assert expected["complete"] and expected["users_done"] == 3

    evaluated: list[str] = []
    original = harness._Protocol.evaluate_user

    def stop_at_third(self, model, user_index, user, cancel, on_trials):
        if user_index == 2 and len(evaluated) == 2:
            raise KeyboardInterrupt  # the user pressed Ctrl+C during the third user
        evaluated.append(user.name)
        return original(self, model, user_index, user, cancel, on_trials)

    monkeypatch.setattr(harness._Protocol, "evaluate_user", stop_at_third)
    assert main([*args, "--json", str(stopped)]) == 130  # cancelled
    assert "--resume" in capsys.readouterr().err
    partial = json.loads(stopped.read_text())
    assert not partial["complete"] and partial["users_done"] == 2 and list(partial["runs"]) == ["0", "1"]

    other_settings = [*args[:-5], "--trials", "2", "--solver", "fast", "-q", "--json", str(stopped), "--resume"]
    assert main(other_settings) == 2  # refused: the saved users were drawn with 1 trial
    assert "other settings (trials)" in capsys.readouterr().err

    evaluated.clear()
    assert main([*args, "--json", str(stopped), "--resume"]) == 0
    assert evaluated == [expected["users"][2]]  # only the user that had not finished
    resumed = json.loads(stopped.read_text())
    assert resumed["complete"]

    def without_seconds(runs: dict) -> dict:  # wall times differ from run to run; values and passes must not
        return {
            index: [
                (k, {m: (value, passes) for m, (value, passes, _) in by_method.items()}) for k, by_method in run["rows"]
            ]
            for index, run in runs.items()
        }

    assert without_seconds(resumed["runs"]) == without_seconds(expected["runs"])
    for name, result in expected["results"]["6"].items():
        assert resumed["results"]["6"][name]["per_user"] == result["per_user"]
        assert resumed["results"]["6"][name]["mean"] == pytest.approx(result["mean"])


def test_a_column_run_in_pieces_draws_what_the_whole_run_draws(tmp_path: Path, test_bundle, capsys):
    """--first-trial 1 --trials 1 is the second trial of a 2-trial run, value for value, so a column too slow
    for one sitting (the paper recipe at K = 100 on a CPU) is run in pieces and paired with the others."""
    whole, piece = tmp_path / "whole.json", tmp_path / "piece.json"
    args = ["eval", "--bundle", str(test_bundle.path), "--synthetic-users", "2", "--photos-per-user", "16"]
    args += ["--shots", "6", "--solver", "fast", "-q"]
    assert main([*args, "--trials", "2", "--json", str(whole)]) == 0
    assert main([*args, "--trials", "1", "--first-trial", "1", "--json", str(piece)]) == 0
    expected, got = json.loads(whole.read_text()), json.loads(piece.read_text())
    assert got["settings"]["first_trial"] == 1 and "first_trial" not in expected["settings"]
    for name, result in expected["results"]["6"].items():
        for user, values in result["per_user"].items():
            assert got["results"]["6"][name]["per_user"][user] == [values[1]]
    capsys.readouterr()
    curve = [*args[:-3], "--protocol", "learning-curve", "--first-trial", "1", "--json", str(tmp_path / "c.json")]
    assert main(curve) == 2  # refused in one line, before any model work
    assert "--first-trial is for the few-shot protocol" in capsys.readouterr().err


def test_linear_problem_is_solved_to_its_minimum():
    """The damped step minimises loss + ridge * |offset + d|^2 + damping * |d|^2: checked against its own gradient."""
    generator = torch.Generator().manual_seed(0)
    k, n_tasks, n_layers = 12, 3, 5
    jacobian = torch.randn(k, n_tasks, n_layers, generator=generator) * torch.logspace(-2, 1, n_layers)
    scores = torch.randn(k, generator=generator)
    ratings = torch.arange(k, dtype=torch.float32) % 4
    hi, lo = (ratings[:, None] > ratings[None, :]).nonzero(as_tuple=True)
    offset = torch.randn(n_tasks * n_layers, generator=generator, dtype=torch.float64) * 0.1
    plain = LinearProblem(scores, jacobian, hi, lo)

    def plain_gradient_at(d: torch.Tensor) -> torch.Tensor:  # the objective, written out again
        d = d.clone().requires_grad_(True)
        value = plain.loss(d) + 0.05 * (offset + d).square().sum() + 0.01 * d.square().sum()
        return torch.autograd.grad(value, d)[0]

    plain_fit = plain.fit(offset, 0.05, 0.01)
    assert plain_gradient_at(plain_fit).abs().max() < 1e-3 * plain_gradient_at(torch.zeros_like(offset)).abs().max()


@pytest.mark.parametrize(
    ("k", "ridge", "damping", "subset"),
    [(40, 0.05, 0.01, False), (40, 0.0, 0.02, True), (8, 1e-4, 0.0, False)],
    ids=["more photos than coefficients", "damping only, a subset of pairs", "ridge only, few photos"],
)
def test_the_newton_fit_reaches_the_minimum_lbfgs_approaches(k, ridge, damping, subset):
    """Newton in the K photo scores finds the coefficients' minimiser: no worse than a long L-BFGS run."""
    generator = torch.Generator().manual_seed(k)
    n_tasks, n_layers = 3, 4
    jacobian = torch.randn(k, n_tasks, n_layers, generator=generator) * torch.logspace(-1, 1, n_layers)
    ratings = torch.randint(0, 5, (k,), generator=generator).float()
    hi, lo = (ratings[:, None] > ratings[None, :]).nonzero(as_tuple=True)
    problem = LinearProblem(torch.randn(k, generator=generator), jacobian, hi, lo)
    offset = torch.randn(n_tasks * n_layers, generator=generator, dtype=torch.float64) * 0.3
    rows = torch.arange(0, hi.numel(), 2) if subset else None

    def objective(d: torch.Tensor) -> torch.Tensor:
        return problem.loss(d, rows) + ridge * (offset + d).square().sum() + damping * d.square().sum()

    d = torch.zeros_like(offset, requires_grad=True)
    lbfgs = torch.optim.LBFGS([d], max_iter=2000, tolerance_grad=1e-12, tolerance_change=1e-15)

    def closure() -> torch.Tensor:
        lbfgs.zero_grad()
        value = objective(d)
        value.backward()
        return value

    lbfgs.step(closure)
    newton = problem.fit(offset, ridge, damping, rows)
    assert float(objective(newton)) <= float(objective(d.detach())) + 1e-9
    assert torch.allclose(newton, d.detach(), atol=1e-3)


def test_the_newton_fit_without_pairs_or_shrinkage():
    problem = LinearProblem(torch.zeros(3), torch.randn(3, 2, 2), torch.tensor([0]), torch.tensor([1]))
    offset = torch.ones(4, dtype=torch.float64)
    assert torch.allclose(problem.fit(offset, 0.3, 0.1, rows=torch.tensor([], dtype=torch.long)), -0.75 * offset)
    with pytest.raises(ValueError, match="positive ridge or damping"):
        problem.fit(offset, 0.0, 0.0)
