"""The learning-curve protocol on a tiny model: every strategy, answers simulated from hidden scores."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from aesthetic_curator.cli import main
from aesthetic_curator.evaluation import CURVE_STRATEGIES
from aesthetic_curator.evaluation.learning_curves import (
    CurveUser,
    _Person,
    jackknife_error,
    learning_curves,
    leave_one_photo_out,
)
from aesthetic_curator.evaluation.user_datasets import read_user_dataset
from aesthetic_curator.evaluation.users import curve_users


def test_every_strategy_learns_and_measures_its_calibration(merged):
    users = curve_users(merged, [], synthetic=2, photos_per_user=60, seed=3)
    assert [u.group for u in users] == ["synthetic", "synthetic"]
    report = learning_curves(merged, users, answers=[10, 20], trials=2, seed=1)
    assert report.strategies == list(CURVE_STRATEGIES)
    for strategy in CURVE_STRATEGIES:
        for n in (10, 20):
            point = report.points[strategy][n]
            assert all(len(values) == 2 for values in point.srocc.values()) and len(point.srocc) == 2
            assert all(-1 <= v <= 1 for values in point.srocc.values() for v in values)
            calibration = point.calibration()
            assert 0 <= calibration["estimated"] <= 1 and 0 <= calibration["measured"] <= 1
            assert 0 < calibration["measured_error"] < 0.5 and calibration["within_both"] >= calibration["within"]
            # Each stage of the profile is measured on the same runs: the init and the learned coefficients.
            assert set(point.stages) == {"init", "coefficients"}
            assert all(point.stages[stage].keys() == point.srocc.keys() for stage in point.stages)
            assert all(len(values) == 2 for by_user in point.stages.values() for values in by_user.values())
    # Over these synthetic users a profile learns something from 20 answers of any kind.
    names = list(report.users)
    assert all(report.points[s][20].mean(names) > 0 for s in CURVE_STRATEGIES)
    again = learning_curves(merged, users[:1], answers=[10], trials=1, strategies=["active pairs"], seed=1)
    first = report.points["active pairs"][10]
    assert again.points["active pairs"][10].srocc[users[0].name] == first.srocc[users[0].name][:1]  # same seed
    assert "| active pairs |" in report.table("synthetic") and "runs within ±" in report.calibration_table()
    assert "| active pairs | 20 |" in report.stage_table()


def test_the_measured_agreement_has_a_jackknife_error_over_the_test_photos():
    scores = torch.tensor([0.0, 1.0, 2.0, 3.0, 2.0])
    better, worse = torch.tensor([1, 2, 3, 0, 4]), torch.tensor([0, 1, 2, 3, 2])  # 3 right, 1 wrong, 1 tie
    shares = leave_one_photo_out(scores, better, worse, 5)
    assert shares[0] == pytest.approx(3.5 / 5)
    for photo in range(5):  # the same as recounting without that photo's pairs
        kept = (better != photo) & (worse != photo)
        expected = leave_one_photo_out(scores, better[kept], worse[kept], 5)[0]
        assert shares[1 + photo] == pytest.approx(float(expected))
    values = torch.randn(30, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    left_out = (values.sum() - values) / 29  # for a mean the jackknife is the usual standard error
    assert jackknife_error(left_out) == pytest.approx(float(values.std() / 30**0.5))
    assert jackknife_error(torch.tensor([0.5])) == 0.0


def test_the_simulated_person_answers_with_the_datas_noise():
    hidden = torch.linspace(0, 1, 50, dtype=torch.float64)
    user = CurveUser("u", torch.zeros(50, 3, 8, 8), hidden, torch.zeros(50))
    person = _Person(user, torch.arange(50), torch.Generator().manual_seed(0))
    assert person.choose(3, 40) == (40, 3) and person.choose(40, 3) == (40, 3)  # noiseless: always right
    stars = person.stars(torch.arange(50))
    assert stars == sorted(stars) and set(stars) == {1.0, 2.0, 3.0, 4.0, 5.0}
    noisy = _Person(CurveUser("n", user.images, hidden, torch.full((50,), 0.5)), torch.arange(50), person.generator)
    wrong = sum(noisy.choose(20, 25) == (20, 25) for _ in range(200))
    assert 40 < wrong < 160  # close photos: a noisy person often disagrees with the means


@pytest.mark.slow
def test_eval_command_runs_the_learning_curve_protocol(test_bundle, livec, tmp_path, capsys):
    """A LIVE-C user answering with LIVE-C's per-image spread, and a synthetic user."""
    with (livec / "scores.csv").open() as fh:
        rows = list(csv.DictReader(fh))[:40]
    users = tmp_path / "users.csv"
    lines = [f"livec,{livec / 'images' / r['image']},{r['mos']},{r['std']}" for r in rows]
    users.write_text("user,image,score,std\n" + "\n".join(lines) + "\n")
    assert read_user_dataset(f"csv:{users}")[0].noise[livec / "images" / rows[0]["image"]] == float(rows[0]["std"])
    out = tmp_path / "curves.json"
    code = main(
        [
            "eval", "--protocol", "learning-curve", "--bundle", str(test_bundle.path), "--dataset",
            f"csv:{users}", "--synthetic-users", "1", "--photos-per-user", "40", "--answers", "10",
            "--trials", "1", "--strategy", "random stars", "active pairs", "--json", str(out), "-q",
        ]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "Test SROCC (real users" in printed and "Test SROCC (synthetic users" in printed
    data = json.loads(out.read_text())
    assert data["strategies"] == ["random stars", "active pairs"] and data["answers"] == [10]
