"""Per-document question history, kept in SQLite in the user's data folder. No Qt.

A document is keyed by a hash of its content (so a renamed or moved file keeps its history and an
edited file starts a fresh one). Each entry keeps the question, the answer, the retained passages and
the window scores (so the heat strip comes back too), the model name and a timestamp.

Connections are opened per call: the store is cheap to use from any thread and never holds the file
open between calls. `open_history` never fails: a damaged file is moved aside and a fresh one started,
and where nothing can be written the history lives in memory for the session.
"""

from __future__ import annotations

import itertools
import json
import os
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
    """`history.sqlite3` in the user's data folder (not created here)."""
    from app.paths import data_dir

    return data_dir(create=False) / "history.sqlite3"


_memory_names = itertools.count(1)


class HistoryStore:
    """Question history for all documents in one SQLite file (or in memory, with `in_memory=True`).

    Raises sqlite3.Error or OSError when the file cannot be opened or is damaged; see `open_history`.
    """

    def __init__(self, path: str | Path | None = None, in_memory: bool = False) -> None:
        self._keeper: sqlite3.Connection | None = None
        if in_memory:  # a shared in-memory database lives while one connection to it is open
            self.path = Path(f"file:infiniretri-history-{os.getpid()}-{next(_memory_names)}?mode=memory&cache=shared")
            self._keeper = sqlite3.connect(str(self.path), uri=True, check_same_thread=False)
        else:
            self.path = Path(path) if path is not None else default_history_path()
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(_SCHEMA)
            (verdict,) = db.execute("PRAGMA quick_check").fetchone()
        if verdict != "ok":
            raise sqlite3.DatabaseError(f"the history database is damaged ({verdict})")

    @property
    def in_memory(self) -> bool:
        return self._keeper is not None

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if self._keeper is not None:
            db = sqlite3.connect(str(self.path), uri=True, timeout=5.0)
        else:
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


def open_history(path: str | Path | None = None) -> tuple[HistoryStore, str]:
    """The history store and a notice for the person ('' when all is well); never raises.

    A damaged database is renamed `<name>.damaged-<time>` and a fresh one started in its place; a
    location that cannot be written (read-only folder, no permission, locked) gives a history kept in
    memory for this session.
    """
    target = Path(path) if path is not None else None
    try:
        return HistoryStore(target), ""
    except sqlite3.OperationalError as exc:  # cannot open or write: not the file's fault
        return HistoryStore(in_memory=True), _memory_notice(target, exc)
    except sqlite3.DatabaseError as exc:  # the file is not a database or is damaged
        damaged = target or default_history_path()
        try:
            aside = move_aside(damaged)
            return HistoryStore(target), (
                f"The question history was damaged ({exc}). It was moved to {aside.name} and a new, "
                "empty history was started."
            )
        except (OSError, sqlite3.Error) as again:
            return HistoryStore(in_memory=True), _memory_notice(target, again)
    except OSError as exc:
        return HistoryStore(in_memory=True), _memory_notice(target, exc)


def move_aside(path: Path) -> Path:
    """Rename a damaged database (and its journal files) out of the way; returns the new name."""
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    path.rename(aside)
    for suffix in ("-journal", "-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            companion.rename(aside.with_name(aside.name + suffix))
    return aside


def _memory_notice(path: Path | None, exc: BaseException) -> str:
    where = path or default_history_path()
    return (
        f"The question history cannot be saved in {where} ({exc}). Answers are kept until you quit, "
        "but not after."
    )


def _dump_passages(passages: list[Passage]) -> str:
    return json.dumps([[p.start, p.end, round(p.score, 5), p.text, p.kept_by] for p in passages], ensure_ascii=False)


def _dump_windows(windows: list[WindowScore]) -> str:
    return json.dumps([[w.index, w.start, w.end, round(w.score, 5)] for w in windows])


def _entry_from_row(row: tuple) -> HistoryEntry:
    entry_id, doc_key, question, answer, passages, windows, model, created = row
    return HistoryEntry(
        id=int(entry_id),
        doc_key=doc_key,
        question=question,
        answer=answer,
        passages=[Passage(int(s), int(e), float(sc), t, *kept_by) for s, e, sc, t, *kept_by in json.loads(passages)],
        windows=[WindowScore(int(i), int(s), int(e), float(sc)) for i, s, e, sc in json.loads(windows)],
        model=model,
        created=float(created),
    )
