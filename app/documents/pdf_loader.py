"""PDF extraction with PyMuPDF: page by page, in reading order, with a glyph map for provenance."""

from __future__ import annotations

import os
import shutil
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pymupdf

from app.documents.document import Document, PageInfo
from app.documents.errors import (
    CorruptDocumentError,
    DocumentCancelled,
    DocumentChangedError,
    EmptyDocumentError,
    EncryptedDocumentError,
    NoTextLayerError,
)
from app.documents.furniture import NEIGHBOURS, EdgeLine, edge_lines, furniture, without_lines
from app.documents.page_text import PageText, build_page_text
from app.documents.pdf_layout import Word, blocks_from_words, paragraphs, reading_order
from app.documents.provenance import GlyphMap

ProgressCallback = Callable[[int, int], None]
CancelCallback = Callable[[], bool]

# Ligatures expanded ("ﬁ" -> "fi"), whitespace kept, text outside the page box ignored.
TEXT_FLAGS = (pymupdf.TEXTFLAGS_WORDS & ~pymupdf.TEXT_PRESERVE_LIGATURES) | pymupdf.TEXT_MEDIABOX_CLIP
PAGE_SEPARATOR = "\n\n"
RUN_ON_SEPARATOR = " "  # between a page whose last line wraps and a next page that starts in lower case
NO_TEXT_LAYER = "This document has no text layer (it looks like scanned images)."

# MuPDF is not thread safe, even across documents. Every MuPDF call of the app holds this lock (the
# loader page by page, the GUI's page renderer per page), so that extraction and rendering interleave.
MUPDF_LOCK = threading.RLock()


def tesseract_available() -> bool:
    return shutil.which("tesseract") is not None


def open_pdf(path: Path, password: str | None = None) -> Any:
    """Open (and unlock) a PDF with PyMuPDF; raises DocumentError subclasses."""
    with MUPDF_LOCK:
        return _open_pdf(path, password)


def close_pdf(doc: Any) -> None:
    with MUPDF_LOCK:
        doc.close()


def _open_pdf(path: Path, password: str | None) -> Any:
    try:
        doc = pymupdf.open(str(path), filetype="pdf")
    except Exception as exc:  # PyMuPDF raises FileDataError, EmptyFileError, RuntimeError...
        raise CorruptDocumentError(f"{path.name} is damaged and cannot be opened as a PDF.") from exc
    if doc.needs_pass:
        if password is None:
            doc.close()
            raise EncryptedDocumentError(
                f"{path.name} is protected by a password. Enter it to open the file."
            )
        if not doc.authenticate(password):
            doc.close()
            raise EncryptedDocumentError(f"The password for {path.name} is not correct.", wrong_password=True)
    if doc.page_count == 0:
        repaired = doc.is_repaired
        doc.close()
        if repaired:
            raise CorruptDocumentError(f"{path.name} is damaged: no pages could be found in it.")
        raise EmptyDocumentError(f"{path.name} has no pages.")
    return doc


def pdf_title(doc: Any, path: Path) -> str:
    with MUPDF_LOCK:
        title = ((doc.metadata or {}).get("title") or "").strip()
    return title or path.stem


@dataclass
class _Accumulator:
    """The document being built: text parts, pages and compact word arrays, page after page."""

    parts: list[str] = field(default_factory=list)
    length: int = 0
    lines: int = 0
    pages: list[PageInfo] = field(default_factory=list)
    offsets: list[npt.NDArray[np.int64]] = field(default_factory=list)  # (n, 2): start, end
    line_ids: list[npt.NDArray[np.int32]] = field(default_factory=list)
    page_ids: list[npt.NDArray[np.int32]] = field(default_factory=list)
    boxes: list[npt.NDArray[np.float32]] = field(default_factory=list)
    words: int = 0
    runs_on: bool = False  # the last page added ends in a line that wraps

    def add_page(self, index: int, label: str, size: tuple[float, float], page: PageText) -> None:
        text = page.text
        if page.length and self.length:
            separator = RUN_ON_SEPARATOR if self.runs_on and text.lstrip()[:1].islower() else PAGE_SEPARATOR
            self.parts.append(separator)
            self.length += len(separator)
        if page.length:
            self.runs_on = page.runs_on
        start = self.length
        self.parts.append(text)
        self.length += page.length
        self.pages.append(PageInfo(index, label, size[0], size[1], start, self.length))
        if page.words:
            records = np.array(page.words, np.float64)
            self.offsets.append(records[:, :2].astype(np.int64) + start)
            self.line_ids.append(records[:, 2].astype(np.int32) + self.lines)
            self.page_ids.append(np.full(len(page.words), index, np.int32))
            self.boxes.append(records[:, 3:7].astype(np.float32))
            self.words += len(page.words)
        self.lines += page.line_count

    def glyph_map(self) -> GlyphMap:
        if not self.offsets:
            return GlyphMap.empty()
        offsets = np.concatenate(self.offsets)
        return GlyphMap(
            starts=np.ascontiguousarray(offsets[:, 0]),
            ends=np.ascontiguousarray(offsets[:, 1]),
            pages=np.concatenate(self.page_ids),
            lines=np.concatenate(self.line_ids),
            boxes=np.concatenate(self.boxes),
        )


def load_pdf(
    path: Path,
    password: str | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: CancelCallback | None = None,
    ocr: bool = False,
) -> Document:
    """Extract a PDF's text, pages and glyph map (sentences are left to the caller)."""
    before = os.stat(path)
    doc = open_pdf(path, password)
    try:
        use_ocr = ocr and tesseract_available()
        acc, warnings = _extract_pages(doc, on_progress, cancel, use_ocr)
        if acc.words == 0:
            with MUPDF_LOCK:
                _raise_no_text(doc, path, use_ocr, warnings)
        with MUPDF_LOCK:
            repaired = doc.is_repaired
        if repaired:
            warnings.insert(
                0, f"{path.name} is damaged (perhaps truncated); some of its text may be missing."
            )
        title = pdf_title(doc, path)
    finally:
        close_pdf(doc)
    _check_unchanged(path, before)
    return Document(
        path=path,
        kind="pdf",
        text="".join(acc.parts),
        pages=acc.pages,
        title=title,
        char_boxes=acc.glyph_map(),
        warnings=warnings,
        file_size=before.st_size,
        file_mtime_ns=before.st_mtime_ns,
    )


def _extract_pages(
    doc: Any, on_progress: ProgressCallback | None, cancel: CancelCallback | None, ocr: bool
) -> tuple[_Accumulator, list[str]]:
    """Every page's text without its furniture (running heads and page numbers, found by comparing each page
    with the NEIGHBOURS pages either side: a page is added once those after it are read)."""
    acc = _Accumulator()
    warnings: list[str] = []
    total = doc.page_count
    pending: deque[tuple[int, str, tuple[float, float], list[Word]]] = deque()
    edges: dict[int, list[EdgeLine]] = {}
    for index in range(total):
        if cancel is not None and cancel():
            raise DocumentCancelled()
        with MUPDF_LOCK:
            label, size, words = _read_page(doc, index, ocr, warnings)
        pending.append((index, label, size, words))
        edges[index] = edge_lines(words)
        while pending and (pending[0][0] <= index - NEIGHBOURS or index == total - 1):
            _add_page(acc, *pending.popleft(), edges)
        if on_progress is not None:
            on_progress(index + 1, total)
    return acc, warnings


def _add_page(acc: _Accumulator, index: int, label: str, size: tuple[float, float], words: list[Word],
              edges: dict[int, list[EdgeLine]]) -> None:
    body = without_lines(words, furniture(index, edges))
    edges.pop(index - NEIGHBOURS, None)  # no page still to add compares itself with it
    acc.add_page(index, label, size, build_page_text(paragraphs(reading_order(blocks_from_words(body)))))


def _read_page(
    doc: Any, index: int, ocr: bool, warnings: list[str]
) -> tuple[str, tuple[float, float], list[Word]]:
    """Label, size and words of one page; an unreadable page is reported and treated as empty."""
    label = str(index + 1)
    try:
        page = doc.load_page(index)
        label = _page_label(page, index)
        size = (float(page.rect.width), float(page.rect.height))
        words = page.get_text("words", flags=TEXT_FLAGS)
        if not words and ocr:
            words = _ocr_words(page, index, warnings)
        return label, size, words
    except Exception as exc:  # a damaged page must not stop the rest of the document
        warnings.append(f"Page {index + 1} could not be read ({exc}).")
        return label, (0.0, 0.0), []


def _page_label(page: Any, index: int) -> str:
    try:
        label = page.get_label()
    except Exception:
        label = ""
    return label or str(index + 1)


def _ocr_words(page: Any, index: int, warnings: list[str]) -> list[Word]:
    try:
        textpage = page.get_textpage_ocr(flags=TEXT_FLAGS, dpi=300, full=True)
        return list(page.get_text("words", flags=TEXT_FLAGS, textpage=textpage))
    except Exception as exc:
        warnings.append(f"OCR of page {index + 1} failed ({exc}).")
        return []


def _raise_no_text(doc: Any, path: Path, ocr_tried: bool, warnings: list[str]) -> None:
    """A PDF without any word: scanned images (NoTextLayerError) or blank pages (EmptyDocumentError)."""
    if doc.is_repaired:
        raise CorruptDocumentError(
            f"{path.name} is damaged (perhaps truncated) and no text could be read from it."
        )
    has_images = any(_page_has_images(doc, i) for i in range(min(doc.page_count, 50)))
    if not has_images:
        raise EmptyDocumentError(f"{path.name} contains no text: its pages are blank.")
    if ocr_tried:
        failure = f" ({warnings[0]})" if warnings else ""
        raise NoTextLayerError(NO_TEXT_LAYER + f" Text recognition (OCR) found no text either{failure}.", True)
    hint = (
        " Text recognition (OCR) with Tesseract can read it."
        if tesseract_available()
        else " Install Tesseract to read scans with text recognition (OCR), or convert the file with OCR "
        "software such as ocrmypdf first."
    )
    raise NoTextLayerError(NO_TEXT_LAYER + hint)


def _page_has_images(doc: Any, index: int) -> bool:
    try:
        return bool(doc.load_page(index).get_images())
    except Exception:
        return False


def _check_unchanged(path: Path, before: os.stat_result) -> None:
    try:
        after = os.stat(path)
    except OSError as exc:
        raise DocumentChangedError(f"{path.name} disappeared while it was being read.") from exc
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        raise DocumentChangedError(f"{path.name} changed on disk while it was being read. Open it again.")
