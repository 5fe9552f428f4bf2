"""Read-only view of a plain-text document, with passages and find matches as extra selections.

Its public methods take and give offsets into the document's Python text; Qt's positions count UTF-16
units and are converted at the boundary (see app.ui.utf16). A long text is put in a megabyte at a time,
between events, so that showing a 100 MB file never freezes the window.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontDatabase, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QWidget

from app.ui.colors import FIND_COLOR, highlight_color
from app.ui.highlights import Flash, Highlight
from app.ui.utf16 import Utf16Positions

FILL_CHUNK_CHARS = 1 << 20  # characters put into the view per turn of the event loop


class TextView(QPlainTextEdit):
    filled = Signal()  # the whole text is in the view

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.document().setUndoRedoEnabled(False)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.setFont(font)
        self.highlights: list[Highlight] = []
        self.find_match: Highlight | None = None
        self.selected: Highlight | None = None
        self.flash = Flash(self)
        self.flash.tick.connect(self._refresh)
        self.positions = Utf16Positions()
        self._pending = ""  # the text still to be put into the view
        self._fill_timer = QTimer(self)
        self._fill_timer.setInterval(0)
        self._fill_timer.timeout.connect(self._fill_more)

    def set_text(self, text: str) -> None:
        """Show `text`: the first megabyte at once, the rest in the following turns of the event loop."""
        self._fill_timer.stop()
        self.clear_highlights()
        self.positions = Utf16Positions(text)
        self.setPlainText(text[:FILL_CHUNK_CHARS])
        self._pending = text[FILL_CHUNK_CHARS:]
        if self._pending:
            self._fill_timer.start()
        else:
            self.filled.emit()

    @property
    def is_filled(self) -> bool:
        return not self._pending

    def _fill_more(self) -> None:
        chunk, self._pending = self._pending[:FILL_CHUNK_CHARS], self._pending[FILL_CHUNK_CHARS:]
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(chunk)
        if self._pending:
            return
        self._fill_timer.stop()
        self._refresh()  # highlights beyond what was there before
        if self.selected is not None:
            self._reveal(self.selected.start, self.selected.end)
        self.filled.emit()

    def _position(self, offset: int) -> int:
        """The Qt position of a text offset, clamped to the document."""
        return max(0, min(self.positions.to_qt(offset), self.document().characterCount() - 1))

    def cursor_offset(self) -> int:
        """The text offset of the text cursor."""
        return self.positions.from_qt(self.textCursor().position())

    # highlights -----------------------------------------------------------------------------------
    def set_highlights(self, highlights: list[Highlight]) -> None:
        self.highlights = list(highlights)
        self._refresh()

    def clear_highlights(self) -> None:
        self.find_match, self.selected = None, None
        self.set_highlights([])

    def set_find_match(self, match: Highlight | None) -> None:
        self.find_match = match
        if match is not None:
            self._reveal(match.start, match.end)
        self._refresh()

    def show_highlight(self, highlight: Highlight, flash: bool = True) -> None:
        self.selected = highlight
        self._reveal(highlight.start, highlight.end)
        if flash:
            self.flash.start(highlight)
        self._refresh()

    def _selection(self, start: int, end: int, color: QColor, outline: bool = False) -> QTextEdit.ExtraSelection:
        selection = QTextEdit.ExtraSelection()
        cursor = QTextCursor(self.document())
        cursor.setPosition(self._position(start))
        cursor.setPosition(self._position(end), QTextCursor.MoveMode.KeepAnchor)
        fmt = QTextCharFormat()
        fmt.setBackground(color)
        if outline:
            fmt.setFontUnderline(True)
            fmt.setUnderlineColor(QColor(230, 81, 0))
        selection.cursor, selection.format = cursor, fmt
        return selection

    def _refresh(self) -> None:
        selections = [self._selection(h.start, h.end, highlight_color(h.score, 90)) for h in self.highlights]
        if self.selected is not None:
            selections.append(self._selection(self.selected.start, self.selected.end, highlight_color(1.0, 150), True))
        if self.flash.active and self.flash.target is not None:
            alpha = int(60 + 180 * self.flash.intensity())
            target = self.flash.target
            selections.append(self._selection(target.start, target.end, QColor(255, 112, 67, alpha)))
        if self.find_match is not None:
            selections.append(self._selection(self.find_match.start, self.find_match.end, FIND_COLOR))
        self.setExtraSelections(selections)

    def _reveal(self, start: int, end: int) -> None:
        cursor = QTextCursor(self.document())
        cursor.setPosition(self._position(start))
        self.setTextCursor(cursor)
        self.centerCursor()

    # navigation and heat strip geometry -----------------------------------------------------------
    def scroll_to_offset(self, offset: int) -> None:
        self._reveal(offset, offset)

    def _block_count(self) -> int:
        return max(1, self.document().blockCount())

    def fraction_of_offset(self, offset: int) -> float:
        return self._fraction_of_position(self.positions.to_qt(max(0, offset)))

    def _fraction_of_position(self, position: int) -> float:
        block = self.document().findBlock(max(0, position))
        if not block.isValid():
            return 1.0
        within = (position - block.position()) / max(1, block.length())
        return (block.blockNumber() + min(1.0, within)) / self._block_count()

    def offset_at_fraction(self, fraction: float) -> int:
        count = self._block_count()
        exact = min(max(fraction, 0.0), 1.0) * count
        block = self.document().findBlockByNumber(min(count - 1, int(exact)))
        return self.positions.from_qt(block.position() + int((exact - int(exact)) * max(0, block.length() - 1)))

    def viewport_fractions(self) -> tuple[float, float]:
        top = self.cursorForPosition(self.viewport().rect().topLeft()).position()
        bottom = self.cursorForPosition(self.viewport().rect().bottomRight()).position()
        return self._fraction_of_position(top), self._fraction_of_position(bottom)

    def location_label(self, offset: int) -> str:
        block = self.document().findBlock(self.positions.to_qt(max(0, offset)))
        return f"Line {block.blockNumber() + 1:,} of {self._block_count():,}"
