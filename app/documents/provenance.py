"""Where each character of a PDF's text was printed: compact word boxes and span-to-rectangle queries.

Boxes are stored per printed word (float32), not per character: a character's box is its share of its
word's box, which is exact at word boundaries (where sentences and passages begin and end).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from app.documents.document import Document, Rect


@dataclass(frozen=True)
class GlyphMap:
    """Printed words: text[starts[i]:ends[i]] was printed in `boxes[i]` on page `pages[i]`, line `lines[i]`.

    Words are in text order and do not overlap; characters between words (synthetic spaces, paragraph
    breaks) have no box.
    """

    starts: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]
    pages: npt.NDArray[np.int32]
    lines: npt.NDArray[np.int32]
    boxes: npt.NDArray[np.float32]  # (N, 4): x0, y0, x1, y1

    @classmethod
    def empty(cls) -> GlyphMap:
        return cls(
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, np.int32),
            np.zeros(0, np.int32),
            np.zeros((0, 4), np.float32),
        )

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.starts, self.ends, self.pages, self.lines, self.boxes))

    def char_box(self, offset: int) -> tuple[int, Rect] | None:
        """(page, rectangle) of the glyph printed for character `offset`; None for synthetic characters."""
        rects = self.rects(offset, offset + 1)
        return rects[0] if rects else None

    def rects(self, start: int, end: int) -> list[tuple[int, Rect]]:
        """One (page, rectangle) per printed line touched by text[start:end], in text order."""
        first = int(np.searchsorted(self.ends, start, side="right"))
        last = int(np.searchsorted(self.starts, end, side="left"))
        if first >= last:
            return []
        boxes = self._clipped_boxes(first, last, start, end)
        lines = self.lines[first:last]
        breaks = np.flatnonzero(np.diff(lines)) + 1
        groups = np.concatenate(([0], breaks))
        x0 = np.minimum.reduceat(boxes[:, 0], groups)
        y0 = np.minimum.reduceat(boxes[:, 1], groups)
        x1 = np.maximum.reduceat(boxes[:, 2], groups)
        y1 = np.maximum.reduceat(boxes[:, 3], groups)
        pages = self.pages[first:last][groups]
        return [
            (int(p), (float(a), float(b), float(c), float(d)))
            for p, a, b, c, d in zip(pages, x0, y0, x1, y1, strict=False)
        ]

    def _clipped_boxes(self, first: int, last: int, start: int, end: int) -> npt.NDArray[np.float64]:
        """Boxes of words first..last-1, narrowed to the characters inside [start, end)."""
        boxes = self.boxes[first:last].astype(np.float64)
        w_start = self.starts[first:last]
        w_len = np.maximum(self.ends[first:last] - w_start, 1)
        lo = (np.clip(start, w_start, w_start + w_len) - w_start) / w_len
        hi = (np.clip(end, w_start, w_start + w_len) - w_start) / w_len
        width = boxes[:, 2] - boxes[:, 0]
        x0 = boxes[:, 0] + width * lo
        boxes[:, 2] = boxes[:, 0] + width * hi
        boxes[:, 0] = x0
        return boxes


def rects_for_span(document: Document, start: int, end: int) -> list[tuple[int, Rect]]:
    """(0-based page, rectangle) pairs covering document.text[start:end]; empty for text files."""
    glyphs = document.char_boxes
    if not isinstance(glyphs, GlyphMap) or end <= start:
        return []
    return glyphs.rects(start, end)
