"""The loupe's histogram: the photo's red, green and blue levels over its top right corner, with how much
is blown to white or crushed to black (exposure.py), for the "is it blown out?" question of culling (the
clipping overlay that shows where is in photo_overlays.py)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPolygonF
from PySide6.QtWidgets import QWidget

from aesthetic_curator.exposure import Histogram, describe_clipping

#: The overlay's size in pixels (the curves, then a line of text under them).
SIZE = (256, 128)
TEXT_HEIGHT = 18
CHANNEL_COLOURS = (QColor(255, 60, 60), QColor(60, 220, 60), QColor(70, 120, 255))


class HistogramView(QWidget):
    """Draws one :class:`Histogram`; transparent to the mouse, so the view under it still zooms and pans."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedSize(*SIZE)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.histogram: Histogram | None = None

    def show_histogram(self, histogram: Histogram | None) -> None:
        self.histogram = histogram
        self.update()

    def clipping_text(self) -> str:
        return describe_clipping(self.histogram.clipped()) if self.histogram is not None else ""

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(0, 0, 0, 170))
        if self.histogram is None:
            return
        plot = QRectF(4, 4, self.width() - 8, self.height() - 8 - TEXT_HEIGHT)
        counts = self.histogram.counts
        # Scaled to the tallest level between the ends: a clipped spike at 0 or 255 would flatten the rest.
        tallest = max(1, int(counts[:, 1:255].max()))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Plus)  # overlaps add up to white
        painter.setPen(Qt.PenStyle.NoPen)
        for channel, colour in zip(counts, CHANNEL_COLOURS):
            points = [QPointF(plot.left(), plot.bottom())]
            for level, count in enumerate(channel):
                height = min(1.0, count / tallest) * plot.height()
                points.append(QPointF(plot.left() + level * plot.width() / 255, plot.bottom() - height))
            points.append(QPointF(plot.right(), plot.bottom()))
            painter.setBrush(QColor(colour.red(), colour.green(), colour.blue(), 150))
            painter.drawPolygon(QPolygonF(points))
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceOver)
        painter.setPen(QColor("#dddddd"))
        text = QRectF(4, self.height() - TEXT_HEIGHT - 2, self.width() - 8, TEXT_HEIGHT)
        painter.drawText(text, Qt.AlignmentFlag.AlignCenter, self.clipping_text())
