"""PDF loading: reading order, hyphenation, page slices and labels, provenance of every sentence, bad PDFs."""

from __future__ import annotations

import re
from pathlib import Path

import pymupdf
import pytest

from app.documents import (
    CorruptDocumentError,
    Document,
    DocumentCancelled,
    DocumentChangedError,
    EmptyDocumentError,
    EncryptedDocumentError,
    NoTextLayerError,
    load_document,
    probe_document,
    tesseract_available,
)
from app.documents import cache as doc_cache
from tests.documents_fixtures import (
    make_encrypted_pdf,
    make_image_only_pdf,
    make_labelled_pdf,
    make_lines_pdf,
    make_manual_pdf,
    make_pdf,
    make_truncated_pdf,
    make_two_column_pdf,
)

PAGE_ONE = (
    "Chapter One\n\nThe first page talks about rivers. Dr. Smith measured 3.14 metres of water, i.e. a lot. "
    "Rivers flow to the sea. " * 3
)
PAGE_THREE = (
    "The third page is about mountains. Mountains are tall and old. They erode slowly over time. " * 4
)
LEFT = "Left column sentence number {}. " * 1
RIGHT = "Right column sentence number {}. "


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setattr(doc_cache, "default_dir", lambda: directory)
    return directory


def _squash(s: str) -> str:
    return re.sub(r"[\s\-\u00ad]+", "", s)


def assert_provenance(doc: Document, path: Path) -> None:
    """Every sentence: its rectangles lie on the pages it spans (one, or two where it runs on overleaf) and
    the text printed there holds its words."""
    pdf = pymupdf.open(path)
    try:
        for sentence in doc.sentences:
            text = doc.text[sentence.start : sentence.end]
            assert text == text.strip() and text
            rects = doc.rects_for(sentence.start, sentence.end)
            assert rects, text
            first, last = doc.page_at(sentence.start), doc.page_at(sentence.end - 1)
            assert {p for p, _ in rects} == set(range(first, last + 1)), text
            printed = ""
            for page_index in range(first, last + 1):
                page = pdf[page_index]
                union = pymupdf.Rect()
                for _, r in (item for item in rects if item[0] == page_index):
                    rect = pymupdf.Rect(r)
                    assert page.rect.contains(rect), (text, rect)
                    union |= rect
                    inner = _squash(page.get_text("text", clip=rect + (1, 1, -1, -1)))
                    assert inner and inner in _squash(text), (text, inner)
                printed += _squash(page.get_text("text", clip=union))
            for word in text.split():
                assert _squash(word) in printed, (word, text)
    finally:
        pdf.close()


def test_multi_page_pdf_pages_labels_and_provenance(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "doc.pdf", [PAGE_ONE, "", PAGE_THREE], title="Rivers and Mountains")
    doc = load_document(path)
    assert doc.kind == "pdf" and doc.title == "Rivers and Mountains"
    assert [p.index for p in doc.pages] == [0, 1, 2]
    assert [p.label for p in doc.pages] == ["1", "2", "3"]
    one, blank, three = doc.pages
    assert doc.text[one.text_start : one.text_end].startswith("Chapter One\n\nThe first page")
    assert blank.text_start == blank.text_end
    assert doc.text[three.text_start : three.text_end].startswith("The third page")
    assert doc.text[one.text_end : three.text_start] == "\n\n"
    assert (one.width, one.height) == (595.0, 842.0)
    assert doc.page_at(three.text_start + 5) == 2 and doc.page_at(0) == 0
    texts = [doc.text[s.start : s.end] for s in doc.sentences]
    assert texts[0] == "Chapter One"
    assert "Dr. Smith measured 3.14 metres of water, i.e. a lot." in texts
    assert_provenance(doc, path)


def test_two_columns_are_read_column_by_column(tmp_path: Path) -> None:
    left = "".join(LEFT.format(i) for i in range(25))
    right = "".join(RIGHT.format(i) for i in range(25))
    path = make_two_column_pdf(tmp_path / "two.pdf", "A Two Column Page", left, right)
    doc = load_document(path)
    assert doc.text.startswith("A Two Column Page\n\n")
    last_left = doc.text.index("Left column sentence number 24.")
    first_right = doc.text.index("Right column sentence number 0.")
    assert last_left < first_right
    assert " ".join(doc.text.split()) == " ".join(f"A Two Column Page {left} {right}".split())
    assert_provenance(doc, path)


def test_hyphenated_line_ends_are_joined_and_map_to_both_halves(tmp_path: Path) -> None:
    lines = [
        "Text extraction keeps an extra-",
        "ordinary amount of detail. Words are",
        "never broken by the justifi-",
        "cation of a paragraph, said the well-",
        "Known author.",
    ]
    path = make_lines_pdf(tmp_path / "hyphen.pdf", [lines])
    doc = load_document(path)
    assert doc.text == (
        "Text extraction keeps an extraordinary amount of detail. Words are never broken by the "
        "justification of a paragraph, said the well- Known author."
    )
    start = doc.text.index("extraordinary")
    rects = doc.rects_for(start, start + len("extraordinary"))
    assert len(rects) == 2 and rects[0][1][1] < rects[1][1][1]  # two lines, top one first
    pdf = pymupdf.open(path)
    assert pdf[0].get_text("text", clip=rects[0][1]).strip() == "extra"  # the dropped hyphen is not covered
    assert pdf[0].get_text("text", clip=rects[1][1]).strip() == "ordinary"
    pdf.close()
    assert [doc.text[s.start : s.end] for s in doc.sentences][:2] == [
        "Text extraction keeps an extraordinary amount of detail.",
        "Words are never broken by the justification of a paragraph, said the well- Known author.",
    ]
    assert_provenance(doc, path)


MANUAL_LINES = [
    "The shell reads its startup files one after the other, in an order that",
    "depends on how it was started; each file may set options and parameters",
    "that the files read after it can change again, and the last one wins when",
]


def test_running_heads_and_page_numbers_are_left_out_and_sentences_run_on(tmp_path: Path) -> None:
    bodies = [
        MANUAL_LINES,
        ["every file sets the same option, as the options chapter explains at length.", "Syntax:"],
        ["Syntax:", "set option name to value, for every option in the list given to it."],
        ["Options are set with setopt and unset with unsetopt in every kind of shell."],
    ]
    heads = ["Chapter 2: Startup Files", "Chapter 2: Startup Files", "", "Chapter 2: Startup Files"]
    path = make_manual_pdf(tmp_path / "manual.pdf", bodies, heads)
    doc = load_document(path)
    assert "Chapter 2" not in doc.text and not re.search(r"(?m)^\d+$", doc.text)
    texts = [doc.text[s.start : s.end] for s in doc.sentences]
    run_on = " ".join(MANUAL_LINES + bodies[1][:1])
    assert run_on in texts  # one sentence across the page break
    assert doc.page_at(doc.text.index("every file sets")) == 1 and doc.text.count("Syntax:") == 2
    assert texts[-1] == bodies[3][0]
    assert_provenance(doc, path)


def test_a_page_that_ends_short_does_not_run_on(tmp_path: Path) -> None:
    bodies = [[*MANUAL_LINES[:2], "a last short line"], ["the startup files, in order of reading."]]
    doc = load_document(make_manual_pdf(tmp_path / "short.pdf", bodies, ["", ""]))
    one, two = doc.pages
    assert doc.text[one.text_end : two.text_start] == "\n\n"


def test_character_boxes_follow_the_glyphs(tmp_path: Path) -> None:
    path = make_lines_pdf(tmp_path / "chars.pdf", [["Alpha beta gamma."]])
    doc = load_document(path)
    pdf = pymupdf.open(path)
    start = doc.text.index("beta")
    ((page, rect),) = doc.rects_for(start, start + 4)
    (word_rect,) = pdf[0].search_for("beta")
    assert page == 0 and abs(rect[0] - word_rect.x0) < 0.5 and abs(rect[2] - word_rect.x1) < 0.5
    space = doc.text.index(" ")
    assert doc.rects_for(space, space + 1) == []  # synthetic spaces have no glyph
    pdf.close()


def test_page_labels_are_kept(tmp_path: Path) -> None:
    path = make_labelled_pdf(
        tmp_path / "labels.pdf", ["Preface text.", "More preface.", "Body one.", "Body two."], 2
    )
    doc = load_document(path)
    assert [p.label for p in doc.pages] == ["i", "ii", "1", "2"]
    assert doc.page_label(2) == "1"


def test_progress_and_cancel(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "p.pdf", [f"Page {i} says hello." for i in range(5)])
    seen: list[tuple[int, int]] = []
    load_document(path, on_progress=lambda done, total: seen.append((done, total)), use_cache=False)
    assert seen == [(i, 5) for i in range(1, 6)]
    with pytest.raises(DocumentCancelled):
        load_document(path, cancel=lambda: len(seen) > 6, on_progress=lambda d, t: seen.append((d, t)))


def test_extraction_takes_turns_with_other_mupdf_users(tmp_path: Path) -> None:
    """MuPDF is not thread safe: the loader reads pages only while it holds MUPDF_LOCK (the renderer's lock)."""
    import threading

    from app.documents import MUPDF_LOCK

    path = make_pdf(tmp_path / "p.pdf", [f"Page {i} says hello." for i in range(3)])
    pages: list[int] = []
    with MUPDF_LOCK:
        worker = threading.Thread(
            target=load_document, args=(path,), kwargs={"use_cache": False, "on_progress": lambda d, t: pages.append(d)}
        )
        worker.start()
        worker.join(timeout=0.5)
        assert worker.is_alive() and not pages, "no page is read while another thread holds the lock"
    worker.join(timeout=30)
    assert pages == [1, 2, 3]


def test_encrypted_pdf_needs_the_right_password(tmp_path: Path, isolated_cache: Path) -> None:
    path = make_encrypted_pdf(tmp_path / "secret.pdf", ["Secret plans are here."], "s3cret")
    with pytest.raises(EncryptedDocumentError) as missing:
        load_document(path)
    assert missing.value.wrong_password is False and "password" in str(missing.value)
    with pytest.raises(EncryptedDocumentError) as wrong:
        load_document(path, password="nope")
    assert wrong.value.wrong_password is True
    doc = load_document(path, password="s3cret")
    assert doc.text == "Secret plans are here."
    assert not list(isolated_cache.glob("*.npz"))  # decrypted text is never written to the cache
    assert probe_document(path).needs_password


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_pdf_fails_cleanly_or_loads_what_survives(tmp_path: Path, keep: float) -> None:
    path = make_truncated_pdf(tmp_path / "cut.pdf", [PAGE_ONE, PAGE_THREE, PAGE_ONE], keep)
    try:
        doc = load_document(path)
    except CorruptDocumentError as exc:
        assert "damaged" in str(exc)
    else:
        assert doc.text and "damaged" in doc.warnings[0]
        assert_provenance(doc, path)


def test_garbage_named_pdf_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "junk.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 4)
    with pytest.raises(CorruptDocumentError):
        load_document(path)


def test_image_only_pdf_has_no_text_layer(tmp_path: Path) -> None:
    path = make_image_only_pdf(tmp_path / "scan.pdf")
    with pytest.raises(NoTextLayerError) as err:
        load_document(path)
    assert str(err.value).startswith("This document has no text layer")


@pytest.mark.skipif(not tesseract_available(), reason="Tesseract is not installed")
def test_ocr_reads_a_scanned_pdf(tmp_path: Path) -> None:
    doc = load_document(make_image_only_pdf(tmp_path / "scan.pdf"), ocr=True)
    assert "Scanned" in doc.text and doc.sentences


def test_blank_pdf_is_empty(tmp_path: Path) -> None:
    with pytest.raises(EmptyDocumentError):
        load_document(make_pdf(tmp_path / "blank.pdf", ["", ""]))


def test_probe_is_cheap_and_says_what_it_sees(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "probe.pdf", ["One.", "Two.", "Three."], title="Probed")
    info = probe_document(path)
    assert (info.kind, info.page_count, info.title, info.needs_password) == ("pdf", 3, "Probed", False)


def test_file_changed_after_and_during_load(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "c.pdf", ["First version.", "Second page."])
    doc = load_document(path)
    assert not doc.is_stale()
    make_pdf(path, ["A different, longer first version of the file.", "Second page."])
    assert doc.is_stale()

    def rewrite(done: int, total: int) -> None:
        if done == 1:
            make_pdf(path, ["Rewritten while loading, again and again.", "Page."])

    with pytest.raises(DocumentChangedError):
        load_document(path, on_progress=rewrite, use_cache=False)


def test_cache_round_trip_and_corrupt_cache(tmp_path: Path, isolated_cache: Path) -> None:
    path = make_pdf(tmp_path / "cached.pdf", [PAGE_ONE, PAGE_THREE])
    first = load_document(path)
    (cache_file,) = isolated_cache.glob("*.npz")
    again = load_document(path)
    assert again.text == first.text and again.sentences == first.sentences and again.pages == first.pages
    assert again.path == path and not again.is_stale()
    s = first.sentences[3]
    assert again.rects_for(s.start, s.end) == first.rects_for(s.start, s.end)
    cache_file.write_bytes(b"not a cache file")
    rebuilt = load_document(path)
    assert rebuilt.text == first.text
    assert load_document(path).sentences == first.sentences
