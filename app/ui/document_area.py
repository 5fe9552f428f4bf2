"""The document side of the window: the page view or text view, the heat strip beside it, a find bar."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.retrieval.types import Passage, WindowScore
from app.ui.heat_strip import HeatStrip
from app.ui.highlights import Highlight
from app.ui.icons import icon
from app.ui.page_view import PageBox, PageView
from app.ui.text_view import TextView


def _last_match(pattern: re.Pattern[str], text: str, before: int) -> tuple[int, int] | None:
    """The last match that starts before `before`."""
    last = None
    for match in pattern.finditer(text, 0, len(text)):
        if match.start() >= before:
            break
        last = match.span()
    return last


def page_boxes(document: Any) -> list[PageBox]:
    return [PageBox(p.width, p.height, p.label, p.text_start, p.text_end) for p in document.pages]


class FindBar(QWidget):
    """Ctrl+F bar: type, Enter for next, Shift+Enter for previous, Esc closes."""

    findRequested = Signal(str, bool)  # text, forward
    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QLineEdit(placeholderText="Find in document")
        self.edit.setClearButtonEnabled(True)
        self.status = QLabel()
        previous, following, close = QToolButton(), QToolButton(), QToolButton()
        for button, name, tip in ((previous, "previous", "Previous match"), (following, "next", "Next match"),
                                  (close, "close", "Close")):
            button.setIcon(icon(name))
            button.setToolTip(tip)
            button.setAutoRaise(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        for widget in (self.edit, previous, following, self.status, close):
            layout.addWidget(widget)
        self.edit.returnPressed.connect(lambda: self.findRequested.emit(self.edit.text(), True))
        self.edit.installEventFilter(self)
        previous.clicked.connect(lambda: self.findRequested.emit(self.edit.text(), False))
        following.clicked.connect(lambda: self.findRequested.emit(self.edit.text(), True))
        close.clicked.connect(self.close_bar)
        QShortcut(QKeySequence("Shift+Return"), self.edit, lambda: self.findRequested.emit(self.edit.text(), False))

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt override
        # Esc closes the bar (when no job runs, the window's Esc action is disabled and the key lands here)
        if watched is self.edit and event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Escape:
            self.close_bar()
            return True
        return super().eventFilter(watched, event)

    def open_bar(self) -> None:
        self.show()
        self.edit.setFocus()
        self.edit.selectAll()

    def close_bar(self) -> None:
        self.hide()
        self.closed.emit()


class DocumentArea(QWidget):
    currentPageChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document: Any = None
        self.page_view = PageView()
        self.text_view = TextView()
        self.strip = HeatStrip()
        self.find_bar = FindBar()
        self.find_bar.hide()
        self._find_pattern: re.Pattern[str] | None = None
        self._find_position = 0
        self.empty = QLabel("Open a PDF or text file (Ctrl+O), or drop one here.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.stack = QStackedWidget()
        for widget in (self.empty, self.page_view, self.text_view):
            self.stack.addWidget(widget)
        self._build_layout()
        self._connect()

    def _build_layout(self) -> None:
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        row.addWidget(self.stack, 1)
        row.addWidget(self.strip)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addLayout(row, 1)
        column.addWidget(self.find_bar)

    def _connect(self) -> None:
        self.page_view.viewportMoved.connect(self.strip.update_viewport)
        self.page_view.currentPageChanged.connect(self.currentPageChanged)
        self.text_view.verticalScrollBar().valueChanged.connect(self.strip.update_viewport)
        self.text_view.filled.connect(self.strip.invalidate)
        self.strip.jumpRequested.connect(self.scroll_to_offset)
        self.find_bar.findRequested.connect(self.find)
        self.find_bar.closed.connect(lambda: self.view.set_find_match(None))

    # which view -----------------------------------------------------------------------------------
    @property
    def view(self) -> PageView | TextView:
        return self.text_view if self.stack.currentWidget() is self.text_view else self.page_view

    @property
    def is_pdf(self) -> bool:
        return self.stack.currentWidget() is self.page_view

    def show_message(self, message: str) -> None:
        self.document = None
        self.empty.setText(message)
        self.stack.setCurrentWidget(self.empty)
        self.strip.clear()
        self.strip.set_geometry(None)

    def preview_pdf(self, path: Path, page_count: int, password: str | None = None) -> None:
        """Show the pages before the text is extracted (first page at once)."""
        self.document = None
        self.stack.setCurrentWidget(self.page_view)
        self.page_view.preview_pdf(path, page_count, password)
        self.strip.clear()
        self.strip.set_geometry(self.page_view)

    def show_document(self, document: Any, password: str | None = None) -> None:
        self.document = document
        self._find_pattern, self._find_position = None, 0
        self.strip.clear()
        if document.kind == "pdf":
            self._show_pdf(document, password)
        else:
            self.page_view.close_document()
            self.stack.setCurrentWidget(self.text_view)
            self.text_view.set_text(document.text)
            self.strip.set_geometry(self.text_view)

    def _show_pdf(self, document: Any, password: str | None) -> None:
        boxes = page_boxes(document)
        path = Path(document.path)
        if self.stack.currentWidget() is self.page_view and self.page_view.path == path:
            self.page_view.set_pages(boxes)
        else:
            self.stack.setCurrentWidget(self.page_view)
            self.page_view.open_pdf(path, boxes, password)
        self.page_view.clear_highlights()
        self.strip.set_geometry(self.page_view)

    def shutdown(self) -> None:
        """Stop background rendering without waiting (see `wait_for_renderer`)."""
        self.page_view.shutdown()

    def wait_for_renderer(self, timeout_ms: int) -> bool:
        return self.page_view.wait_for_renderer(timeout_ms)

    # results --------------------------------------------------------------------------------------
    def begin_run(self, expected_windows: int = 0) -> None:
        self.strip.begin_run(expected_windows)
        self.view.set_highlights([])

    def add_window(self, window: WindowScore, total: int) -> None:
        self.strip.set_expected(total)
        self.strip.add_window(window)

    def show_result(self, windows: list[WindowScore], passages: list[Passage], highlights: list[Highlight]) -> None:
        self.strip.set_result(windows, passages)
        self.view.set_highlights(highlights)

    def show_highlight(self, highlight: Highlight) -> None:
        self.view.show_highlight(highlight)
        self.strip.update_viewport()

    def scroll_to_offset(self, offset: int) -> None:
        self.view.scroll_to_offset(offset)
        self.strip.update_viewport()

    # find -----------------------------------------------------------------------------------------
    def open_find(self) -> None:
        self.find_bar.open_bar()

    def find(self, needle: str, forward: bool = True) -> Highlight | None:
        """Case-insensitive search of the document text from the last match; wraps around.

        The text itself is searched (not a lower-cased copy, which can differ in length), so the
        match's offsets are offsets into the document text.
        """
        if self.document is None or not needle:
            return None
        if self._find_pattern is None or self._find_pattern.pattern != re.escape(needle):
            self._find_pattern = re.compile(re.escape(needle), re.IGNORECASE)
        found = self._search(self._find_pattern, forward)
        if found is None:
            self.find_bar.status.setText("Not found")
            self.view.set_find_match(None)
            return None
        index, end = found
        self._find_position = index
        rects = tuple(self.document.rects_for(index, end)) if self.document.kind == "pdf" else ()
        match = Highlight(index, end, 1.0, -1, rects)
        self.view.set_find_match(match)
        if not rects and self.is_pdf:
            self.view.scroll_to_offset(index)
        self.find_bar.status.setText(self._describe_match(index))
        self.strip.update_viewport()
        return match

    def _search(self, pattern: re.Pattern[str], forward: bool) -> tuple[int, int] | None:
        text = self.document.text
        if forward:
            start = self._find_position + 1 if self.view.find_match is not None else self._find_position
            match = pattern.search(text, start) or pattern.search(text)
            return match.span() if match else None
        last = _last_match(pattern, text, max(0, self._find_position)) or _last_match(pattern, text, len(text))
        return last

    def _describe_match(self, offset: int) -> str:
        if self.document is not None and self.document.kind == "pdf":
            page = self.document.page_at(offset)
            return f"Page {self.document.page_label(page)}" if page is not None else ""
        return self.text_view.location_label(offset)
