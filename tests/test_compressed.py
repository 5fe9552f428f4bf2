"""Compressed documents (policy.pdf.gz, notes.txt.xz): unpacked once into the cache, then read like any file;
the window shows the PDF's pages and remembers the file the person chose."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import pytest

from app.documents import compressed, errors, load_document, probe_document
from tests import test_gui_helpers as helpers
from tests.bad_inputs import LATIN, PAGES
from tests.documents_fixtures import make_pdf

isolated = helpers.isolated
fake_core = helpers.fake_core


def gzipped(path: Path) -> Path:
    packed = path.with_name(path.name + ".gz")
    packed.write_bytes(gzip.compress(path.read_bytes()))
    return packed


def test_a_gzipped_pdf_reads_as_the_pdf(tmp_path):
    plain = make_pdf(tmp_path / "manual.pdf", PAGES)
    packed = gzipped(plain)
    document = load_document(packed)
    info = probe_document(packed)
    assert document.kind == "pdf" and document.text == load_document(plain).text
    assert document.path is not None and document.path.name == "manual.pdf" and document.path != plain
    assert info.kind == "pdf" and info.page_count == len(PAGES) and info.path == document.path


def test_a_file_is_unpacked_once(tmp_path, monkeypatch):
    packed = tmp_path / "notes.txt.bz2"
    packed.write_bytes(bz2.compress(LATIN.encode("utf-8")))
    calls: list[Path] = []
    real = compressed._unpack
    monkeypatch.setattr(compressed, "_unpack", lambda *args: calls.append(args[0]) or real(*args))
    first = load_document(packed, use_cache=False)
    second = load_document(packed, use_cache=False)
    assert first.text == second.text and first.text.startswith("Le café")
    assert first.path == second.path and calls == [packed]


def test_text_that_starts_like_a_signature_is_text(tmp_path):
    path = tmp_path / "bzh.txt"
    path.write_text("BZh is how a bzip2 file starts; this file is only text about it.\n", encoding="utf-8")
    assert load_document(path).path == path


@pytest.mark.parametrize(
    ("name", "compression", "inner"),
    [("policy.pdf.gz", "gzip", "policy.pdf"), ("README.GZ", "gzip", "README"), ("notes.txt.xz", "xz", "notes.txt"),
     ("data", "gzip", "data.unpacked")],
)
def test_inner_names(name, compression, inner):
    assert compressed.inner_name(Path(name), compression) == inner


def test_too_large_once_unpacked_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(compressed, "MAX_UNPACKED_BYTES", 1000)
    monkeypatch.setattr(compressed, "CHUNK_BYTES", 256)
    packed = tmp_path / "bomb.txt.gz"
    packed.write_bytes(gzip.compress(b"a" * 100_000))
    with pytest.raises(errors.UnsupportedFileError, match="too large"):
        load_document(packed)
    root = tmp_path / "unpacked"
    with pytest.raises(errors.UnsupportedFileError):
        compressed.unpacked(packed, "gzip", root=root)
    assert not [p for p in root.rglob("*") if p.is_file()]


def test_cancelling_leaves_no_unpacked_copy(tmp_path, monkeypatch):
    monkeypatch.setattr(compressed, "CHUNK_BYTES", 64)
    packed = tmp_path / "long.txt.gz"
    packed.write_bytes(gzip.compress(LATIN.encode("utf-8") * 20))
    root = tmp_path / "unpacked"
    answers = iter([False, False, True])  # hashing asks too: cancelled during unpacking
    with pytest.raises(errors.DocumentCancelled):
        compressed.unpacked(packed, "gzip", cancel=lambda: next(answers, True), root=root)
    assert not [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.gui
def test_the_window_shows_a_gzipped_pdf(qtbot, isolated, fake_core):
    packed = gzipped(make_pdf(isolated / "manual.pdf", PAGES))
    (isolated / "manual.pdf").unlink()
    window = helpers.make_window(qtbot, fake_core.engine(), isolated)
    document = helpers.open_and_wait(qtbot, window, packed)
    view = window.area.page_view
    assert view.path == document.path and view.page_count == len(PAGES)
    qtbot.waitUntil(lambda: view.is_rendered(0), timeout=10000)  # the pages come from the unpacked copy
    assert window.doc_path == packed and window.status.message.text().startswith("Opened manual.pdf.gz")
    window.recent_menu.aboutToShow.emit()
    assert packed.name in [action.text() for action in window.recent_menu.actions()]
