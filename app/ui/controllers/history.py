"""The question history of the open document: saved after each answer, listed in the panel, shown
again on a click, deleted from its context menu. A history that cannot be read or written never
stops the app: the problem is said once and the session goes on."""

from __future__ import annotations

import sqlite3

from PySide6.QtCore import QObject, Signal

from app.history import HistoryEntry, HistoryStore
from app.ui.answer_panel import AnswerPanel
from app.ui.controllers.documents import OpenDocument
from app.ui.status_bar import StatusPanel
from app.ui.workers import AskOutcome

STORE_ERRORS = (sqlite3.Error, OSError)


class HistoryController(QObject):
    problem = Signal(str)  # a notice for the person; each kind of problem is said once a session

    def __init__(
        self, store: HistoryStore, panel: AnswerPanel, status: StatusPanel, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.store, self.panel, self.status = store, panel, status
        self.entries: list[HistoryEntry] = []
        self.doc_key = ""
        self._said: set[str] = set()

    def tell_once(self, kind: str, notice: str) -> None:
        """Show `notice` in the status bar, and in a dialog the first time this kind of problem occurs."""
        self.status.show_message(notice)
        if kind not in self._said:
            self._said.add(kind)
            self.problem.emit(notice)

    def show_for(self, doc_key: str) -> None:
        """List the past questions about this document (none for '')."""
        self.doc_key = doc_key
        try:
            self.entries = self.store.entries(doc_key) if doc_key else []
        except STORE_ERRORS as exc:
            self.entries = []
            self.tell_once("read", f"The question history could not be read: {exc}")
        self.panel.set_history(self.entries)

    def remember(self, document: OpenDocument, outcome: AskOutcome) -> None:
        """Save an answer; a full disk or read-only history loses nothing on screen."""
        try:
            self.store.add(document.key, document.path, outcome.question, outcome.result, outcome.model_name)
        except STORE_ERRORS as exc:
            self.tell_once("write", f"The answer could not be saved in the question history: {exc}")
        self.show_for(document.key)

    def delete(self, entry_id: int) -> None:
        try:
            self.store.delete(entry_id)
        except STORE_ERRORS as exc:
            self.tell_once("delete", f"The history entry could not be deleted: {exc}")
        self.show_for(self.doc_key)

    def entry(self, entry_id: int) -> HistoryEntry | None:
        return next((e for e in self.entries if e.id == entry_id), None)
