"""The compare view and the taste panel, driven as a user would: answer "A or B?", undo, zoom, personalize."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QApplication

from aesthetic_curator import curation
from aesthetic_curator.gui.main_window import MainWindow
from tests.test_gui import (  # noqa: F401  (fixtures, helpers)
    THREAD_TIMEOUT,
    TIMEOUT,
    _Answers,
    album,
    open_album,
    rate_with_keys,
    threaded_window,
    window,
)


def _open_compare(qtbot, window: MainWindow):  # noqa: F811
    window.compare_action.trigger()
    dialog = window.compare
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.current is not None and dialog.is_ready(dialog.current), timeout=TIMEOUT)
    return dialog


def _wait_until_shown(qtbot, dialog) -> None:
    qtbot.waitUntil(lambda: dialog.current is not None and dialog.is_ready(dialog.current), timeout=TIMEOUT)


def test_a_key_pressed_before_both_photos_show_answers_nothing(qtbot, window: MainWindow, album: Path):  # noqa: F811
    open_album(qtbot, window, album)
    dialog = _open_compare(qtbot, window)
    pair = dialog.current
    dialog.photos._kept.pop(str(pair.b_path))  # the right photo still "Loading…"
    assert not dialog.is_ready(pair)
    qtbot.keyClick(dialog, Qt.Key.Key_Left)
    assert window.library.comparisons() == [] and dialog.current is pair
    dialog.photos.show_in(dialog.views[1], pair.b_path)  # asks the decoder for it again
    _wait_until_shown(qtbot, dialog)
    qtbot.keyClick(dialog, Qt.Key.Key_Left)
    assert [(c.photo_a, c.photo_b, c.outcome) for c in window.library.comparisons()] == [(pair.a_id, pair.b_id, "a")]


def test_answer_skip_undo_and_zoom_from_the_keyboard(qtbot, window: MainWindow, album: Path):  # noqa: F811
    open_album(qtbot, window, album)
    dialog = _open_compare(qtbot, window)
    # The next question's photos are decoded ahead: showing it is instant.
    qtbot.waitUntil(lambda: bool(dialog.queue) and dialog.is_ready(dialog.queue[0]), timeout=TIMEOUT)
    first = dialog.current
    assert first.a_id != first.b_id and dialog.captions[0].text() and dialog.captions[1].text()

    qtbot.keyClick(dialog, Qt.Key.Key_Left)
    second = dialog.current
    _wait_until_shown(qtbot, dialog)
    qtbot.keyClick(dialog, Qt.Key.Key_2)
    third = dialog.current
    _wait_until_shown(qtbot, dialog)
    qtbot.keyClick(dialog, Qt.Key.Key_Equal)
    stored = window.library.comparisons()
    assert [(c.photo_a, c.photo_b, c.outcome) for c in stored] == [
        (first.a_id, first.b_id, "a"),
        (second.a_id, second.b_id, "b"),
        (third.a_id, third.b_id, "tie"),
    ]
    skipped = dialog.current
    qtbot.keyClick(dialog, Qt.Key.Key_Space)  # skip: nothing recorded, another pair
    assert len(window.library.comparisons()) == 3 and dialog.current.key != skipped.key

    qtbot.keyClick(dialog, Qt.Key.Key_Backspace)  # undo the "can't decide": asked again
    assert [c.outcome for c in window.library.comparisons()] == ["a", "b"]
    assert dialog.current.key == third.key

    left, right = dialog.views
    qtbot.keyClick(dialog, Qt.Key.Key_Z)  # both photos at 1:1, the same spot of each
    assert left.zoomed and right.zoomed
    left.pointer_moved.emit(QPointF(0.0, 0.0))
    assert right.centre == QPointF(0.0, 0.0) == left.centre
    qtbot.keyClick(dialog, Qt.Key.Key_Z)
    assert not left.zoomed and left.source_rect() == left.pixmap.rect().toRectF()
    _wait_until_shown(qtbot, dialog)
    qtbot.keyClick(dialog, Qt.Key.Key_J)  # the loupe's clipping overlay over both, and the same setting
    assert not left.overlay.isNull() and not right.overlay.isNull() and window.preferences.loupe_clipping
    qtbot.keyClick(dialog, Qt.Key.Key_M)  # and focus peaking, made on a worker
    assert window.preferences.loupe_focus
    qtbot.waitUntil(lambda: all(dialog.overlays.focus.get(str(p)) for _, p in dialog._shown_paths()), timeout=TIMEOUT)
    qtbot.keyClick(dialog, Qt.Key.Key_J)
    qtbot.keyClick(dialog, Qt.Key.Key_M)
    assert left.overlay.isNull() and right.overlay.isNull()

    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()
    assert "compared 2" in window.counter_label.text()
    # The keyboard goes back to the photos (Ctrl+L, stars), also where no window manager hands focus back.
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window and window.grid.hasFocus(), timeout=2000)


def test_twenty_answers_and_personalize_shows_how_well_it_knows_you(
    qtbot,
    window: MainWindow,  # noqa: F811
    album: Path,  # noqa: F811
    monkeypatch,
):
    """The issue's user story: open an album, answer 20 comparisons from the keyboard, press Personalize,
    see the ranking and how well it predicts the answers."""
    import aesthetic_curator.gui.main_window as main_window

    open_album(qtbot, window, album)
    dialog = _open_compare(qtbot, window)
    for answer in range(20):
        _wait_until_shown(qtbot, dialog)  # more pairs come in batches; a user answers what they see
        qtbot.keyClick(dialog, Qt.Key.Key_Left if answer % 3 else Qt.Key.Key_Right)
    assert len(window.library.training_pairs()) == 20
    assert "20 decided in all" in dialog.status.text() and "ready to personalize" in dialog.status.text()
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert window.personalize_action.isEnabled()

    messages = []
    window.statusBar().messageChanged.connect(messages.append)
    monkeypatch.setattr(main_window, "CONFIRM_SECONDS", 0.0)  # every run counts as long: the prompt shows
    answers = _Answers(monkeypatch, text="from pairs")
    estimated_with = []  # the estimate is told comparisons are most of the answers (the fast solver then fits)
    estimate = curation.estimate_personalization

    def estimate_and_record(model, k, solver, rated, progress, cancel, mostly_comparisons=False):
        estimated_with.append(mostly_comparisons)
        return estimate(model, k, solver, rated, progress, cancel, mostly_comparisons)

    monkeypatch.setattr(curation, "estimate_personalization", estimate_and_record)
    with qtbot.waitSignal(window.ranked, timeout=TIMEOUT) as ranked:
        window.personalize_action.trigger()
    assert estimated_with == [True]
    # The prompt counts the answers, not the 40 photos they span.
    assert len(answers.questions) == 1 and "Learning from 20 comparisons on the CPU" in answers.questions[0]
    scores = window.library.scores(ranked.args[0])
    assert len(scores) == 30
    learned = next(m for m in messages if m.startswith("Profile “from pairs”"))
    assert re.search(r"learned from 20 comparisons \(\d+ photos\) in", learned) and "of your choices (± " in learned
    assert "predicts" in window.statusBar().currentMessage()
    assert "predicts" in window.profile_box.toolTip()
    assert re.search(r"“from pairs”: learned from 20 comparisons \(\d+ photos\)\n", window.profile_box.toolTip())
    # The status line keeps saying it once the message is gone, and whether Personalize again would learn more.
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=TIMEOUT)
    line = window.counter_label.text()
    assert line.startswith("Rated 0, compared 20 — “from pairs” predicts ") and "of your choices (± " in line
    assert line.endswith("learned from all your answers")
    dialog = _open_compare(qtbot, window)
    qtbot.keyClick(dialog, Qt.Key.Key_Left)
    assert window.counter_label.text().endswith("1 new answer since: Personalize again to use them")


def test_the_compare_view_asks_for_more_while_a_batch_is_left(qtbot, window: MainWindow, album: Path):  # noqa: F811
    """Choosing a batch can take half a minute while a personalization runs: the next batch is asked for as
    soon as the first is shown, not when five questions are left (which ran dry in a real window)."""
    open_album(qtbot, window, album)
    batches = []
    window.controller.comparisons_chosen.connect(batches.append)
    dialog = _open_compare(qtbot, window)
    qtbot.waitUntil(lambda: len(batches) >= 2, timeout=TIMEOUT)  # no answer given yet
    assert len(batches[0]) > 6  # more than the old threshold: that one waited for answers first
    first = {frozenset(pair) for pair in batches[0]}
    assert batches[1] and not first & {frozenset(pair) for pair in batches[1]}  # new questions, not the queued
    qtbot.waitUntil(lambda: len(dialog.queue) + 1 == len(batches[0]) + len(batches[1]), timeout=TIMEOUT)
    assert window.library.comparisons() == []


def test_taste_panel_shows_the_profiles_numbers(qtbot, window: MainWindow, album: Path):  # noqa: F811
    open_album(qtbot, window, album)
    assert not window.taste_action.isEnabled()  # no profile yet
    rate_with_keys(qtbot, window, ["5", "1", "4", "2", "3", "5", "1", "4", "2", "3"])
    with qtbot.waitSignal(window.ranked, timeout=TIMEOUT):
        window.start_personalization("mine")
    window.taste_action.trigger()
    panel = window.taste_panel
    assert panel.isVisible() and panel.windowTitle() == "Taste of “mine”"
    summary = curation.profile_taste(window.library, window.controller.model(), window.current_profile_id())
    table = panel.table
    assert table.rowCount() == len(summary.tasks) and table.columnCount() == len(summary.groups) + 1
    assert table.item(0, 0).text() == f"{summary.weights[0, 0]:+.3f}"
    assert table.item(0, len(summary.groups)).toolTip().endswith(f"{summary.overall[0]:+.4f}")
    assert summary.line in panel.summary_label.text()


def test_the_model_opens_off_the_ui_thread_when_an_album_opens(
    qtbot,
    threaded_window: MainWindow,  # noqa: F811
    album: Path,  # noqa: F811
    monkeypatch,
):
    """Opening the model session imports torch and reads the bundle (about 7 s on 2 cores): a real window
    froze for that long at the first Compare. It now happens on a worker once the album's scan ends (alongside,
    it made the scan of a 20,000-photo album 6x slower)."""
    from tests.test_gui import record_model_opening

    opened_on = record_model_opening(monkeypatch)
    app = threaded_window
    open_album(qtbot, app, album)
    qtbot.waitUntil(lambda: opened_on and not app.controller.preload_task.is_busy(), timeout=THREAD_TIMEOUT)
    assert opened_on == [False]  # once, on a worker
    app.compare_action.trigger()
    qtbot.waitUntil(lambda: app.compare.current is not None, timeout=THREAD_TIMEOUT)
    assert opened_on == [False]  # Compare reused it
    app.compare.reject()
