"""The heat strip: a narrow bar beside the document showing, for the whole document, how relevant
each window was (wide column) and where passages were retained (narrow column on the right). Behind the
relevance, the part of the document whose attention index is built so far is drawn in a neutral shade
(indexing runs from the start of the document on, so that part is a prefix); relevance wins where both are.

Positions on the strip follow the document view's own scroll geometry (supplied by a
:class:`StripGeometry`), so the strip lines up with the scrollbar. Each pixel row shows the highest
score of everything that falls into it, which keeps a 3,000-page document readable.
"""

from __future__ import annotations

import bisect
import math
from typing import Protocol

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from app.retrieval.types import Passage, WindowScore
from app.ui.colors import INDEXED_COLOR, heat_color

STRIP_WIDTH = 20
PASSAGE_COLUMN = 6


class StripGeometry(Protocol):
    """How character offsets map onto the document view's scroll range (0..1 from top to bottom)."""

    def fraction_of_offset(self, offset: int) -> float: ...

    def offset_at_fraction(self, fraction: float) -> int: ...

    def viewport_fractions(self) -> tuple[float, float]: ...

    def location_label(self, offset: int) -> str: ...


class _LinearGeometry:
    """Fallback before a document view is attached: offsets map linearly."""

    def __init__(self, length: int = 1) -> None:
        self.length = max(1, length)

    def fraction_of_offset(self, offset: int) -> float:
        return offset / self.length

    def offset_at_fraction(self, fraction: float) -> int:
        return int(fraction * self.length)

    def viewport_fractions(self) -> tuple[float, float]:
        return 0.0, 0.0

    def location_label(self, offset: int) -> str:
        return f"offset {offset:,}"


def aggregate_rows(
    spans: list[tuple[float, float, float]], rows: int
) -> list[float]:
    """Per pixel row, the maximum score of the spans (fractions start..end, score) touching it; -1 if none."""
    out = [-1.0] * max(0, rows)
    for top, bottom, score in spans:
        y0 = min(rows - 1, max(0, math.floor(top * rows)))
        y1 = min(rows, max(y0 + 1, math.ceil(bottom * rows)))
        for y in range(y0, y1):
            if score > out[y]:
                out[y] = score
    return out


class HeatStrip(QWidget):
    jumpRequested = Signal(int)  # character offset

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedWidth(STRIP_WIDTH)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.setToolTip("Relevance of each part of the document; grey: indexed so far")
        self._geometry: StripGeometry = _LinearGeometry()
        self.windows: list[WindowScore] = []
        self.passages: list[Passage] = []
        self.expected_windows = 0
        self.indexed_until = 0  # characters from the start whose attention index is built
        self.indexed_complete = False
        self._window_rows: list[float] | None = None
        self._passage_rows: list[float] | None = None
        self._starts: list[int] = []

    # data -----------------------------------------------------------------------------------------
    def set_geometry(self, geometry: StripGeometry | None, length: int = 1) -> None:
        self._geometry = geometry or _LinearGeometry(length)
        self.invalidate()

    def clear(self) -> None:
        """Forget everything: another document (or none) is shown."""
        self.indexed_until, self.indexed_complete = 0, False
        self.clear_relevance()

    def clear_relevance(self) -> None:
        """Forget the windows and passages of an answer; the indexed part stays."""
        self.windows, self.passages, self.expected_windows = [], [], 0
        self._starts = []
        self.invalidate()

    def begin_run(self, expected_windows: int = 0) -> None:
        self.clear_relevance()
        self.expected_windows = expected_windows

    def set_indexed_until(self, offset: int, complete: bool = False) -> None:
        """The attention index covers the document's characters up to `offset` (all of them: `complete`)."""
        if (offset, complete) != (self.indexed_until, self.indexed_complete):
            self.indexed_until, self.indexed_complete = max(0, offset), complete
            self.update()

    def indexed_rows(self) -> int:
        """Pixel rows, from the top, drawn as indexed."""
        if self.indexed_complete:
            return self.height()
        if self.indexed_until <= 0:
            return 0
        return min(self.height(), math.ceil(self._geometry.fraction_of_offset(self.indexed_until) * self.height()))

    def set_expected(self, total: int) -> None:
        if total != self.expected_windows:
            self.expected_windows = total
            self.update()

    def add_window(self, window: WindowScore) -> None:
        if self.windows and window.index <= self.windows[-1].index:
            return  # a repeated report; windows arrive in document order
        self.windows.append(window)
        self._starts.append(window.start)
        if self._window_rows is not None:
            span = self._span(window.start, window.end, window.score)
            for y, value in enumerate(aggregate_rows([span], len(self._window_rows))):
                if value > self._window_rows[y]:
                    self._window_rows[y] = value
        self.update()

    def set_result(self, windows: list[WindowScore], passages: list[Passage]) -> None:
        self.windows = sorted(windows, key=lambda w: w.start)
        self._starts = [w.start for w in self.windows]
        self.passages = list(passages)
        self.expected_windows = len(self.windows)
        self.invalidate()

    def cell_count(self) -> int:
        """Number of window cells drawn: one per scored window."""
        return len(self.windows)

    def invalidate(self) -> None:
        self._window_rows = None
        self._passage_rows = None
        self.update()

    def update_viewport(self, *_: object) -> None:
        self.update()

    # geometry -------------------------------------------------------------------------------------
    def _span(self, start: int, end: int, score: float) -> tuple[float, float, float]:
        return self._geometry.fraction_of_offset(start), self._geometry.fraction_of_offset(end), score

    def _rows(self) -> tuple[list[float], list[float]]:
        height = max(1, self.height())
        if self._window_rows is None or len(self._window_rows) != height:
            self._window_rows = aggregate_rows([self._span(w.start, w.end, w.score) for w in self.windows], height)
        if self._passage_rows is None or len(self._passage_rows) != height:
            self._passage_rows = aggregate_rows([self._span(p.start, p.end, p.score) for p in self.passages], height)
        return self._window_rows, self._passage_rows

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.invalidate()
        super().resizeEvent(event)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(STRIP_WIDTH, 200)

    # painting -------------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.AlternateBase))
        window_rows, passage_rows = self._rows()
        cell_width = self.width() - PASSAGE_COLUMN - 1
        painter.fillRect(0, 0, cell_width, self.indexed_rows(), INDEXED_COLOR)
        self._paint_column(painter, window_rows, 0, cell_width)
        self._paint_column(painter, passage_rows, cell_width + 1, PASSAGE_COLUMN)
        self._paint_viewport(painter, palette)
        painter.end()

    def _paint_column(self, painter: QPainter, rows: list[float], x: int, width: int) -> None:
        run_start, run_score = 0, None
        for y, score in enumerate([*rows, None]):
            if score == run_score:
                continue
            if run_score is not None and run_score >= 0:
                painter.fillRect(x, run_start, width, y - run_start, heat_color(run_score))
            run_start, run_score = y, score

    def _paint_viewport(self, painter: QPainter, palette: QPalette) -> None:
        top, bottom = self._geometry.viewport_fractions()
        if bottom <= top:
            return
        h = self.height()
        rect = QRectF(0.5, top * h, self.width() - 1.0, max(3.0, (bottom - top) * h))
        fill = QColor(palette.color(QPalette.ColorRole.Highlight))
        fill.setAlpha(45)
        painter.fillRect(rect, fill)
        pen = QPen(palette.color(QPalette.ColorRole.WindowText), 1.0)
        painter.setPen(pen)
        painter.drawRect(rect)

    # interaction ----------------------------------------------------------------------------------
    def offset_at_y(self, y: float) -> int:
        fraction = min(1.0, max(0.0, y / max(1, self.height())))
        return self._geometry.offset_at_fraction(fraction)

    def best_window(self, start: int, end: int) -> WindowScore | None:
        """The highest scoring window overlapping start..end (what one pixel row shows)."""
        first = max(0, bisect.bisect_right(self._starts, start) - 1)
        last = bisect.bisect_left(self._starts, max(end, start + 1))
        candidates = [w for w in self.windows[first:last] if w.end > start]
        return max(candidates, key=lambda w: w.score, default=None)

    def describe(self, y: float) -> str:
        offset = self.offset_at_y(y)
        text = self._geometry.location_label(offset)
        window = self.best_window(offset, self.offset_at_y(int(y) + 1))
        if window is not None:
            text += f"\nwindow {window.index + 1} · relevance {window.score:.2f}"
        elif offset < self.indexed_until:
            text += "\nindexed"
        rows = self._passage_rows or []
        row = int(y)
        if 0 <= row < len(rows) and rows[row] >= 0:
            text += f"\npassage · score {rows[row]:.2f}"
        return text

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        position = event.position()
        QToolTip.showText(event.globalPosition().toPoint(), self.describe(position.y()), self)
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.jumpRequested.emit(self.offset_at_y(position.y()))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.jumpRequested.emit(self.offset_at_y(event.position().y()))

    def click_at_fraction(self, fraction: float) -> int:
        """Jump as a click at this height would (for keyboard users and tests); returns the offset."""
        offset = self.offset_at_y(fraction * self.height())
        self.jumpRequested.emit(offset)
        return offset
