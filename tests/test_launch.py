"""Starting the app the ways users start it: no arguments, a folder, ``gui``, the installed console script."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aesthetic_curator import cli
from aesthetic_curator.cli import COMMANDS, build_parser, main
from aesthetic_curator.gui import platform_check
from aesthetic_curator.gui.platform_check import XCB_LIBRARIES, missing_platform_packages


@pytest.fixture
def opened(monkeypatch):
    """The window stubbed out: records which album ``run`` was asked to open."""
    import aesthetic_curator.gui.app as app

    calls: list[Path | None] = []

    def fake_run(album: Path | None = None) -> int:
        calls.append(album)
        return 0

    monkeypatch.setattr(app, "run", fake_run)
    monkeypatch.setattr(cli, "_tolerate_unencodable_output", lambda: None)  # leave pytest's capture alone
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    return calls


def test_no_arguments_opens_the_window(opened):
    assert main([]) == 0
    assert opened == [None]


def test_a_folder_opens_the_window_on_it(opened, tmp_path):
    assert main([str(tmp_path)]) == 0
    assert main(["gui", str(tmp_path)]) == 0
    assert main(["gui", "-v", str(tmp_path)]) == 0
    assert opened == [tmp_path, tmp_path, tmp_path]


def test_a_missing_folder_is_one_line(opened, tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.startswith("aesthetic-curator: error: ALBUM")
    assert opened == []


def test_the_command_list_matches_the_parser():
    parser = build_parser()
    choices = next(a for a in parser._actions if a.dest == "command").choices
    assert set(choices) == COMMANDS


def test_missing_qt_libraries_are_named_as_packages(opened, monkeypatch, capsys):
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setenv("DISPLAY", ":0")
    absent = {"libxcb-icccm.so.4", "libxcb-cursor.so.0"}
    monkeypatch.setattr(platform_check, "_loadable", lambda soname: soname not in absent)
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "apt-get install libxcb-cursor0 libxcb-icccm4" in err and err.count("\n") == 1
    assert opened == []


def test_platform_check_only_speaks_for_xcb():
    nothing = lambda soname: False  # noqa: E731 - every library missing
    assert missing_platform_packages({"QT_QPA_PLATFORM": "offscreen"}, "linux", nothing) is None
    assert missing_platform_packages({"WAYLAND_DISPLAY": "wayland-0"}, "linux", nothing) is None
    assert missing_platform_packages({}, "darwin", nothing) is None
    message = missing_platform_packages({"DISPLAY": ":0"}, "linux", nothing)
    assert all(package in message for package in XCB_LIBRARIES.values())
    assert "DISPLAY" in missing_platform_packages({}, "linux", lambda soname: True)
    assert missing_platform_packages({"DISPLAY": ":1"}, "linux", lambda soname: True) is None


def test_installed_console_script_stays_up_and_closes_cleanly(tmp_path):
    """The real entry point, as the README's command and the desktop entry run it (offscreen)."""
    script = Path(sys.executable).with_name("aesthetic-curator")
    if not script.is_file():
        pytest.skip(f"the console script is not installed next to {sys.executable}")
    album = tmp_path / "album"
    album.mkdir()
    from PIL import Image

    for index in range(3):
        Image.new("RGB", (40, 30), (index * 80, 50, 90)).save(album / f"p{index}.jpg")
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "AESTHETIC_CURATOR_DATA_DIR": str(tmp_path / "data"),
        "AESTHETIC_CURATOR_CACHE_DIR": str(tmp_path / "cache"),
    }
    log = tmp_path / "stderr.txt"
    with log.open("w") as err:
        process = subprocess.Popen([str(script), str(album)], env=env, stderr=err, stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 90
            while "is running" not in log.read_text() and time.monotonic() < deadline:
                assert process.poll() is None, log.read_text()
                time.sleep(0.2)
            assert "is running (Qt platform offscreen)" in log.read_text()
            time.sleep(2)
            assert process.poll() is None, log.read_text()  # stays up
            process.send_signal(signal.SIGTERM)  # a desktop logout or `kill`: closes like the close button
            assert process.wait(timeout=30) == 0, log.read_text()
        finally:
            if process.poll() is None:
                process.kill()
    assert "Traceback" not in log.read_text()
    assert list((tmp_path / "data" / "libraries").glob("album-*.sqlite3"))  # it opened the album
