"""The per-document question history (SQLite, no Qt)."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest

from app.history import HistoryStore, document_key, open_history
from app.retrieval.types import AnswerResult, Passage, WindowScore


def result(answer: str = "Box 4 is violet.") -> AnswerResult:
    passages = [Passage(10, 40, 0.87654321, "The colour of box 4 is violet."), Passage(90, 99, 0.2, "Ünïcode ✓", "meaning")]
    windows = [WindowScore(0, 0, 50, 0.9), WindowScore(1, 50, 120, 0.1)]
    return AnswerResult(answer, passages, windows, {"model": "m"})


def test_round_trip_keeps_passages_windows_and_order(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite3")
    first = store.add("doc-a", tmp_path / "a.pdf", "What colour is box 4?", result(), "SmolLM2")
    second = store.add("doc-a", tmp_path / "a.pdf", "And box 5?", result("Teal."), "SmolLM2")
    store.add("doc-b", tmp_path / "b.pdf", "Other document", result(), "SmolLM2")

    entries = store.entries("doc-a")
    assert [e.id for e in entries] == [second.id, first.id]  # newest first
    entry = entries[1]
    assert entry.question == "What colour is box 4?" and entry.answer == "Box 4 is violet."
    assert entry.passages[0].text == "The colour of box 4 is violet." and entry.passages[1].text == "Ünïcode ✓"
    assert abs(entry.passages[0].score - 0.87654) < 1e-5
    assert entry.windows == result().windows
    assert entry.model == "SmolLM2" and entry.created > 0
    assert entry.to_result().passages == entry.passages
    assert [p.kept_by for p in entry.passages] == ["loop", "meaning"]


def test_passages_saved_before_kept_by_existed_still_load(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite3")
    store.add("doc-a", tmp_path / "a.pdf", "Q?", result(), "SmolLM2")
    with contextlib.closing(sqlite3.connect(tmp_path / "h.sqlite3")) as db, db:
        db.execute("UPDATE answers SET passages = ?", ('[[10, 40, 0.5, "The colour of box 4 is violet."]]',))
    assert HistoryStore(tmp_path / "h.sqlite3").entries("doc-a")[0].passages == [
        Passage(10, 40, 0.5, "The colour of box 4 is violet.", "loop")
    ]


def test_entries_survive_a_new_store_and_delete_clear(tmp_path):
    path = tmp_path / "deep" / "folder" / "h.sqlite3"
    entry = HistoryStore(path).add("k", "f.txt", "q", result(), "m")
    again = HistoryStore(path)
    assert [e.question for e in again.entries("k")] == ["q"]
    again.delete(entry.id)
    assert again.entries("k") == []
    again.add("k", "f.txt", "q2", result(), "m")
    again.clear("k")
    assert again.entries("k") == []
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM answers").fetchone() == (0,)


def test_document_key_follows_content_not_name(tmp_path):
    a, b, c = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "c.txt"
    a.write_bytes(b"same content" * 100_000)
    b.write_bytes(b"same content" * 100_000)
    c.write_bytes(b"same content" * 99_999 + b"Same content")
    assert document_key(a) == document_key(b)
    assert document_key(a) != document_key(c)
    assert len(document_key(a)) == 32


def test_default_location_is_the_user_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    store = HistoryStore()
    assert store.path.is_relative_to(tmp_path / "data")
    assert store.path.exists()


def test_a_damaged_database_is_moved_aside(tmp_path):
    path = tmp_path / "history.sqlite3"
    HistoryStore(path).add("k", "f.txt", "q", result(), "m")
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the header survives, the first page does not
    path.write_bytes(bytes(data))
    store, notice = open_history(path)
    assert "damaged" in notice and "new, empty history" in notice
    (aside,) = tmp_path.glob("history.sqlite3.damaged-*")
    assert aside.read_bytes() == bytes(data), "the damaged file is kept for the person, untouched"
    assert store.entries("k") == []
    store.add("k", "f.txt", "again", result(), "m")
    assert [e.question for e in store.entries("k")] == ["again"]


def test_garbage_instead_of_a_database(tmp_path):
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"not sqlite at all " * 100)
    store, notice = open_history(path)
    assert notice and not store.in_memory and store.entries("k") == []


def test_an_unwritable_place_gives_a_history_in_memory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store, notice = open_history(blocker / "history.sqlite3")
    assert store.in_memory and "cannot be saved" in notice
    store.add("k", "f.txt", "q", result(), "m")
    assert [e.question for e in store.entries("k")] == ["q"]  # kept across the store's connections
    other, _ = open_history(blocker / "history.sqlite3")
    assert other.entries("k") == [], "each store in memory is its own"


@contextlib.contextmanager
def unprivileged():
    """Run as the user `nobody` (as root), so that file permissions apply."""
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)


def test_a_read_only_database_still_shows_its_history():
    root = Path(tempfile.mkdtemp())  # not under pytest's private folder, which `nobody` cannot enter
    root.chmod(0o755)
    folder = root / "data"
    folder.mkdir()
    path = folder / "history.sqlite3"
    HistoryStore(path).add("k", "f.txt", "q", result(), "m")
    path.chmod(0o444)
    folder.chmod(0o555)
    try:
        with unprivileged():
            store, notice = open_history(path)
            assert notice == "" and [e.question for e in store.entries("k")] == ["q"]
            with pytest.raises(sqlite3.OperationalError):
                store.add("k", "f.txt", "q2", result(), "m")
            with pytest.raises(sqlite3.OperationalError):
                store.delete(1)
    finally:
        folder.chmod(0o755)
        shutil.rmtree(root)
