"""The album as a Qt list model: one row per photo, sorted and filtered for the grid.

A model/view list (not one widget per photo) so 20,000 photos scroll smoothly: the view paints
only visible rows, and thumbnails are requested lazily for exactly those rows.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, Qt

from aesthetic_curator.bursts import Bursts
from aesthetic_curator.gui.thumbnail_loader import ThumbnailLoader
from aesthetic_curator.library.export import percent_cutoff
from aesthetic_curator.library.store import COLOUR_LABELS, PICKED, REJECTED, Library, Photo
from aesthetic_curator.library.thumbnails import ThumbnailRequest
from aesthetic_curator.paths import display_path

PHOTO_ROLE = Qt.ItemDataRole.UserRole + 1  # the PhotoItem of a row


@dataclass
class PhotoItem:
    photo: Photo
    path: Path
    order: int  # position in album order (folder, then name)
    stars: int | None = None
    flag: int = 0
    label: str | None = None  # colour label (store.COLOUR_LABELS)
    score: float | None = None
    rank: int | None = None
    burst_size: int = 0  # photos in its burst (0: in none)
    taken: float | None = None  # capture time (EXIF, else file time), once read: bursts.read_moment
    sharpness: float | None = None  # share on sharp edges (focus.photo_sharpness), once measured; -1: undecodable
    stacked: bool = False  # the tile stands for its whole (collapsed) burst

    @property
    def id(self) -> int:
        return self.photo.id

    def name_text(self) -> str:
        """The photo's path in the album as the views name it; a RAW+JPEG pair's with its RAW: "a/DSC_1.JPG + NEF"."""
        raw = self.photo.companion
        return display_path(self.photo.relpath) + (f" + {raw.rpartition('.')[2]}" if raw else "")

    def rating_text(self) -> str:
        """The rating as the large views' captions show it: "★★★★☆  PICK  RED LABEL"."""
        stars = "★" * (self.stars or 0) + "☆" * (5 - (self.stars or 0))
        flag = {PICKED: "  PICK", REJECTED: "  REJECT"}.get(self.flag, "")
        return stars + flag + (f"  {self.label.upper()} LABEL" if self.label else "")

    def request(self) -> ThumbnailRequest:
        return ThumbnailRequest(self.path, self.photo.content_hash, self.photo.size, self.photo.mtime_ns)


class SortOrder(enum.Enum):
    SCORE = "Personal score"
    ALBUM = "Album order"
    STARS = "My rating"
    TAKEN = "Capture time"
    LABEL = "Colour label"
    SHARPNESS = "Sharpness"


class Filter(enum.Enum):
    ALL = "All photos"
    TOP_N = "Top N"
    TOP_PERCENT = "Top %"
    MIN_SCORE = "Score at least"
    UNRATED = "Unrated"
    RATED = "Rated"
    MIN_STARS = "Stars at least"
    PICKS = "Picks"
    NOT_REJECTED = "Not rejected"
    REJECTED = "Rejected"
    SUGGESTED = "Suggested to rate"
    HIDDEN_GEMS = "Hidden gems"
    BEST_OF_BURSTS = "Best of each burst"


#: The label filter's choice for photos without a colour label (the others: None for any, or a colour).
NO_LABEL = "none"


def _kept_path(item: PhotoItem | None, photo) -> Path | None:
    """The absolute path an earlier load made for ``photo``, if it still names the same file."""
    return item.path if item is not None and item.photo.relpath == photo.relpath else None


class PhotoListModel(QAbstractListModel):
    def __init__(self, loader: ThumbnailLoader | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.loader = loader
        self._items: dict[int, PhotoItem] = {}
        self._album: Path | None = None  # the album the items belong to
        self._visible: list[PhotoItem] = []
        self._rows: dict[int, int] = {}
        self.sort_order = SortOrder.ALBUM
        self.filter = Filter.ALL
        self.filter_value = 0.0
        self.label_filter: str | None = None  # with any filter: only this colour label (NO_LABEL: none)
        self.suggested: list[int] = []
        #: (profile id, photo ids) of the "Hidden gems" filter (profile_editing.hidden_gems); None: not found yet
        self.hidden_gems: tuple[int | None, set[int]] = (None, set())
        self.bursts: Bursts | None = None  # None: not looked for yet
        self.stack_bursts = False  # show each burst as one tile, its best photo on top
        self.expanded: set[int] = set()  # burst indices shown photo by photo

    # -- content ----------------------------------------------------------------------------------------
    def set_loader(self, loader: ThumbnailLoader) -> None:
        if self.loader is not None:
            self.loader.loaded.disconnect(self._thumbnail_loaded)
        self.loader = loader
        loader.loaded.connect(self._thumbnail_loaded)

    def load(self, library: Library, scores: dict[int, tuple[float, int]] | None = None) -> None:
        """Photos and ratings from the library, with a profile's (score, rank) per photo id if given."""
        ratings = library.ratings()
        # a reload of the same album (after a re-scan) reuses the paths it made: pathlib, half of a 20,000-photo load
        before = self._items if self._album == library.album else {}
        self._album = library.album
        self._items = {
            p.id: PhotoItem(p, _kept_path(before.get(p.id), p) or library.absolute_path(p), order)
            for order, p in enumerate(library.photos())
        }
        for pid, rating in ratings.items():
            if pid in self._items:
                self._items[pid].stars, self._items[pid].flag = rating.stars, rating.flag
        for pid, label in library.labels().items():
            if pid in self._items:
                self._items[pid].label = label
        self._set_taken(  # times read before, if the file is still the one they were read from (one query)
            {
                pid: moment.taken
                for pid, (content, moment) in library.photo_moments().items()
                if pid in self._items and self._items[pid].photo.content_hash == content
            }
        )
        self._mark_bursts()
        self.set_scores(scores or {})

    def set_scores(self, scores: dict[int, tuple[float, int]]) -> None:
        for item in self._items.values():
            item.score, item.rank = scores.get(item.id, (None, None))
        self.refresh()

    def set_rating(self, photo_id: int, stars: int | None, flag: int, label: str | None) -> None:
        """Show a rating (and colour label) the library just stored."""
        item = self._items.get(photo_id)
        if item is None:
            return
        item.stars, item.flag, item.label = stars, flag, label
        row = self._rows.get(photo_id)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index)

    # -- sorting and filtering ---------------------------------------------------------------------------
    def set_view(self, sort_order: SortOrder, filter_: Filter, value: float = 0.0, label: str | None = None) -> None:
        """How the grid sorts and what it shows: ``filter_`` and, with it, only the photos of colour ``label``
        (a name of store.COLOUR_LABELS, :data:`NO_LABEL`, or None for any), as Lightroom's filter bar combines
        a flag or stars with a colour."""
        self.sort_order, self.filter, self.filter_value, self.label_filter = sort_order, filter_, value, label
        self.refresh()

    def forget_album(self) -> None:
        """What belonged to the previous album: suggestions, hidden gems, bursts (stacking stays on or off)."""
        self.suggested, self.hidden_gems, self.bursts = [], (None, set()), None
        self.expanded.clear()

    def set_bursts(
        self, bursts: Bursts | None, stack: bool | None = None, taken: dict[int, float] | None = None
    ) -> None:
        """The album's bursts, whether to stack them, and the capture times read with them."""
        self.bursts = bursts
        self._set_taken(taken or {})
        self._mark_bursts()
        if stack is not None:
            self.stack_bursts = stack
        self.expanded.clear()
        self.refresh()

    def _set_taken(self, taken: dict[int, float]) -> None:
        """Capture times (seconds) of the album's photos; ids no longer in the album are ignored."""
        for pid, seconds in taken.items():
            item = self._items.get(pid)
            if item is not None:
                item.taken = seconds

    def _mark_bursts(self) -> None:
        """Each photo's burst size (0: in none), set once per album load or burst search, not per refresh."""
        for item in self._items.values():
            size = len(self.bursts.members(item.id)) if self.bursts is not None else 0
            item.burst_size = size if size > 1 else 0

    def toggle_stack(self, photo_id: int) -> bool:
        """Expand a collapsed burst (or collapse an expanded one); False when the photo is in none."""
        group = self.bursts.group_of.get(photo_id) if self.bursts is not None else None
        if group is None or not self.stack_bursts:
            return False
        self.expanded.symmetric_difference_update({group})
        self.refresh()
        return True

    def rest_of_bursts(self) -> tuple[list[PhotoItem], int]:
        """The burst members to reject so each burst keeps only its keepers: the photos the user picked or
        starred in it, else the profile's best; never a photo the user rated or labelled. Also how many bursts were left
        alone because nothing chooses their keeper (no pick, no stars, no profile: the first frame taken would
        be a guess)."""
        if self.bursts is None:
            return [], 0
        ranks, _ = self._best_first()
        rest, undecided = [], 0
        for group in self.bursts.groups:
            members = [self._items[pid] for pid in group if pid in self._items]
            unrated = [item for item in members if item.stars is None and item.flag == 0 and item.label is None]
            if any(item.flag == PICKED or (item.stars is not None and item.flag != REJECTED) for item in members):
                rest += unrated  # the user chose
            elif any(item.id in ranks for item in members):
                best = self.bursts.best([item.id for item in members], ranks)
                rest += [item for item in unrated if item.id != best]
            else:
                undecided += 1
        return rest, undecided

    def _best_first(self) -> tuple[dict[int, int], dict[int, float]]:
        """What picks a burst's best photo: the profile's ranks, then the user's stars."""
        ranks = {i.id: i.rank for i in self._items.values() if i.rank is not None}
        return ranks, {i.id: _star_value(i) for i in self._items.values()}

    def _stacked(self, items: list[PhotoItem]) -> list[PhotoItem]:
        """Collapsed bursts as one tile each (the best of the members shown), where their best one sorts."""
        bursts = self.bursts
        visible = {item.id for item in items}
        shown = {
            group: [pid for pid in bursts.groups[group] if pid in visible]
            for group in {bursts.group_of[i] for i in visible if i in bursts.group_of}
        }  # members in shooting order
        ranks, stars = self._best_first()
        tops = {group: bursts.best(ids, ranks, stars) for group, ids in shown.items() if group not in self.expanded}
        kept = []
        for item in items:
            group = bursts.group_of.get(item.id)
            item.stacked = group is not None and group in tops
            if group is None or group in self.expanded or tops[group] == item.id:
                kept.append(item)
        return kept

    def set_sharpness(self, shares: dict[int, float | None]) -> None:
        """The photos' sharpness (focus.photo_sharpness; None: cannot be decoded, sorted last)."""
        for pid, share in shares.items():
            item = self._items.get(pid)
            if item is not None:
                item.sharpness = -1.0 if share is None else share
        self.refresh()

    def needs_sharpness(self) -> bool:
        """Whether some photo is still to be measured (the Sharpness sort asks for it)."""
        return any(item.sharpness is None for item in self._items.values())

    def needs_capture_times(self) -> bool:
        """Whether some photo's capture time is still to be read (the Capture time sort asks for it)."""
        return any(item.taken is None for item in self._items.values())

    def has_scores(self) -> bool:
        return any(item.score is not None for item in self._items.values())

    def refresh(self) -> None:
        """Recompute the visible rows from the sort order and the filter."""
        items = list(self._items.values())
        if self.sort_order is SortOrder.SCORE and self.has_scores():
            items.sort(key=lambda i: (i.rank is None, i.rank or 0, i.order))
        elif self.sort_order is SortOrder.STARS:
            items.sort(key=lambda i: (-_star_value(i), i.order))
        elif self.sort_order is SortOrder.TAKEN:  # photos not read yet last, in album order
            items.sort(key=lambda i: (i.taken is None, i.taken or 0.0, i.order))
        elif self.sort_order is SortOrder.SHARPNESS:  # the sharpest first; not measured yet last, in album order
            items.sort(key=lambda i: (i.sharpness is None, -(i.sharpness or 0.0), i.order))
        elif self.sort_order is SortOrder.LABEL:  # red, yellow, green, blue, purple (Lightroom's order), then none
            rank = {label: n for n, label in enumerate(COLOUR_LABELS)}
            items.sort(key=lambda i: (rank.get(i.label, len(rank)), i.order))
        else:
            items.sort(key=lambda i: i.order)
        for item in items:
            item.stacked = False
        visible = self._filtered(items)
        if self.label_filter is not None:
            wanted = None if self.label_filter == NO_LABEL else self.label_filter
            visible = [item for item in visible if item.label == wanted]
        if self.bursts is not None and self.stack_bursts:
            visible = self._stacked(visible)
        self.beginResetModel()
        self._visible = visible
        self._rows = {item.id: row for row, item in enumerate(self._visible)}
        self.endResetModel()

    def _filtered(self, items: list[PhotoItem]) -> list[PhotoItem]:
        value = self.filter_value
        if self.filter is Filter.UNRATED:
            return [i for i in items if i.stars is None and i.flag == 0]
        if self.filter is Filter.RATED:
            return [i for i in items if i.stars is not None or i.flag != 0]
        if self.filter is Filter.MIN_STARS:
            return [i for i in items if i.stars is not None and i.stars >= value]
        if self.filter in (Filter.PICKS, Filter.REJECTED):
            return [i for i in items if i.flag == (PICKED if self.filter is Filter.PICKS else REJECTED)]
        if self.filter is Filter.NOT_REJECTED:
            return [i for i in items if i.flag != REJECTED]
        if self.filter is Filter.SUGGESTED:
            wanted = {pid: n for n, pid in enumerate(self.suggested)}
            return sorted((i for i in items if i.id in wanted), key=lambda i: wanted[i.id])
        if self.filter is Filter.BEST_OF_BURSTS:
            hidden = self.bursts.hidden_by_best(*self._best_first()) if self.bursts is not None else set()
            return [i for i in items if i.id not in hidden]
        if self.filter is Filter.HIDDEN_GEMS:
            return [i for i in items if i.id in self.hidden_gems[1]]
        scored = [i for i in items if i.rank is not None]
        if self.filter is Filter.TOP_N:
            return [i for i in items if i.rank is not None and i.rank <= int(value)]
        if self.filter is Filter.TOP_PERCENT:
            cutoff = percent_cutoff(len(scored), value)
            return [i for i in items if i.rank is not None and i.rank <= cutoff]
        if self.filter is Filter.MIN_SCORE:
            return [i for i in items if i.score is not None and i.score >= value]
        return items

    # -- Qt model interface -------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._visible)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._visible):
            return None
        item = self._visible[index.row()]
        if role == PHOTO_ROLE:
            return item
        if role == Qt.ItemDataRole.DisplayRole:
            return item.name_text().rpartition("/")[2]
        if role == Qt.ItemDataRole.ToolTipRole:
            parts = [display_path(item.photo.relpath)]
            if item.photo.companion:
                parts.append(f"{item.photo.format}: {display_path(item.photo.companion)} is rated and exported with it")
            if item.rank is not None:
                parts.append(f"rank {item.rank}, score {item.score:.2f}")
            if item.burst_size:
                how = "press S to show them all" if item.stacked else "press S to stack them"
                parts.append(f"one of a burst of {item.burst_size} photos ({how})")
            if self.loader is not None and item.id in self.loader.unreadable:
                parts.append("cannot be decoded: skipped when ranking")
            return "\n".join(parts)
        if role == Qt.ItemDataRole.DecorationRole and self.loader is not None:
            return self.loader.pixmap(item.id, item.request())
        return None

    # -- lookups --------------------------------------------------------------------------------------------
    def item_at(self, row: int) -> PhotoItem | None:
        return self._visible[row] if 0 <= row < len(self._visible) else None

    def item(self, photo_id: int) -> PhotoItem | None:
        """The album's photo, shown or filtered out."""
        return self._items.get(photo_id)

    def row_of(self, photo_id: int) -> int | None:
        return self._rows.get(photo_id)

    def all_items(self) -> list[PhotoItem]:
        return list(self._items.values())

    def visible_items(self) -> list[PhotoItem]:
        """The photos the grid shows, in its order."""
        return list(self._visible)

    def _thumbnail_loaded(self, photo_id: int) -> None:
        row = self._rows.get(photo_id)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


def _star_value(item: PhotoItem) -> float:
    if item.flag == REJECTED:
        return -1.0
    return float(item.stars) if item.stars is not None else 0.0
