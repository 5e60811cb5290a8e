"""Why a photo scores where it does: each task's first-order part, exact as a derivative, against the judged photos."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from aesthetic_curator.engine.explain import (
    TUNED_TOP,
    ScoreExplanation,
    explain,
    reference_sample,
    task_contributions,
)
from aesthetic_curator.engine.loading import load_images
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.engine.session import ModelSession
from aesthetic_curator.engine.synthetic import synthetic_photos
from aesthetic_curator.engine.top_delta import TopDelta, tuned_scorer
from aesthetic_curator.library.album import index_album
from aesthetic_curator.library.store import Library
from tests.test_gui import open_album, rate_with_keys, window  # noqa: F401  (fixture)


def _images(merged, livec: Path, count: int) -> torch.Tensor:
    paths = sorted((livec / "images").glob("*.jpg"))[:count]
    return load_images(paths, Preprocessor.for_scorer(merged.base))[1]


def test_a_task_s_part_is_the_score_s_derivative_along_that_task_s_coefficients(merged, livec):
    """C_t = Σ_l α[t,l] ∂s/∂α[t,l] is d/dε s(α + ε·α_t): checked against a finite difference, task by task."""
    images = _images(merged, livec, 3)
    alpha = (0.5 + torch.rand(merged.n_tasks, merged.n_layers, generator=torch.Generator().manual_seed(0))) / 2
    scores, parts, tuned = task_contributions(merged, alpha, None, images)
    assert not tuned.any()  # no tuned top, no part of its own
    with torch.no_grad():
        assert torch.allclose(scores, merged(images, alpha).flatten(), atol=1e-5)
        step = 1e-2
        for task in range(merged.n_tasks):
            moved = alpha.clone()
            moved[task] *= 1 + step
            lower = alpha.clone()
            lower[task] *= 1 - step
            slope = (merged(images, moved).flatten() - merged(images, lower).flatten()) / (2 * step)
            assert torch.allclose(parts[:, task], slope, rtol=0.02, atol=1e-3), task


def test_the_tuned_top_is_part_of_the_score_explained(merged, livec):
    images = _images(merged, livec, 2)
    alpha = torch.full((merged.n_tasks, merged.n_layers), 1.0 / merged.n_tasks)
    head = next(name for name in merged.layer_names if name.startswith("head."))
    shape = dict(merged.base.named_parameters())[head].shape
    delta = TopDelta({head: 0.05 * torch.randn(shape, generator=torch.Generator().manual_seed(1))})
    scores, _, tuned = task_contributions(merged, alpha, delta, images)
    personal = tuned_scorer(merged.bake(alpha), delta)
    with torch.no_grad():
        assert torch.allclose(scores, personal(images).flatten(), atol=1e-5)
        assert torch.allclose(tuned, scores - merged(images, alpha).flatten(), atol=1e-5)  # exactly what it adds
    paths = [Path("a.jpg"), Path("b.jpg")]
    answer = explain(merged, alpha, delta, (paths[1:], images[1:]), images[:1])
    photo = answer.photos[0]
    assert photo.parts[TUNED_TOP] == pytest.approx(float(tuned[1] - tuned[0]), abs=1e-5)  # a part of its own
    assert photo.explained + photo.rest == pytest.approx(photo.score - answer.reference_score, abs=1e-5)


def test_photos_are_explained_against_the_judged_ones(test_bundle, livec, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AESTHETIC_CURATOR_DATA_DIR", str(tmp_path / "data"))  # its album is renamed: its own libraries
    folder = tmp_path / "photos"
    folder.mkdir()
    paths = []
    for source in sorted((livec / "images").glob("*.jpg"))[:14]:
        paths.append(Path(shutil.copy(source, folder / source.name)))
    session = ModelSession(test_bundle, "cpu")
    judged = paths[:12]
    profile = session.profile_from(session.personalize([(p, float(i % 5)) for i, p in enumerate(judged)]))
    answer = session.explain(profile, [paths[12], paths[13], folder / "missing.jpg"], judged)
    assert answer.reference_count == 12 and [e.path for e in answer.photos] == paths[12:14]
    assert set(answer.photos[0].parts) == set(test_bundle.task_names)
    mean_score = answer.reference_score
    for explained in answer.photos:  # the tasks' parts and the rest: the distance from the judged photos' mean
        assert explained.explained + explained.rest == pytest.approx(explained.score - mean_score, abs=1e-4)
    assert session.task_vectors_loaded  # loaded by the personalization: kept for the next one
    session.release_task_vectors()
    alone = session.explain(profile, [judged[0]], [judged[0]])  # a photo against itself: nothing sets it apart
    assert not session.task_vectors_loaded  # loaded for the explanation alone: given back
    assert all(abs(v) < 1e-5 for v in alone.photos[0].parts.values()) and abs(alone.photos[0].rest) < 1e-4
    assert reference_sample(list(range(100)), 4) == [0, 25, 50, 75]

    from aesthetic_curator.cli import main  # the same from the command line, as a user runs it

    profile.save(tmp_path / "me.safetensors")
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("image,rating\n" + "".join(f"{p.name},{i % 5}\n" for i, p in enumerate(judged)))
    argv = ["explain", "--bundle", str(test_bundle.path), "--profile", str(tmp_path / "me.safetensors")]
    argv += ["--images", str(folder), "--ratings", str(ratings), paths[12].name, "nowhere.jpg", "--all"]
    capsys.readouterr()
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert f"{paths[12]}: score {answer.photos[0].score:.3f}: {answer.photos[0].summary()}" in out
    assert all(f"    {task}" in out for task in test_bundle.task_names) and "(the rest)" in out
    assert "nowhere.jpg: cannot be read" in err

    # without --ratings: the photos judged in the app's library of that folder (refused while there are none)
    without = [arg for arg in argv if arg not in ("--ratings", str(ratings))]
    assert main(without) == 2 and "has no library of the app: give --ratings" in capsys.readouterr().err
    with Library.open_for_album(folder) as library:
        index_album(library)
        assert main(without) == 2 and "no photo of" in capsys.readouterr().err
        for i, path in enumerate(judged):
            library.set_rating(library.photo(path.name).id, stars=i % 5 + 1)
    assert main(without) == 0
    assert f"{paths[12]}: score {answer.photos[0].score:.3f}: {answer.photos[0].summary()}" in capsys.readouterr().out
    renamed = folder.rename(tmp_path / "photos, renamed")  # its library is found by its photos
    assert main([str(renamed) if arg == str(folder) else arg for arg in without]) == 0
    assert f"{renamed / paths[12].name}: score {answer.photos[0].score:.3f}" in capsys.readouterr().out


def test_the_summary_names_what_lifts_and_what_holds_back_the_strongest_first():
    explained = ScoreExplanation(
        Path("a.jpg"), 1.0, {"sharpness": 0.8, "people": 0.1, "landscape": 0.3, "exposure": -0.5}
    )
    assert explained.summary() == "+ sharpness · + landscape · − exposure"  # people's 0.1 is under a quarter of 0.8
    assert ScoreExplanation(Path("b.jpg"), 0.0, {"sharpness": 0.0}).summary() == "no task sets it apart"
    assert explained.explained == pytest.approx(0.7)
    from aesthetic_curator.gui.window_profiles import _parts_text

    tiny = ScoreExplanation(Path("c.jpg"), 1.0, {"people": 0.001, "animals": -2.5, "food": 0.3}, rest=1.2)
    assert _parts_text(tiny) == "food +0.30, animals -2.50, 1 other task(s) ±0.00; the rest (the network itself) +1.20"


def test_why_these_scores_from_the_profile_menu(qtbot, window, tmp_path):  # noqa: F811
    """Profile → Why These Scores? (Ctrl+I) on the selected ranked photos, as a user asks it."""
    from PySide6.QtCore import QItemSelectionModel, Qt

    folder = tmp_path / "album"
    folder.mkdir()
    for index, photo in enumerate(synthetic_photos(14, 64, seed=5)):
        photo.save(folder / f"IMG_{index:04d}.jpg", quality=90)
    open_album(qtbot, window, folder)
    assert not window.explain_action.isEnabled()  # no profile yet
    rate_with_keys(qtbot, window, ["5", "1", "4", "2", "3", "5", "1", "4", "2", "3", "4", "2"])
    with qtbot.waitSignal(window.ranked, timeout=120_000):
        window.start_personalization("mine")
    assert window.explain_action.isEnabled() and window.explain_action.shortcut().toString() == "Ctrl+I"
    selection = window.grid.selectionModel()
    selection.clear()
    window.explain_action.trigger()  # nothing selected: says what is needed
    assert "Select photos" in window.statusBar().currentMessage()
    for row in (0, 5):
        selection.select(window.model.index(row), QItemSelectionModel.SelectionFlag.Select)
    with qtbot.waitSignal(window.controller.explained, timeout=120_000) as explained:
        window.explain_action.trigger()
    answer = explained.args[0]
    assert len(answer.photos) == 2 and answer.reference_count == 12
    text = window.info_box.text()
    assert "Against 12 of the photos you judged" in text
    for photo in answer.photos:
        assert (
            f"score {photo.score:.2f}): {photo.summary()}" in text
            and f"the rest (the network itself) {photo.rest:+.2f}" in text
        )
    window.grid.setCurrentIndex(window.model.index(3))
    qtbot.keyClick(window.grid, Qt.Key.Key_Space)  # in the loupe, Ctrl+I asks about the photo shown
    with qtbot.waitSignal(window.controller.explained, timeout=120_000) as shown:
        qtbot.keyClick(window.loupe, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)
    assert [p.path for p in shown.args[0].photos] == [window.current_item().path]
