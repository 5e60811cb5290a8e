"""The compare view and the taste panel, driven as a user would: answer "A or B?", undo, zoom, personalize."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPointF, Qt

from aesthetic_curator import curation
from aesthetic_curator.gui.main_window import MainWindow
from tests.test_gui import (  # noqa: F401  (fixtures, helpers)
    TIMEOUT,
    _Answers,
    album,
    open_album,
    rate_with_keys,
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
    dialog._decoded.pop(str(pair.b_path))  # the right photo still "Loading…"
    assert not dialog.is_ready(pair)
    qtbot.keyClick(dialog, Qt.Key.Key_Left)
    assert window.library.comparisons() == [] and dialog.current is pair
    dialog._show(dialog.views[1], pair.b_path)  # asks the decoder for it again
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

    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()
    assert "compared 2" in window.counter_label.text()


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
    with qtbot.waitSignal(window.ranked, timeout=TIMEOUT) as ranked:
        window.personalize_action.trigger()
    # The prompt counts the answers, not the 40 photos they span.
    assert len(answers.questions) == 1 and "Learning from 20 comparisons on the CPU" in answers.questions[0]
    scores = window.library.scores(ranked.args[0])
    assert len(scores) == 30
    learned = next(m for m in messages if m.startswith("Profile “from pairs”"))
    assert "20 comparisons" in learned and "of your choices (± " in learned
    assert "predicts" in window.statusBar().currentMessage()
    assert "predicts" in window.profile_box.toolTip() and "20 comparisons" in window.profile_box.toolTip()


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
