"""Page furniture: running heads, running feet and page numbers, printed at the same place page after page.

They are not part of the text a person reads. Left in, each became a sentence of its own ("Chapter 18: Zsh
Line Editor 165") and stood between the two halves of every sentence that runs on to the next page.

A page's top row (its topmost line and the lines level with it) is furniture when each of its lines is what
the pages nearby (NEIGHBOURS either side) mostly print at that height, numbers set aside ("chapter #: zsh line
editor" on USUAL_PAGES of them or more; a page number, "#", on one); or when one of its lines is what they
mostly print there and the row stands GAP_LINES line heights or more from the rest of the page (a running
head whose other half, a section title, changes often). The same goes for the bottom row. Body text that
starts or ends two pages at the same height ("Syntax:", "(no default, initially unset)") is neither: other
pages print other text there, and it sits at the usual line spacing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.documents.pdf_layout import Line, Word, blocks_from_words

NEIGHBOURS = 4  # pages either side searched for the same line (odd and even pages often differ)
MAX_WORDS = 12  # a running head is a title and a number, not a line of prose
HEIGHT_TOLERANCE = 3.0  # points between the heights of the same running head on two pages
USUAL_PAGES = 3  # pages nearby that print the same line, for a row of text close to the body
GAP_LINES = 1.6  # running heads stood 1.7-5 line heights from the text in the manuals tried, body rows 0.4-1.5

_NUMBER = re.compile(r"\d+")
_ROMAN_PAGE = re.compile(r"(?=.)x{0,3}(?:ix|iv|v?i{0,3})", re.IGNORECASE)  # front matter's page numbers, i-xxxix
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")

LineKey = tuple[int, int]  # (block number, line number) as MuPDF numbers a word's line


@dataclass(frozen=True)
class EdgeLine:
    """A line of a page's top or bottom row, with what identifies it from page to page."""

    key: LineKey
    edge: str  # "top" or "bottom"
    y: float  # top of the line for the top row, bottom of the line for the bottom row
    signature: str  # its text with every number as "#", case folded ("" for a line too long to be furniture)
    apart: bool  # its row stands GAP_LINES line heights or more from the rest of the page


def edge_lines(words: Sequence[Word]) -> list[EdgeLine]:
    """The lines of the page's top row and bottom row (a row: the outermost line and the lines level with it)."""
    lines = [line for block in blocks_from_words(words) for line in block.lines]
    if len(lines) < 2:
        return []
    top = min(lines, key=lambda line: line.y0)
    bottom = max(lines, key=lambda line: line.y1)
    top_row = [line for line in lines if _level(line, top)]
    in_top = {id(line) for line in top_row}
    rows = {"top": top_row, "bottom": [line for line in lines if _level(line, bottom) and id(line) not in in_top]}
    found = []
    for edge, row in rows.items():
        if not row:
            continue
        in_row = {id(line) for line in row}
        apart = _apart(row, [line for line in lines if id(line) not in in_row], edge)
        for line in row:
            key = (line.words[0][5], line.words[0][6])
            y = line.y0 if edge == "top" else line.y1
            found.append(EdgeLine(key, edge, y, _signature([w[4] for w in line.words]), apart))
    return found


def furniture(page: int, edges: Mapping[int, Sequence[EdgeLine]]) -> set[LineKey]:
    """The lines of `page` that are furniture (`edges`: page -> its edge lines, for the pages nearby)."""
    found: set[LineKey] = set()
    for edge in ("top", "bottom"):
        row = [line for line in edges.get(page, ()) if line.edge == edge]
        counts = [_recurrence(line, page, edges) for line in row]
        numbers = all(line.signature == "#" for line in row)
        if row and (all(_usual(c, 1 if numbers else USUAL_PAGES) for c in counts)
                    or (row[0].apart and any(_usual(c, 1) for c in counts))):
            found.update(line.key for line in row)
    return found


def without_lines(words: Sequence[Word], lines: set[LineKey]) -> list[Word]:
    return [w for w in words if (w[5], w[6]) not in lines] if lines else list(words)


def _usual(count: tuple[int, int], pages: int) -> bool:
    """Whether at least `pages` pages nearby, and half of those that print anything there, print the line."""
    same, printed = count
    return same >= pages and 2 * same >= printed


def _recurrence(line: EdgeLine, page: int, edges: Mapping[int, Sequence[EdgeLine]]) -> tuple[int, int]:
    """Of the pages nearby that print a line in the same row at the same height, how many print this one."""
    same = printed = 0
    for other in range(page - NEIGHBOURS, page + NEIGHBOURS + 1):
        there = [o for o in edges.get(other, ()) if o.edge == line.edge and abs(o.y - line.y) <= HEIGHT_TOLERANCE]
        if other != page and there:
            printed += 1
            same += bool(line.signature) and any(o.signature == line.signature for o in there)
    return same, printed


def _apart(row: list[Line], rest: list[Line], edge: str) -> bool:
    """Whether the row stands GAP_LINES of its line height or more from every other line of the page."""
    if not rest:
        return False
    if edge == "top":
        gap = min(line.y0 for line in rest) - max(line.y1 for line in row)
    else:
        gap = min(line.y0 for line in row) - max(line.y1 for line in rest)
    return gap >= GAP_LINES * max(line.y1 - line.y0 for line in row)


def _signature(texts: list[str]) -> str:
    """What a running head reads on every page ("" for a line too long, or without a letter or digit)."""
    if len(texts) > MAX_WORDS or not any(_LETTER_OR_DIGIT.search(t) for t in texts):
        return ""
    words = ["#" if _ROMAN_PAGE.fullmatch(t) and len(texts) == 1 else _NUMBER.sub("#", t) for t in texts]
    return " ".join(words).casefold()


def _level(line: Line, outermost: Line) -> bool:
    """Whether the line overlaps the outermost line's height by half its own."""
    overlap = min(line.y1, outermost.y1) - max(line.y0, outermost.y0)
    return overlap > 0.5 * min(line.y1 - line.y0, outermost.y1 - outermost.y0)
