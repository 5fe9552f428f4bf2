"""Per-document question history, kept in SQLite in the user's data folder. No Qt.

A document is keyed by a hash of its content (so a renamed or moved file keeps its history and an
edited file starts a fresh one). Each entry keeps the question, the answer, the retained passages and
the window scores (so the heat strip comes back too), the model name and a timestamp.

Connections are opened per call: the store is cheap to use from any thread and never holds the file
open between calls.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from app.hashing import file_hash
from app.retrieval.types import AnswerResult, Passage, WindowScore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_key   TEXT NOT NULL,
    doc_path  TEXT NOT NULL,
    question  TEXT NOT NULL,
    answer    TEXT NOT NULL,
    passages  TEXT NOT NULL,
    windows   TEXT NOT NULL,
    model     TEXT NOT NULL,
    created   REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_by_doc ON answers (doc_key, created);
"""


def document_key(path: str | Path) -> str:
    """A content hash of the file (BLAKE2b, 128 bits, hex)."""
    return file_hash(path, digest_size=16)


@dataclass(frozen=True)
class HistoryEntry:
    """One past question about a document, with everything needed to show it again."""

    id: int
    doc_key: str
    question: str
    answer: str
    passages: list[Passage] = field(default_factory=list)
    windows: list[WindowScore] = field(default_factory=list)
    model: str = ""
    created: float = 0.0

    def to_result(self) -> AnswerResult:
        return AnswerResult(self.answer, list(self.passages), list(self.windows), {"model": self.model})


def default_history_path() -> Path:
    from app.paths import data_dir

    return data_dir() / "history.sqlite3"


class HistoryStore:
    """Question history for all documents in one SQLite file."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_history_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=5.0)
        try:
            with db:
                yield db
        finally:
            db.close()

    def add(self, doc_key: str, doc_path: str | Path, question: str, result: AnswerResult, model: str) -> HistoryEntry:
        created = time.time()
        row = (
            doc_key,
            str(doc_path),
            question,
            result.answer,
            _dump_passages(result.passages),
            _dump_windows(result.windows),
            model,
            created,
        )
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO answers (doc_key, doc_path, question, answer, passages, windows, model, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            entry_id = int(cursor.lastrowid or 0)
        return HistoryEntry(
            entry_id, doc_key, question, result.answer, list(result.passages), list(result.windows), model, created
        )

    def entries(self, doc_key: str) -> list[HistoryEntry]:
        """Past questions about a document, newest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, doc_key, question, answer, passages, windows, model, created FROM answers"
                " WHERE doc_key = ? ORDER BY created DESC, id DESC",
                (doc_key,),
            ).fetchall()
        return [_entry_from_row(row) for row in rows]

    def delete(self, entry_id: int) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM answers WHERE id = ?", (entry_id,))

    def clear(self, doc_key: str) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM answers WHERE doc_key = ?", (doc_key,))


def _dump_passages(passages: list[Passage]) -> str:
    return json.dumps([[p.start, p.end, round(p.score, 5), p.text] for p in passages], ensure_ascii=False)


def _dump_windows(windows: list[WindowScore]) -> str:
    return json.dumps([[w.index, w.start, w.end, round(w.score, 5)] for w in windows])


def _entry_from_row(row: tuple) -> HistoryEntry:
    entry_id, doc_key, question, answer, passages, windows, model, created = row
    return HistoryEntry(
        id=int(entry_id),
        doc_key=doc_key,
        question=question,
        answer=answer,
        passages=[Passage(int(s), int(e), float(sc), t) for s, e, sc, t in json.loads(passages)],
        windows=[WindowScore(int(i), int(s), int(e), float(sc)) for i, s, e, sc in json.loads(windows)],
        model=model,
        created=float(created),
    )
