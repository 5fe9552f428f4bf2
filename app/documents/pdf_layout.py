"""Reading order of a PDF page: words grouped into lines and blocks, columns read one after another."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

# A word as PyMuPDF's page.get_text("words") gives it: x0, y0, x1, y1, text, block_no, line_no, word_no.
Word = tuple[float, float, float, float, str, int, int, int]

MIN_GUTTER = 6.0  # points of empty space between two blocks side by side that makes them columns


@dataclass
class Line:
    words: list[Word]
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def height(self) -> float:
        return max(self.y1 - self.y0, 0.1)


@dataclass
class Block:
    lines: list[Line] = field(default_factory=list)
    x0: float = float("inf")
    y0: float = float("inf")
    x1: float = float("-inf")
    y1: float = float("-inf")
    frame_right: float = float("-inf")  # right edge of the column the block sits in

    def add(self, line: Line) -> None:
        self.lines.append(line)
        self.x0, self.y0 = min(self.x0, line.x0), min(self.y0, line.y0)
        self.x1, self.y1 = max(self.x1, line.x1), max(self.y1, line.y1)

    def extend(self, other: Block) -> None:
        for line in other.lines:
            self.add(line)
        self.frame_right = max(self.frame_right, other.frame_right)


def blocks_from_words(words: Sequence[Word]) -> list[Block]:
    """Group words into lines and blocks as MuPDF numbered them, keeping MuPDF's order."""
    blocks: dict[int, Block] = {}
    lines: dict[tuple[int, int], list[Word]] = {}
    for w in words:
        lines.setdefault((w[5], w[6]), []).append(w)
    for (block_no, _), ws in lines.items():
        line = Line(
            ws, min(w[0] for w in ws), min(w[1] for w in ws), max(w[2] for w in ws), max(w[3] for w in ws)
        )
        blocks.setdefault(block_no, Block()).add(line)
    return list(blocks.values())


def reading_order(blocks: list[Block]) -> list[Block]:
    """Blocks in reading order: top to bottom in bands, and column by column where a band has columns.

    Sets each block's `frame_right` to the right edge of the column (or page) it belongs to.
    """
    right = max((b.x1 for b in blocks), default=0.0)
    if len(blocks) <= 1:
        for block in blocks:
            block.frame_right = right
        return blocks
    ordered: list[Block] = []
    for band in _merge_column_bands(_bands(blocks)):
        columns = _columns(band)
        if len(columns) == 1:
            for block in band:
                block.frame_right = right
            ordered.extend(sorted(band, key=lambda b: (round(b.y0 / 4), b.x0)))
        else:
            for column in columns:
                ordered.extend(reading_order(column))
    return ordered


def _bands(blocks: list[Block]) -> list[list[Block]]:
    """Horizontal bands of blocks whose vertical extents overlap (chained)."""
    return _chains(blocks, lambda b: b.y0, lambda b: b.y1, slack=-1.0)


def _merge_column_bands(bands: list[list[Block]]) -> list[list[Block]]:
    """Join consecutive bands when together they still have a gutter (paragraph gaps of two columns)."""
    merged: list[list[Block]] = []
    for band in bands:
        if merged and len(_columns(merged[-1])) > 1 and len(_columns(merged[-1] + band)) > 1:
            merged[-1] = merged[-1] + band
        else:
            merged.append(band)
    return merged


def _columns(blocks: list[Block]) -> list[list[Block]]:
    """Blocks split at vertical gutters (x ranges separated by at least MIN_GUTTER), left to right."""
    return _chains(blocks, lambda b: b.x0, lambda b: b.x1, slack=MIN_GUTTER)


def _chains(
    blocks: list[Block], low: Callable[[Block], float], high: Callable[[Block], float], slack: float
) -> list[list[Block]]:
    """Blocks sorted by `low`, grouped while each starts before the group's reach (max `high`) + slack."""
    groups: list[list[Block]] = []
    reach = float("-inf")
    for block in sorted(blocks, key=low):
        if groups and low(block) < reach + slack:
            groups[-1].append(block)
            reach = max(reach, high(block))
        else:
            groups.append([block])
            reach = high(block)
    return groups


def paragraphs(blocks: list[Block]) -> list[Block]:
    """Consecutive blocks merged where the second continues the first (same column, line spacing)."""
    merged: list[Block] = []
    for block in blocks:
        if merged and _continues(merged[-1], block):
            merged[-1].extend(block)
        else:
            fresh = Block()
            fresh.extend(block)
            merged.append(fresh)
    return merged


def _continues(previous: Block, block: Block) -> bool:
    last, first = previous.lines[-1], block.lines[0]
    height = min(last.height, first.height)
    if not 0.75 < first.height / last.height < 1.33:
        return False
    gap = first.y0 - last.y1
    if not -0.3 * height <= gap < 0.7 * height:
        return False
    overlap = min(previous.x1, block.x1) - max(previous.x0, block.x0)
    return overlap > 0 and abs(block.x0 - previous.x0) < 3 * height
