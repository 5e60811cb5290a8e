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


def test_the_wheel_carries_the_builtin_model(tmp_path: Path):
    """A user's (non-editable) install must find the model without the repository beside it."""
    import json
    import sys
    import zipfile

    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "PIP_NO_INDEX": "1"},
    )
    (wheel,) = tmp_path.glob("aesthetic_curator-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    prefix = "aesthetic_curator/resources/builtin_bundle/"
    manifest = json.loads(zipfile.ZipFile(wheel).read(prefix + "manifest.json"))
    expected = {prefix + "head_reference.safetensors", prefix + "LIVE-NOTICE.txt"}
    expected |= {prefix + task["file"] for task in manifest["tasks"]}
    assert expected <= names
    assert "aesthetic_curator/engine/model_configs/curator-efficientnet-lite0.json" in names
