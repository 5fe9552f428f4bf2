"""The per-document question history (SQLite, no Qt)."""

from __future__ import annotations

import sqlite3

from app.history import HistoryStore, document_key
from app.retrieval.types import AnswerResult, Passage, WindowScore


def result(answer: str = "Box 4 is violet.") -> AnswerResult:
    passages = [Passage(10, 40, 0.87654321, "The colour of box 4 is violet."), Passage(90, 99, 0.2, "Ünïcode ✓")]
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
