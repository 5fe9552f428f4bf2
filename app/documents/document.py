"""The Document: extracted text plus where every character came from (page and rectangles)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

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

    For text files `pages` is empty and `page_at` returns None.
    """

    path: Path | None
    kind: Literal["pdf", "text"]
    text: str
    pages: list[PageInfo] = field(default_factory=list)
    sentences: list[Sentence] = field(default_factory=list)
    title: str = ""
    # Per character rectangles are stored compactly by the PDF loader; see rects_for().
    char_boxes: object | None = None

    def page_at(self, offset: int) -> int | None:
        """0-based page index holding character `offset`, or None for text files."""
        if not self.pages:
            return None
        starts = [p.text_start for p in self.pages]
        i = bisect.bisect_right(starts, offset) - 1
        return max(0, min(i, len(self.pages) - 1))

    def page_label(self, index: int) -> str:
        return self.pages[index].label if self.pages else ""

    def rects_for(self, start: int, end: int) -> list[tuple[int, Rect]]:
        """(0-based page index, rectangle) pairs covering text[start:end]; empty for text files."""
        from app.documents.provenance import rects_for_span

        return rects_for_span(self, start, end)
