"""The toolbar's page box: shows the current page's label, takes a label ('iv', 'A-3') or a number."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit

from app.ui.page_view import PageView


class PageJump:
    """A line edit and an 'of N' label that follow and steer a page view."""

    def __init__(self, view: PageView) -> None:
        self.view = view
        self.box = QLineEdit()
        self.box.setMaximumWidth(64)
        self.box.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.box.setToolTip("Page (type a page label or number, Ctrl+G)")
        self.count_label = QLabel()
        self.box.returnPressed.connect(self._entered)
        view.currentPageChanged.connect(self.show_page)

    def clear(self) -> None:
        self.box.clear()
        self.count_label.clear()

    def set_count(self, pages: int) -> None:
        self.count_label.setText(f" of {pages:,} " if pages else "")

    def show_page(self, index: int) -> None:
        """Follow the view, unless the person is typing in the box."""
        if 0 <= index < self.view.page_count and not self.box.hasFocus():
            self.box.setText(self.view.pages[index].label or str(index + 1))

    def focus(self) -> None:
        self.box.setFocus()
        self.box.selectAll()

    def index_for(self, text: str) -> int | None:
        """A page label ('iv', 'A-3') or a 1-based page number, as a page index."""
        text = text.strip()
        pages = self.view.pages
        for i, page in enumerate(pages):
            if page.label and page.label == text:
                return i
        if text.isdigit() and 1 <= int(text) <= len(pages):
            return int(text) - 1
        return None

    def _entered(self) -> None:
        index = self.index_for(self.box.text())
        if index is not None:
            self.view.go_to_page(index)
        self.view.setFocus()
