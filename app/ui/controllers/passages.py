"""The passages of the answer on screen: highlighted in the document, listed in the panel (best first or
in page order) and stepped through in the list's order (click, F3, Shift+F3), with the best evidence
sentence under the answer. Shared by fresh answers and answers from the history."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject

from app.retrieval.generation import reading_key
from app.retrieval.types import AnswerResult, Passage, WindowScore
from app.ui.answer_panel import AnswerPanel, PassageRow
from app.ui.document_area import DocumentArea
from app.ui.highlights import Highlight
from app.ui.workers.messages import Rects

Item = tuple[Passage, tuple]  # a passage and its (page, rectangle) pairs


class PassageNavigator(QObject):
    """`passages` and `highlights` are in the list's order: row i of the list is passage i."""

    def __init__(self, area: DocumentArea, panel: AnswerPanel, order: str = "score",
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.area, self.panel, self.order = area, panel, order
        self.document: Any = None
        self.passages: list[Passage] = []
        self.highlights: list[Highlight] = []
        self.index = -1
        self.best: Passage | None = None
        self._items: list[Item] = []
        self._windows: list[WindowScore] = []

    def show(self, document: Any, result: AnswerResult, rects: list[Rects], jump_to_best: bool = False) -> None:
        """List and highlight the result's passages, colour the heat strip with its windows and show the best
        evidence under the answer; with `jump_to_best` the view goes to it."""
        self.document, self._windows = document, list(result.windows)
        self._items = [(p, tuple(rects[i]) if i < len(rects) else ()) for i, p in enumerate(result.passages)]
        best = result.stats.get("best_passage")
        self.best = self._items[best][0] if isinstance(best, int) and 0 <= best < len(self._items) else None
        self._arrange()
        self.area.show_result(self._windows, self.passages, self.highlights)
        self._show_evidence()
        if jump_to_best:
            self.go_to_best()

    def set_order(self, order: str) -> None:
        """List the passages by score ("score") or in document order ("page"); the current one stays current."""
        if order == self.order:
            return
        self.order = order
        current = self.passages[self.index] if 0 <= self.index < len(self.passages) else None
        self._arrange()
        self.area.view.set_highlights(self.highlights)
        if current is not None:
            self.go_to(self._row_of(current), flash=False)

    def clear(self) -> None:
        self.passages, self.highlights, self.index, self.best, self._items = [], [], -1, None, []
        self.panel.clear_evidence()

    def go_to(self, index: int, flash: bool = True) -> None:
        if not 0 <= index < len(self.highlights):
            return
        self.index = index
        if flash:
            self.area.show_highlight(self.highlights[index])
        else:
            self.area.view.show_highlight(self.highlights[index], flash=False)
            self.area.strip.update_viewport()
        self.panel.select_passage(index)

    def go_to_best(self) -> None:
        if self.best is not None:
            self.go_to(self._row_of(self.best))

    def next(self) -> None:
        if self.highlights:
            self.go_to((self.index + 1) % len(self.highlights))

    def previous(self) -> None:
        if self.highlights:
            self.go_to((self.index - 1) % len(self.highlights))

    # internals ------------------------------------------------------------------------------------
    def _arrange(self) -> None:
        ordered = sorted(self._items, key=self._sort_key)  # stable: equal scores stay in document order
        self.passages = [p for p, _ in ordered]
        self.highlights = [Highlight(p.start, p.end, p.score, i, rects) for i, (p, rects) in enumerate(ordered)]
        self.index = -1
        rows = [PassageRow(self._location(p.start), p.score, p.text, p.kept_by) for p in self.passages]
        self.panel.set_passages(rows)

    def _sort_key(self, item: Item) -> tuple[bool, float, int]:
        """Page order, or by score with the passages that say something before fragments ("I", "shift [n]")."""
        passage = item[0]
        return (False, passage.start, 0) if self.order == "page" else reading_key(passage)

    def _row_of(self, passage: Passage) -> int:
        return next(i for i, p in enumerate(self.passages) if p is passage)

    def _show_evidence(self) -> None:
        if self.best is None:
            self.panel.clear_evidence()
        else:
            self.panel.show_evidence(self._location(self.best.start), self.best.text)

    def _location(self, offset: int) -> str:
        document = self.document
        if document is not None and document.kind == "pdf":
            page = document.page_at(offset)
            return f"p. {document.page_label(page)}" if page is not None else ""
        return self.area.text_view.location_label(offset).split(" of ")[0]
