"""The desktop entry and icon install where a Linux desktop looks for them."""

from __future__ import annotations

import configparser
import os
import subprocess
from pathlib import Path

from aesthetic_curator.gui.app import resource

REPO = Path(__file__).resolve().parents[1]


def test_resources_are_found_through_the_package():
    assert resource("style.qss").is_file()
    assert resource("icons/aesthetic-curator.svg").read_text().startswith("<svg")


def test_desktop_entry_installs_with_icon(tmp_path: Path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    subprocess.run([str(REPO / "packaging" / "install-desktop-entry.sh")], check=True, env=env, capture_output=True)
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(tmp_path / "applications" / "aesthetic-curator.desktop")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application" and section["Icon"] == "aesthetic-curator"
    executable = section["Exec"].split()[0]
    assert executable.endswith("aesthetic-curator")
    assert (tmp_path / "icons" / "hicolor" / "scalable" / "apps" / "aesthetic-curator.svg").is_file()
