"""Preferences that persist between runs (an INI file in the app's data folder).

Kept in the data folder rather than the platform registry so tests (and portable installs) can
point the whole app somewhere else with ``AESTHETIC_CURATOR_DATA_DIR``.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from aesthetic_curator.builtin_model import builtin_bundle_path, is_builtin
from aesthetic_curator.gui.photo_grid import DEFAULT_TILE
from aesthetic_curator.paths import data_dir

MAX_RECENT = 8


def _switch(key: str, doc: str) -> property:
    """An on/off setting kept between runs as "true"/"false" (Qt's INI files keep no booleans)."""
    return property(
        lambda self: self._text(key, "false") == "true",
        lambda self, on: self._settings.setValue(key, "true" if on else "false"),
        doc=doc,
    )


def _setting(key: str, default: str, doc: str) -> property:
    """A text setting kept between runs."""
    return property(
        lambda self: self._text(key, default),
        lambda self, value: self._settings.setValue(key, value),
        doc=doc,
    )


class Preferences:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / "settings.ini"
        self._settings = QSettings(str(self.path), QSettings.Format.IniFormat)

    def _text(self, key: str, default: str = "") -> str:
        value = self._settings.value(key, default)
        return str(value) if value is not None else default

    @property
    def bundle_path(self) -> Path | None:
        """The chosen bundle; with no choice (a fresh install) the built-in model."""
        text = self._text("model/bundle")
        return Path(text) if text else builtin_bundle_path()

    @bundle_path.setter
    def bundle_path(self, path: Path | None) -> None:
        # The built-in model is stored as "no choice", so it follows the app to wherever it is installed.
        self._settings.setValue("model/bundle", str(path) if path and not is_builtin(path) else "")

    device = _setting("model/device", "auto", "Where the model runs: auto, cpu or cuda.")
    solver = _setting("model/solver", "fast", "How Personalize learns: fast or paper.")

    stack_bursts = _switch("view/stack_bursts", "Whether each burst shows as one stack (Photos → Stack Bursts).")
    advance_after_rating = _switch(
        "view/advance_after_rating", "Whether a rating key moves on to the next photo (Edit → Advance After Rating)."
    )
    show_new_photos = _switch(
        "view/show_new_photos", "Whether each photo copied in is selected as it arrives (File → Show New Photos…)."
    )
    learn_everywhere = _switch(
        "model/learn_from_all_albums", "Whether Personalize learns from the answers given in other albums too."
    )
    loupe_histogram = _switch("view/loupe_histogram", "Whether the loupe shows the histogram (H).")
    loupe_clipping = _switch("view/loupe_clipping", "Whether the loupe marks clipped pixels (J).")
    loupe_focus = _switch("view/loupe_focus", "Whether the loupe marks the sharp edges (M, focus peaking).")
    focus_level = _setting("view/focus_level", "normal", "Focus peaking's sensitivity (Shift+M; focus.FOCUS_LEVELS).")
    sidecar_names = _setting(
        "xmp/sidecar_names", "photo", "How Write Ratings to XMP Sidecars names new ones (xmp.SIDECAR_NAMINGS)."
    )

    @property
    def tile_size(self) -> int:
        """The grid's chosen thumbnail size in pixels (Photos → Larger / Smaller Thumbnails)."""
        text = self._text("view/tile_size", str(DEFAULT_TILE))
        return int(text) if text.isdigit() else DEFAULT_TILE

    @tile_size.setter
    def tile_size(self, size: int) -> None:
        self._settings.setValue("view/tile_size", str(int(size)))

    @property
    def recent_folders(self) -> list[Path]:
        raw = self._settings.value("album/recent", [])
        items = [raw] if isinstance(raw, str) else list(raw or [])
        return [Path(p) for p in items if p]

    def remember_folder(self, folder: Path) -> None:
        recent = [p for p in self.recent_folders if p != folder]
        self._settings.setValue("album/recent", [str(p) for p in [folder, *recent][:MAX_RECENT]])
        self._settings.setValue("album/last", str(folder))

    @property
    def last_folder(self) -> Path | None:
        text = self._text("album/last")
        return Path(text) if text else None

    def profile_for(self, album: Path) -> str:
        return self._text(f"profiles/{_key(album)}")

    def set_profile_for(self, album: Path, name: str) -> None:
        self._settings.setValue(f"profiles/{_key(album)}", name)

    def carry_album_over(self, old: Path, new: Path) -> None:
        """An album found moved or renamed keeps what was remembered for it (its profile, how its grid was left,
        its export folder), unless the new place has its own; Open Recent forgets the old place."""
        self._settings.setValue("album/recent", [str(p) for p in self.recent_folders if p != old])
        for group in ("profiles", "views", "export_folders"):
            value = self._settings.value(f"{group}/{_key(old)}")
            if value is not None and self._settings.value(f"{group}/{_key(new)}") is None:
                self._settings.setValue(f"{group}/{_key(new)}", value)

    def view_for(self, album: Path) -> dict[str, object]:
        """How the album's grid was last left (sort, filter, colour label, current photo; ``{}`` for an album
        not seen before or a damaged entry): reopening a shoot shows it as it was, as Lightroom keeps each
        folder's."""
        return self._json(f"views/{_key(album)}")

    def set_view_for(self, album: Path, view: dict[str, object]) -> None:
        self._settings.setValue(f"views/{_key(album)}", json.dumps(view))

    def _json(self, key: str) -> dict[str, object]:
        try:
            stored = json.loads(self._text(key, "{}"))
        except ValueError:
            return {}
        return stored if isinstance(stored, dict) else {}

    def export_choices(self) -> dict[str, object]:
        """The export dialog's last choices (how many, ordered how, as what, with what; ``{}`` before the first
        export or when the stored text is damaged): a photographer exports each shoot the same way."""
        return self._json("export/last")

    def set_export_choices(self, choices: dict[str, object]) -> None:
        self._settings.setValue("export/last", json.dumps(choices))

    def export_folder_for(self, album: Path) -> Path | None:
        """Where this album was last exported to (each shoot has its own destination)."""
        text = self._text(f"export_folders/{_key(album)}")
        return Path(text) if text else None

    def set_export_folder_for(self, album: Path, folder: Path) -> None:
        self._settings.setValue(f"export_folders/{_key(album)}", str(folder))

    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        return self._settings.value("window/geometry"), self._settings.value("window/state")

    def save_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self._settings.setValue("window/geometry", geometry)
        self._settings.setValue("window/state", state)

    def sync(self) -> None:
        self._settings.sync()


def _key(album: Path) -> str:
    import hashlib

    return hashlib.blake2b(str(album).encode(), digest_size=8).hexdigest()
