"""Painting one grid tile: the thumbnail, the user's stars, flag and colour label, the personal rank and score,
and whether it is a camera RAW (or a RAW+JPEG pair)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from aesthetic_curator.gui.photo_model import PHOTO_ROLE, PhotoItem
from aesthetic_curator.library.store import PICKED, REJECTED

STAR_FULL, STAR_EMPTY = "★", "☆"
#: How each colour label (store.COLOUR_LABELS) is drawn: a bar along the tile's foot, as Lightroom tints a cell.
LABEL_COLOURS = {"red": "#e5484d", "yellow": "#f5d90a", "green": "#46a758", "blue": "#3e63dd", "purple": "#8e4ec6"}


class PhotoDelegate(QStyledItemDelegate):
    def __init__(self, tile: int = 180, parent=None) -> None:
        super().__init__(parent)
        self.tile = tile

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(self.tile, self.tile + 22)

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        item: PhotoItem | None = index.data(PHOTO_ROLE)
        if item is None:
            return
        painter.save()
        rect = option.rect.adjusted(4, 4, -4, -4)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if item.stacked:  # a collapsed burst: cards peeking out behind the tile
            for offset, shade in ((6, "#4a4c55"), (3, "#383a41")):
                painter.fillRect(rect.adjusted(offset, -offset + 3, offset, -offset + 3), QColor(shade))
            rect = rect.adjusted(0, 3, -6, 0)
        painter.fillRect(rect, QColor("#3d5a80") if selected else QColor("#26272b"))
        image_rect = QRect(rect.left() + 4, rect.top() + 4, rect.width() - 8, rect.height() - 30)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            scaled = pixmap.scaled(
                image_rect.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
            x = image_rect.left() + (image_rect.width() - scaled.width()) // 2
            y = image_rect.top() + (image_rect.height() - scaled.height()) // 2
            if item.flag == REJECTED:
                painter.setOpacity(0.35)
            painter.drawPixmap(x, y, scaled)
            painter.setOpacity(1.0)
        else:
            painter.fillRect(image_rect, QColor("#33343a"))
        self._paint_badges(painter, rect, image_rect, item)
        painter.restore()

    def _paint_badges(self, painter: QPainter, rect: QRect, image_rect: QRect, item: PhotoItem) -> None:
        font = QFont(painter.font())
        font.setPointSize(10)
        painter.setFont(font)
        footer = QRect(rect.left() + 6, rect.bottom() - 24, rect.width() - 12, 22)
        stars = item.stars or 0
        painter.setPen(QColor("#f2c14e") if stars else QColor("#6b6d75"))
        painter.drawText(
            footer,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            STAR_FULL * stars + STAR_EMPTY * (5 - stars),
        )
        if item.label in LABEL_COLOURS:
            painter.fillRect(QRect(rect.left(), rect.bottom() - 3, rect.width(), 4), QColor(LABEL_COLOURS[item.label]))
        if item.flag in (PICKED, REJECTED):
            painter.setPen(QColor("#7bd88f") if item.flag == PICKED else QColor("#ff6b6b"))
            label = "PICK" if item.flag == PICKED else "REJECT"
            painter.drawText(footer, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label)
        if item.burst_size:
            text = f"▣ {item.burst_size}" if item.stacked else f"burst of {item.burst_size}"
            badge = QRect(image_rect.right() - 74, image_rect.top(), 74, 20)
            painter.fillRect(badge, QColor(40, 90, 160, 210) if item.stacked else QColor(0, 0, 0, 150))
            painter.setPen(QColor("#ffffff"))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
        if item.photo.format.startswith("RAW"):  # "RAW", or "RAW+JPEG": what an export takes along
            width = 24 + 7 * len(item.photo.format)
            badge = QRect(image_rect.right() - width, image_rect.bottom() - 18, width, 18)
            painter.fillRect(badge, QColor(0, 0, 0, 150))
            painter.setPen(QColor("#d8d8d8"))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, item.photo.format)
        if item.rank is not None and item.score is not None:
            badge = QRect(image_rect.left(), image_rect.top(), 96, 20)
            painter.fillRect(badge, QColor(0, 0, 0, 170))
            painter.setPen(QColor("#ffffff"))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, f"#{item.rank} · {item.score:.2f}")
