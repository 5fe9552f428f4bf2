"""Text files: encodings, newlines, binary and unreadable input, and offset round trips."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.documents import (
    EmptyDocumentError,
    UnreadableFileError,
    UnsupportedFileError,
    load_document,
    probe_document,
)
from app.documents import cache as doc_cache
from app.documents.text_loader import decode_text
from tests.documents_fixtures import unprivileged


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setattr(doc_cache, "default_dir", lambda: directory)
    return directory


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_utf8_text_with_crlf_is_normalised(tmp_path: Path) -> None:
    path = _write(tmp_path, "notes.txt", "Première ligne.\r\nDeuxième ligne.\r\n\r\nFin.\r".encode())
    doc = load_document(path)
    assert doc.kind == "text" and doc.pages == [] and doc.page_at(3) is None and doc.rects_for(0, 3) == []
    assert doc.text == "Première ligne.\nDeuxième ligne.\n\nFin.\n"
    assert doc.encoding == "utf-8" and doc.title == "notes"
    assert [doc.text[s.start : s.end] for s in doc.sentences] == [
        "Première ligne.",
        "Deuxième ligne.",
        "Fin.",
    ]
    assert doc.line_at(doc.text.index("Fin")) == 3


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32"])
def test_byte_order_marks(tmp_path: Path, encoding: str) -> None:
    doc = load_document(_write(tmp_path, "bom.txt", "Ünïcode wörds. 日本語の文。".encode(encoding)))
    assert doc.text == "Ünïcode wörds. 日本語の文。"


def test_legacy_encoding_is_detected(tmp_path: Path) -> None:
    text = "Le café était très animé. Les élèves déjà présents parlaient à voix haute de l'été dernier. " * 5
    doc = load_document(_write(tmp_path, "latin.txt", text.encode("cp1252")))
    assert doc.text == text and doc.encoding in {"cp1252", "latin_1", "iso8859_15", "iso8859_1"}


def test_binary_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFileError):
        load_document(_write(tmp_path, "image.txt", bytes(range(256)) * 40))
    with pytest.raises(UnsupportedFileError):
        load_document(_write(tmp_path, "nul.txt", b"text\x00with\x00nuls\x00" * 100))


def test_empty_and_blank_files(tmp_path: Path) -> None:
    with pytest.raises(EmptyDocumentError):
        load_document(_write(tmp_path, "empty.txt", b""))
    with pytest.raises(EmptyDocumentError):
        load_document(_write(tmp_path, "blank.txt", b"  \n\n \t "))
    with pytest.raises(EmptyDocumentError):
        load_document(_write(tmp_path, "empty.pdf", b""))


def test_unreadable_paths(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFileError, match="does not exist"):
        load_document(tmp_path / "missing.txt")
    with pytest.raises(UnreadableFileError, match="folder"):
        load_document(tmp_path)
    with pytest.raises(UnreadableFileError):
        probe_document(tmp_path / "missing.pdf")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_permission_denied(tmp_path: Path) -> None:
    path = _write(tmp_path, "locked.txt", b"secret")
    path.chmod(0)
    with unprivileged(), pytest.raises(UnreadableFileError, match="not allowed"):
        load_document(path)


def test_stale_text_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.txt", b"Version one.")
    doc = load_document(path)
    path.write_bytes(b"Version two is longer.")
    assert doc.is_stale()
    path.unlink()
    assert doc.is_stale()


def test_text_cache_round_trip(tmp_path: Path, isolated_cache: Path) -> None:
    path = _write(tmp_path, "c.md", b"# Title\n\nSome text. More text.\n")
    first = load_document(path)
    assert len(list(isolated_cache.glob("*.npz"))) == 1
    second = load_document(path)
    assert (second.text, second.sentences, second.kind, second.encoding) == (
        first.text,
        first.sentences,
        "text",
        "utf-8",
    )
    assert probe_document(path).kind == "text"


_printable = st.characters(
    blacklist_categories=("Cc", "Cs"), blacklist_characters="\ufffd"
) | st.sampled_from("\n\r\t ")


@settings(max_examples=150, deadline=None)
@given(st.text(_printable, max_size=300), st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32"]))
def test_decode_round_trip(text: str, encoding: str) -> None:
    decoded, _ = decode_text(text.encode(encoding))
    assert decoded == text.replace("\r\n", "\n").replace("\r", "\n")


@settings(max_examples=60, deadline=None)
@given(st.text(_printable, min_size=1, max_size=400))
def test_loaded_text_offsets_round_trip(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("h") / "t.txt"
    path.write_bytes(text.encode("utf-8"))
    if not text.strip():
        with pytest.raises(EmptyDocumentError):
            load_document(path, use_cache=False)
        return
    doc = load_document(path, use_cache=False)
    assert doc.text == text.replace("\r\n", "\n").replace("\r", "\n")
    covered = set()
    for s in doc.sentences:
        piece = doc.text[s.start : s.end]
        assert piece and piece == piece.strip()
        covered.update(range(s.start, s.end))
    assert all(i in covered for i, ch in enumerate(doc.text) if not ch.isspace())
