"""Continuous, zoomable view of PDF pages rendered on demand.

Only the layout (one rectangle per page, from the page sizes) exists for the whole document; pixels
exist only for the visible pages and one page either side, rendered on a background thread at the
screen's device pixel ratio and kept in an LRU cache. Until a page is rendered its placeholder (or a
stale rendering at another zoom) is drawn, so a 3,000-page PDF scrolls smoothly.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
    QWheelEvent,
)
from PySide6.QtWidgets import QAbstractScrollArea, QWidget

from app.ui.colors import FIND_COLOR, highlight_color
from app.ui.highlights import Flash, Highlight
from app.ui.page_renderer import PageRenderer
from app.ui.pixmap_cache import PixmapCache

GAP = 12.0
MARGIN = 12.0
MIN_ZOOM, MAX_ZOOM = 0.1, 8.0
ZOOM_STEP = 1.2


@dataclass(frozen=True)
class PageBox:
    """Size of a page in points, its printed label and its slice of the document text."""

    width: float
    height: float
    label: str = ""
    text_start: int = 0
    text_end: int = 0


class PageView(QAbstractScrollArea):
    currentPageChanged = Signal(int)
    viewportMoved = Signal()
    zoomChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.renderer = PageRenderer(self)
        self.renderer.rendered.connect(self._on_rendered)
        self.renderer.measured.connect(self._on_measured)
        self._provisional = False
        self.cache = PixmapCache()
        self.flash = Flash(self)
        self.flash.tick.connect(self.viewport().update)
        self.pages: list[PageBox] = []
        self.path: Path | None = None
        self._tops: list[float] = []
        self._starts: list[int] = []
        self._zoom = 1.0
        self.fit_width = True
        self._pending: set[tuple[int, float]] = set()
        self._highlights: dict[int, list[tuple[Highlight, tuple[float, float, float, float]]]] = {}
        self.highlights: list[Highlight] = []
        self.find_match: Highlight | None = None
        self.selected: Highlight | None = None
        self.painted_highlights: dict[int, int] = {}  # page -> highlights drawn in the last paint
        self._current_page = -1
        self._content_height = 0.0
        self._content_width = 0.0
        self.verticalScrollBar().valueChanged.connect(self._on_scrolled)
        self.horizontalScrollBar().valueChanged.connect(self.viewport().update)
        self.verticalScrollBar().setSingleStep(40)
        self.viewport().setAutoFillBackground(False)

    # document -------------------------------------------------------------------------------------
    def open_pdf(self, path: Path, pages: list[PageBox], password: str | None = None) -> None:
        self.path = Path(path)
        self.cache.clear()
        self._pending.clear()
        self.renderer.open(self.path, password)
        self.clear_highlights()
        self._current_page = -1
        self.set_pages(pages, keep_position=False)

    def preview_pdf(self, path: Path, page_count: int, password: str | None = None) -> None:
        """Show a PDF before its pages are known: placeholders sized like the first page."""
        self.open_pdf(path, [PageBox(612.0, 792.0, str(i + 1)) for i in range(max(1, page_count))], password)
        self._provisional = True
        self.renderer.measure()

    def _on_measured(self, width: float, height: float) -> None:
        if self._provisional:
            self.set_pages([PageBox(width, height, p.label) for p in self.pages], keep_position=False)
            self._provisional = True

    def set_pages(self, pages: list[PageBox], keep_position: bool = True) -> None:
        """Replace the page layout (e.g. exact sizes and labels once the document is extracted)."""
        self._provisional = False
        anchor = self._anchor() if keep_position else (0, 0.0)
        self.pages = list(pages)
        self._starts = [p.text_start for p in self.pages]
        self._relayout(anchor)

    def close_document(self) -> None:
        self.path = None
        self.renderer.open(None)
        self.cache.clear()
        self.pages, self._tops, self._starts = [], [], []
        self.clear_highlights()
        self._relayout((0, 0.0))

    def shutdown(self) -> None:
        self.renderer.shutdown()

    def wait_for_renderer(self, timeout_ms: int) -> bool:
        return self.renderer.wait(timeout_ms)

    @property
    def page_count(self) -> int:
        return len(self.pages)

    # layout ---------------------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return self._zoom

    def _max_page_width(self) -> float:
        return max((p.width for p in self.pages), default=612.0)

    def _fit_zoom(self) -> float:
        available = max(50.0, self.viewport().width() - 2 * MARGIN)
        return min(MAX_ZOOM, max(MIN_ZOOM, available / self._max_page_width()))

    def set_zoom(self, zoom: float, fit_width: bool = False) -> None:
        self.fit_width = fit_width
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, zoom))
        if abs(zoom - self._zoom) < 1e-6 and self._tops:
            return
        anchor = self._anchor()
        self._zoom = zoom
        self._relayout(anchor)
        self.zoomChanged.emit(zoom)

    def zoom_in(self) -> None:
        self.set_zoom(self._zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self._zoom / ZOOM_STEP)

    def zoom_fit_width(self) -> None:
        self.set_zoom(self._fit_zoom(), fit_width=True)

    def _relayout(self, anchor: tuple[int, float]) -> None:
        if self.fit_width:
            self._zoom = self._fit_zoom()
        tops, y = [], MARGIN
        for page in self.pages:
            tops.append(y)
            y += page.height * self._zoom + GAP
        self._tops = tops
        self._content_height = y - GAP + MARGIN if self.pages else 0.0
        self._content_width = self._max_page_width() * self._zoom + 2 * MARGIN
        self._update_scrollbars()
        self._restore_anchor(anchor)
        self.viewport().update()
        self.viewportMoved.emit()

    def _update_scrollbars(self) -> None:
        viewport = self.viewport()
        vbar, hbar = self.verticalScrollBar(), self.horizontalScrollBar()
        vbar.setPageStep(viewport.height())
        vbar.setRange(0, max(0, int(self._content_height - viewport.height())))
        hbar.setPageStep(viewport.width())
        hbar.setRange(0, max(0, int(self._content_width - viewport.width())))

    def _anchor(self) -> tuple[int, float]:
        """Page at the top of the viewport and how far into it (0..1), to keep across relayouts."""
        if not self.pages or not self._tops:
            return 0, 0.0
        y = self.verticalScrollBar().value()
        page = self.page_at_y(y)
        height = self.pages[page].height * self._zoom
        return page, (y - self._tops[page]) / height if height else 0.0

    def _restore_anchor(self, anchor: tuple[int, float]) -> None:
        page, within = anchor
        if 0 <= page < len(self._tops):
            y = self._tops[page] + within * self.pages[page].height * self._zoom
            self.verticalScrollBar().setValue(round(y))

    def page_rect(self, index: int) -> QRectF:
        """The page's rectangle in content coordinates (logical pixels)."""
        page = self.pages[index]
        width, height = page.width * self._zoom, page.height * self._zoom
        x = max(MARGIN, (self._content_width - width) / 2)
        return QRectF(x, self._tops[index], width, height)

    def page_at_y(self, y: float) -> int:
        if not self._tops:
            return 0
        return max(0, min(len(self._tops) - 1, bisect.bisect_right(self._tops, y) - 1))

    def visible_pages(self) -> range:
        if not self.pages:
            return range(0)
        top = self.verticalScrollBar().value()
        first = self.page_at_y(top)
        last = self.page_at_y(top + self.viewport().height())
        return range(first, last + 1)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._relayout(self._anchor())

    # navigation -----------------------------------------------------------------------------------
    def current_page(self) -> int:
        """The page under the upper third of the viewport."""
        if not self.pages:
            return -1
        return self.page_at_y(self.verticalScrollBar().value() + self.viewport().height() / 3)

    def go_to_page(self, index: int) -> None:
        if self.pages:
            index = max(0, min(index, len(self.pages) - 1))
            self.verticalScrollBar().setValue(round(self._tops[index] - GAP / 2))

    def scroll_to_rect(self, index: int, rect: tuple[float, float, float, float]) -> None:
        """Bring a rectangle (points) on a page into the middle of the viewport."""
        if not 0 <= index < len(self.pages):
            return
        page = self.page_rect(index)
        y = page.top() + rect[1] * self._zoom
        self.verticalScrollBar().setValue(round(y - self.viewport().height() / 3))
        x = page.left() + rect[0] * self._zoom
        hbar = self.horizontalScrollBar()
        if not hbar.value() <= x <= hbar.value() + self.viewport().width() - 40:
            hbar.setValue(round(x - 40))

    def scroll_to_offset(self, offset: int) -> None:
        if not self.pages:
            return
        self.verticalScrollBar().setValue(round(self._y_of_offset(offset) - self.viewport().height() / 3))

    def page_of_offset(self, offset: int) -> int:
        if not self._starts:
            return 0
        return max(0, min(len(self._starts) - 1, bisect.bisect_right(self._starts, offset) - 1))

    def _y_of_offset(self, offset: int) -> float:
        index = self.page_of_offset(offset)
        page = self.pages[index]
        span = max(1, page.text_end - page.text_start)
        within = min(1.0, max(0.0, (offset - page.text_start) / span))
        return self._tops[index] + within * page.height * self._zoom

    def _on_scrolled(self) -> None:
        self.viewport().update()
        self.viewportMoved.emit()
        page = self.current_page()
        if page != self._current_page:
            self._current_page = page
            self.currentPageChanged.emit(page)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom_in() if event.angleDelta().y() > 0 else self.zoom_out()
            event.accept()
            return
        super().wheelEvent(event)

    # heat strip geometry (StripGeometry) ----------------------------------------------------------
    def fraction_of_offset(self, offset: int) -> float:
        if not self.pages or self._content_height <= 0:
            return 0.0
        return self._y_of_offset(offset) / self._content_height

    def offset_at_fraction(self, fraction: float) -> int:
        if not self.pages:
            return 0
        y = fraction * self._content_height
        index = self.page_at_y(y)
        page = self.pages[index]
        within = min(1.0, max(0.0, (y - self._tops[index]) / max(1.0, page.height * self._zoom)))
        return int(page.text_start + within * (page.text_end - page.text_start))

    def viewport_fractions(self) -> tuple[float, float]:
        if self._content_height <= 0:
            return 0.0, 0.0
        top = self.verticalScrollBar().value()
        bottom = top + self.viewport().height()
        return top / self._content_height, min(1.0, bottom / self._content_height)

    def location_label(self, offset: int) -> str:
        if not self.pages:
            return ""
        index = self.page_of_offset(offset)
        return f"Page {self.pages[index].label or index + 1} ({index + 1} of {len(self.pages)})"

    # highlights -----------------------------------------------------------------------------------
    def set_highlights(self, highlights: list[Highlight]) -> None:
        self.highlights = list(highlights)
        self._highlights = {}
        for highlight in self.highlights:
            for page, rect in highlight.rects:
                self._highlights.setdefault(page, []).append((highlight, rect))
        self.viewport().update()

    def clear_highlights(self) -> None:
        self.find_match = None
        self.selected = None
        self.set_highlights([])

    def highlights_on_page(self, index: int) -> list[Highlight]:
        return [h for h, _ in self._highlights.get(index, [])]

    def set_find_match(self, match: Highlight | None) -> None:
        self.find_match = match
        if match is not None and match.rects:
            self.scroll_to_rect(*match.rects[0])
        self.viewport().update()

    def show_highlight(self, highlight: Highlight, flash: bool = True) -> None:
        """Scroll to a highlight, select it and make it pulse."""
        self.selected = highlight
        if highlight.rects:
            self.scroll_to_rect(*highlight.rects[0])
        else:
            self.scroll_to_offset(highlight.start)
        if flash:
            self.flash.start(highlight)
        self.viewport().update()

    # rendering ------------------------------------------------------------------------------------
    def _render_scale(self) -> float:
        return round(self._zoom * self.devicePixelRatioF(), 3)

    def _request_visible(self, visible: range) -> None:
        scale = self._render_scale()
        first = max(0, visible.start - 1)
        last = min(len(self.pages), visible.stop + 1)
        wanted = {(i, scale) for i in range(first, last)}
        self.renderer.want(wanted)
        self._pending &= wanted
        for key in sorted(wanted, key=lambda k: (k[0] not in visible, k[0])):
            if key not in self.cache and key not in self._pending:
                self._pending.add(key)
                self.renderer.request(*key)

    def _on_rendered(self, index: int, scale: float, image: QImage) -> None:
        self._pending.discard((index, scale))
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(self.devicePixelRatioF())
        self.cache.put((index, scale), pixmap)
        if index in self.visible_pages():
            self.viewport().update()

    def is_rendered(self, index: int) -> bool:
        return (index, self._render_scale()) in self.cache

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self.viewport())
        painter.fillRect(self.viewport().rect(), self.palette().color(QPalette.ColorRole.Dark))
        visible = self.visible_pages()
        self._request_visible(visible)
        painter.translate(-self.horizontalScrollBar().value(), -self.verticalScrollBar().value())
        self.painted_highlights = {}
        for index in visible:
            self._paint_page(painter, index)
        painter.end()

    def _paint_page(self, painter: QPainter, index: int) -> None:
        target = self.page_rect(index)
        pixmap = self.cache.get((index, self._render_scale()))
        if pixmap is not None:
            painter.drawPixmap(target.topLeft(), pixmap)
        else:
            self._paint_placeholder(painter, index, target)
        self._paint_highlights(painter, index, target)

    def _paint_placeholder(self, painter: QPainter, index: int, target: QRectF) -> None:
        stale = self.cache.any_for(index)
        if stale is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawPixmap(target, stale, QRectF(stale.rect()))
            return
        painter.fillRect(target, QColor(255, 255, 255))
        painter.setPen(QColor(160, 160, 160))
        label = self.pages[index].label or str(index + 1)
        painter.drawText(target, Qt.AlignmentFlag.AlignCenter, f"Page {label}")

    def _map_rect(self, target: QRectF, rect: tuple[float, float, float, float]) -> QRectF:
        x0, y0, x1, y1 = rect
        z = self._zoom
        return QRectF(target.left() + x0 * z, target.top() + y0 * z, (x1 - x0) * z, (y1 - y0) * z)

    def _path(self, target: QRectF, index: int, highlight: Highlight) -> QPainterPath:
        """The union of a highlight's rectangles on one page (so overlapping line boxes fill once)."""
        path = QPainterPath()
        for page, rect in highlight.rects:
            if page == index:
                path.addRect(self._map_rect(target, rect))
        return path.simplified()

    def _paint_highlights(self, painter: QPainter, index: int, target: QRectF) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        entries = self._highlights.get(index, [])
        drawn: set[int] = set()
        for highlight, _ in entries:
            if id(highlight) not in drawn:
                drawn.add(id(highlight))
                painter.fillPath(self._path(target, index, highlight), highlight_color(highlight.score))
        self.painted_highlights[index] = len(drawn)
        if self.find_match is not None:
            painter.fillPath(self._path(target, index, self.find_match), FIND_COLOR)
        self._paint_outline(painter, index, target, self.selected, 1.5, 200)
        if self.flash.active:
            alpha = int(80 + 175 * self.flash.intensity())
            self._paint_outline(painter, index, target, self.flash.target, 3.0, alpha)

    def _paint_outline(
        self, painter: QPainter, index: int, target: QRectF, highlight: Highlight | None, width: float, alpha: int
    ) -> None:
        if highlight is None or not any(page == index for page, _ in highlight.rects):
            return
        painter.setPen(QPen(QColor(230, 81, 0, alpha), width))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        outline = QPainterPathStroker()
        outline.setWidth(4.0)
        painter.drawPath(outline.createStroke(self._path(target, index, highlight)).united(
            self._path(target, index, highlight)).simplified())
        painter.setPen(Qt.PenStyle.NoPen)

    def content_point(self, page: int, point: tuple[float, float]) -> QPointF:
        """Where a point on a page (in points) is in viewport coordinates (for tests and tooltips)."""
        target = self.page_rect(page)
        return QPointF(
            target.left() + point[0] * self._zoom - self.horizontalScrollBar().value(),
            target.top() + point[1] * self._zoom - self.verticalScrollBar().value(),
        )
