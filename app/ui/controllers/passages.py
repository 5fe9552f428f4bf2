"""The passages of the answer on screen: highlighted in the document, listed in the panel, and stepped
through (click, F3, Shift+F3). Shared by fresh answers and answers from the history."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject

from app.retrieval.types import AnswerResult, Passage
from app.ui.answer_panel import AnswerPanel, PassageRow
from app.ui.document_area import DocumentArea
from app.ui.highlights import Highlight
from app.ui.workers.messages import Rects


class PassageNavigator(QObject):
    def __init__(self, area: DocumentArea, panel: AnswerPanel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.area, self.panel = area, panel
        self.passages: list[Passage] = []
        self.highlights: list[Highlight] = []
        self.index = -1

    def show(self, document: Any, result: AnswerResult, rects: list[Rects]) -> None:
        """List and highlight the result's passages, and colour the heat strip with its windows."""
        self.passages = list(result.passages)
        self.highlights = [
            Highlight(p.start, p.end, p.score, i, tuple(rects[i]) if i < len(rects) else ())
            for i, p in enumerate(self.passages)
        ]
        self.index = -1
        self.panel.set_passages([PassageRow(self._location(document, p.start), p.score, p.text) for p in self.passages])
        self.area.show_result(result.windows, result.passages, self.highlights)

    def clear(self) -> None:
        self.passages, self.highlights, self.index = [], [], -1

    def go_to(self, index: int) -> None:
        if not 0 <= index < len(self.highlights):
            return
        self.index = index
        self.area.show_highlight(self.highlights[index])
        self.panel.select_passage(index)

    def next(self) -> None:
        if self.highlights:
            self.go_to((self.index + 1) % len(self.highlights))

    def previous(self) -> None:
        if self.highlights:
            self.go_to((self.index - 1) % len(self.highlights))

    def _location(self, document: Any, offset: int) -> str:
        if document is not None and document.kind == "pdf":
            page = document.page_at(offset)
            return f"p. {document.page_label(page)}" if page is not None else ""
        return self.area.text_view.location_label(offset).split(" of ")[0]
