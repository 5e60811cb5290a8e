"""The command line end to end: make-test, info, personalize and rank on real photos."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aesthetic_curator.cli import main
from aesthetic_curator.engine.base_model import create_base_scorer
from aesthetic_curator.engine.profile import Profile


def _livec_ratings(livec: Path, out: Path, count: int | None = None) -> Path:
    """The sample's mean opinion scores stand in for one user's ratings."""
    with (livec / "scores.csv").open() as fh:
        rows = list(csv.DictReader(fh))[:count]
    with out.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image", "rating"])
        writer.writerows((row["image"], row["mos"]) for row in rows)
    return out


def _read_ranking(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_personalize_and_rank_livec_end_to_end(test_bundle, livec, tmp_path, capsys):
    images = livec / "images"
    ratings = _livec_ratings(livec, tmp_path / "ratings.csv", count=40)
    args = ["personalize", "--bundle", str(test_bundle.path), "--images", str(images), "--ratings", str(ratings)]
    args += ["--solver", "paper"]
    assert main([*args, "--out", str(tmp_path / "a.profile"), "--steps", "30", "--seed", "7", "-q"]) == 0
    assert main([*args, "--out", str(tmp_path / "b.profile"), "--steps", "30", "--seed", "7", "-q"]) == 0
    first, second = Profile.load(tmp_path / "a.profile"), Profile.load(tmp_path / "b.profile")
    assert first.alpha.equal(second.alpha), "same seed must give the same profile"
    assert first.k == 40 and first.extra["steps"] == 30

    out = tmp_path / "ranking.csv"
    code = main(
        [
            "rank",
            "--bundle",
            str(test_bundle.path),
            "--profile",
            str(tmp_path / "a.profile"),
            "--images",
            str(images),
            "--out",
            str(out),
            "--device",
            "cpu",
            "--workers",
            "2",
            "--decode",
            "device",  # no GPU here: the CPU workers decode, as "auto" and "cpu" do
        ]
    )
    assert code == 0
    rows = _read_ranking(out)
    on_disk = sorted(p.name for p in images.glob("*.jpg"))
    assert sorted(r["image"] for r in rows) == on_disk  # every image exactly once
    assert [int(r["rank"]) for r in rows] == list(range(1, len(on_disk) + 1))
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert "ranked 400 photos" in capsys.readouterr().err


def test_bad_files_are_reported_and_skipped(test_bundle, livec, tmp_path, capsys):
    folder = tmp_path / "album"
    (folder / "nested").mkdir(parents=True)
    for name in ("1000.jpg", "1001.jpg", "1002.jpg"):
        shutil.copy(livec / "images" / name, folder / "nested" / name)
    good = (livec / "images" / "1003.jpg").read_bytes()
    (folder / "corrupt.jpg").write_bytes(good[: len(good) // 3])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("this is a text file")
    ratings = tmp_path / "r.csv"
    ratings.write_text("image,rating\nnested/1000.jpg,1\nnested/1001.jpg,3\nnested/1002.jpg,2\n")
    profile = tmp_path / "p.profile"
    assert (
        main(
            [
                "personalize",
                "--bundle",
                str(test_bundle.path),
                "--images",
                str(folder),
                "--ratings",
                str(ratings),
                "--out",
                str(profile),
                "--steps",
                "3",
                "-q",
            ]
        )
        == 0
    )
    out = tmp_path / "ranking.csv"
    assert (
        main(
            [
                "rank",
                "--bundle",
                str(test_bundle.path),
                "--profile",
                str(profile),
                "--images",
                str(folder),
                "--out",
                str(out),
                "-q",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    for name, reason in (
        ("corrupt.jpg", "cannot decode"),
        ("empty.jpg", "empty file"),
        ("notes.jpg", "not a recognised"),
    ):
        assert f"skipped {folder / name}" in err and reason in err
    assert sorted(r["image"] for r in _read_ranking(out)) == ["nested/1000.jpg", "nested/1001.jpg", "nested/1002.jpg"]


@pytest.mark.parametrize(
    ("ratings_text", "message"),
    [
        ("image,rating\nmissing.jpg,3\n1000.jpg,2\n", "not found under"),
        ("image,rating\n1000.jpg,3\n1001.jpg,3\n", "two different rating values"),
        ("image,stars\n1000.jpg,3\n", "columns 'image' and 'rating'"),
        ("image,rating\n1000.jpg,good\n", "is not a number"),
    ],
)
def test_bad_ratings_fail_with_one_clear_line(test_bundle, livec, tmp_path, capsys, ratings_text, message):
    ratings = tmp_path / "r.csv"
    ratings.write_text(ratings_text)
    code = main(
        [
            "personalize",
            "--bundle",
            str(test_bundle.path),
            "--images",
            str(livec / "images"),
            "--ratings",
            str(ratings),
            "--out",
            str(tmp_path / "p.profile"),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("aesthetic-curator: error:") and message in err[0]
    assert not (tmp_path / "p.profile").exists()


def test_missing_bundle_unknown_device_and_missing_ratings_file(test_bundle, tmp_path, capsys):
    base = ["--images", str(tmp_path), "--ratings", str(tmp_path / "none.csv"), "--out", str(tmp_path / "p")]
    assert main(["personalize", "--bundle", str(tmp_path / "nope"), *base]) == 2
    assert "not a bundle" in capsys.readouterr().err
    assert main(["personalize", "--bundle", str(test_bundle.path), "--device", "tpu", *base]) == 2
    assert "unknown device 'tpu'" in capsys.readouterr().err
    assert main(["personalize", "--bundle", str(test_bundle.path), *base]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_rank_refuses_an_unknown_decoder(tmp_path, capsys):
    args = ["rank", "--profile", str(tmp_path / "p"), "--images", str(tmp_path), "--out", str(tmp_path / "r.csv")]
    with pytest.raises(SystemExit) as stopped:  # argparse's own usage error, status 2
        main([*args, "--decode", "gpu"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'gpu'" in err and "auto" in err


def test_bundle_info_says_it_is_a_test_bundle(test_bundle, capsys):
    assert main(["bundle", "info", str(test_bundle.path), "--verify"]) == 0
    out = capsys.readouterr().out
    assert "TEST BUNDLE" in out and "curator-tiny-vit" in out and "verify: all files intact" in out
    for task in test_bundle.task_names:
        assert task in out


def test_console_entry_points_exit_cleanly_without_traceback(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "aesthetic_curator",
            "rank",
            "--bundle",
            str(tmp_path),
            "--profile",
            "x",
            "--images",
            str(tmp_path),
            "--out",
            str(tmp_path / "o.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == f"aesthetic-curator: error: {tmp_path}: not a bundle (no manifest.json)"
    version = subprocess.run([sys.executable, "-m", "aesthetic_curator", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and "aesthetic-curator" in version.stdout


def test_ranking_can_be_cancelled(test_bundle, livec):
    from aesthetic_curator.engine.ranking import rank_paths
    from aesthetic_curator.errors import Cancelled
    from aesthetic_curator.progress import CancelToken

    token = CancelToken()
    scorer = create_base_scorer(test_bundle)
    paths = sorted((livec / "images").glob("*.jpg"))
    seen = []

    def cancel_after_first_batch(progress):
        seen.append(progress.done)
        token.cancel()

    with pytest.raises(Cancelled):
        rank_paths(scorer, paths, batch_size=16, progress=cancel_after_first_batch, cancel=token)
    assert seen == [16]


def _livec_pairs(livec: Path, out: Path, rows: list[tuple[str, str]] | None = None, count: int = 40) -> Path:
    """Answered comparisons: each of ``count`` photos against the next two, the higher MOS wins."""
    with (livec / "scores.csv").open() as fh:
        scored = [(row["image"], float(row["mos"])) for row in list(csv.DictReader(fh))[:count]]
    if rows is None:
        rows = []
        for i, (a, score_a) in enumerate(scored):
            for b, score_b in scored[i + 1 : i + 3]:
                rows.append((a, b) if score_a > score_b else (b, a))
    with out.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["better", "worse"])
        writer.writerows(rows)
    return out


def _personalize_args(test_bundle, livec: Path, tmp_path: Path) -> list[str]:
    images = livec / "images"
    return ["personalize", "--bundle", str(test_bundle.path), "--images", str(images), "--out", str(tmp_path / "p")]


def test_personalize_from_comparisons_alone_and_with_equal_stars(test_bundle, livec, tmp_path, capsys):
    pairs = _livec_pairs(livec, tmp_path / "pairs.csv")
    assert main([*_personalize_args(test_bundle, livec, tmp_path), "--pairs", str(pairs)]) == 0
    out = capsys.readouterr().err
    assert "77 comparisons" in out and "training agreement" in out
    profile = Profile.load(tmp_path / "p")
    assert profile.k == 40 and profile.extra["comparisons"] == 77
    # Stars that are all equal teach nothing alone, but are fine next to comparisons.
    with (livec / "scores.csv").open() as fh:
        first = [row["image"] for row in list(csv.DictReader(fh))[:5]]
    (tmp_path / "r.csv").write_text("image,rating\n" + "".join(f"{name},3\n" for name in first))
    args = [*_personalize_args(test_bundle, livec, tmp_path), "--ratings", str(tmp_path / "r.csv")]
    assert main([*args, "-q"]) == 2
    assert "two different rating values" in capsys.readouterr().err
    assert main([*args, "--pairs", str(pairs)]) == 0
    assert "5 rated photos and 77 comparisons" in capsys.readouterr().err


def test_repeated_and_contradicting_comparisons_are_counted_and_reported(test_bundle, livec, tmp_path, capsys):
    with (livec / "scores.csv").open() as fh:
        a, b, c, d = (row["image"] for row in list(csv.DictReader(fh))[:4])
    rows = [(a, b), (b, c), (c, a), (a, b), (d, a), (d, b)]  # a > b > c > a is a cycle; (a, b) twice
    pairs = _livec_pairs(livec, tmp_path / "pairs.csv", rows)
    assert main([*_personalize_args(test_bundle, livec, tmp_path), "--pairs", str(pairs)]) == 0
    out = capsys.readouterr().err
    assert "1 repeated pair(s) in pairs.csv counted once" in out
    assert "3 pair(s) in pairs.csv contradict each other in a cycle (kept)" in out
    assert Profile.load(tmp_path / "p").extra["comparisons"] == 5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("better,worse\n{a},{a}\n", "compared with itself"),
        ("better,worse\n{a},nowhere.jpg\n", "1 compared image(s) not found"),
        ("better,worse\n{a},../{a}\n", "is not a photo inside"),
        ("winner,loser\n{a},{b}\n", "columns 'better' and 'worse'"),
        ("better,worse\n{a},\n", "needs both a 'better' and a 'worse' photo"),
        ("better,worse\n", "no pairs in the file"),
    ],
)
def test_bad_pair_files_fail_with_one_clear_line(test_bundle, livec, tmp_path, capsys, text, message):
    with (livec / "scores.csv").open() as fh:
        a, b = (row["image"] for row in list(csv.DictReader(fh))[:2])
    (tmp_path / "pairs.csv").write_text(text.format(a=a, b=b))
    code = main([*_personalize_args(test_bundle, livec, tmp_path), "--pairs", str(tmp_path / "pairs.csv")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("aesthetic-curator: error:") and message in err[0], err
    assert not (tmp_path / "p").exists()


def test_personalize_without_ratings_or_pairs_says_what_it_needs(test_bundle, livec, tmp_path, capsys):
    assert main(_personalize_args(test_bundle, livec, tmp_path)) == 2
    assert "needs --ratings, --pairs or both" in capsys.readouterr().err
