"""The Document: extracted text plus where every character came from (page and rectangles)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 in PDF points, page coordinates


@dataclass(frozen=True)
class Sentence:
    """A retrieval unit: `document.text[start:end]` is the sentence exactly."""

    start: int
    end: int


@dataclass(frozen=True)
class PageInfo:
    """One PDF page: 0-based index, printed label, size in points, and its slice of the text."""

    index: int
    label: str
    width: float
    height: float
    text_start: int
    text_end: int


@dataclass
class Document:
    """Extracted text of a file and the map from character offsets back to the file.

    For text files `pages` is empty and `page_at` returns None. `char_boxes` is a
    `provenance.GlyphMap` for PDFs and None for text files.
    """

    path: Path | None
    kind: Literal["pdf", "text"]
    text: str
    pages: list[PageInfo] = field(default_factory=list)
    sentences: list[Sentence] = field(default_factory=list)
    title: str = ""
    # Per character rectangles are stored compactly by the PDF loader; see rects_for().
    char_boxes: object | None = None
    encoding: str = ""  # text files: the detected encoding
    warnings: list[str] = field(default_factory=list)  # e.g. pages that could not be read
    file_size: int = -1  # size and mtime of the file when it was loaded, for is_stale()
    file_mtime_ns: int = -1
    _page_starts: npt.NDArray[np.int64] | None = field(default=None, init=False, repr=False, compare=False)
    _line_starts: npt.NDArray[np.int64] | None = field(default=None, init=False, repr=False, compare=False)

    def page_at(self, offset: int) -> int | None:
        """0-based page index holding character `offset`, or None for text files."""
        if not self.pages:
            return None
        starts = self._page_starts
        if starts is None or len(starts) != len(self.pages):
            starts = np.fromiter((p.text_start for p in self.pages), np.int64, len(self.pages))
            self._page_starts = starts
        i = int(np.searchsorted(starts, offset, side="right")) - 1
        return max(0, min(i, len(self.pages) - 1))

    def page_label(self, index: int) -> str:
        return self.pages[index].label if self.pages else ""

    def line_at(self, offset: int) -> int:
        """0-based line number of character `offset` in `text` (lines end at "\\n")."""
        if self._line_starts is None:
            newlines = np.frombuffer(self.text.encode("utf-32-le"), np.uint32) == 10
            self._line_starts = np.flatnonzero(newlines).astype(np.int64) + 1
        return int(np.searchsorted(self._line_starts, offset, side="right"))

    def rects_for(self, start: int, end: int) -> list[tuple[int, Rect]]:
        """(0-based page index, rectangle) pairs covering text[start:end]; empty for text files."""
        from app.documents.provenance import rects_for_span

        return rects_for_span(self, start, end)

    def is_stale(self) -> bool:
        """Whether the file on disk differs (size or mtime) from the one loaded, or is gone."""
        if self.path is None or self.file_size < 0:
            return False
        try:
            st = os.stat(self.path)
        except OSError:
            return True
        return st.st_size != self.file_size or st.st_mtime_ns != self.file_mtime_ns
