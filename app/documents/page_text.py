"""Text of one PDF page from its paragraphs, with every printed word's offsets and box.

Words in a line are joined by one space; a line that wraps joins the next with one space, a hyphenated
line end ("extra-" + "ction") is joined into one word without the hyphen; a line that stops short of
the column's right edge (heading, list item, code, last line) ends with "\\n"; paragraphs are
separated by "\\n\\n".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.documents.pdf_layout import Block, Line

HYPHENS = "-\u00ad\u2010"
WordRecord = tuple[int, int, int, float, float, float, float]  # start, end, line, x0, y0, x1, y1


@dataclass
class PageText:
    """The page's text and its printed words; offsets are relative to the page's text."""

    parts: list[str] = field(default_factory=list)
    words: list[WordRecord] = field(default_factory=list)
    length: int = 0
    line_count: int = 0
    runs_on: bool = False  # its last line reaches the column's right edge: the text may go on overleaf

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def append(self, s: str) -> None:
        self.parts.append(s)
        self.length += len(s)


def build_page_text(paragraphs: list[Block]) -> PageText:
    page = PageText()
    for i, paragraph in enumerate(paragraphs):
        if i:
            page.append("\n\n")
        _add_paragraph(page, paragraph)
    if paragraphs:
        last = paragraphs[-1]
        page.runs_on = not _stops_short(last.lines[-1], last)
    return page


def _add_paragraph(page: PageText, paragraph: Block) -> None:
    lines = paragraph.lines
    for i, line in enumerate(lines):
        following = lines[i + 1] if i + 1 < len(lines) else None
        hyphenated = following is not None and _hyphenated(line, following)
        _add_line(page, line, drop_last_hyphen=hyphenated)
        page.line_count += 1
        if following is not None and not hyphenated:
            page.append(_line_joiner(line, following, paragraph))


def _add_line(page: PageText, line: Line, drop_last_hyphen: bool) -> None:
    last = len(line.words) - 1
    for i, word in enumerate(line.words):
        if i:
            page.append(" ")
        x0, y0, x1, y1, text = word[0], word[1], word[2], word[3], word[4]
        if i == last and drop_last_hyphen:
            x1 = x0 + (x1 - x0) * (len(text) - 1) / len(text)
            text = text[:-1]
        page.words.append((page.length, page.length + len(text), page.line_count, x0, y0, x1, y1))
        page.append(text)


def _same_visual_line(a: Line, b: Line) -> bool:
    overlap = min(a.y1, b.y1) - max(a.y0, b.y0)
    return overlap > 0.5 * min(a.height, b.height) and b.x0 >= a.x1 - 1.0


def _hyphenated(line: Line, following: Line) -> bool:
    """Whether `line` ends in a word broken by a hyphen that `following` completes."""
    last, first = line.words[-1][4], following.words[0][4]
    if len(last) < 2 or last[-1] not in HYPHENS or _same_visual_line(line, following):
        return False
    if last[-1] == "\u00ad":
        return True
    return last[-2].isalpha() and first[0].islower()


def _line_joiner(line: Line, following: Line, paragraph: Block) -> str:
    """ " " where `line` wraps into `following`, "\\n" where it stops short (an explicit line break)."""
    if _same_visual_line(line, following):
        return "\n" if following.x0 - line.x1 > 0.8 * line.height else " "  # run-in heading, table cell
    return "\n" if _stops_short(line, paragraph) else " "


def _stops_short(line: Line, paragraph: Block) -> bool:
    """Whether `line` ends well before the right edge of its paragraph's column (it does not wrap)."""
    right = max(paragraph.x1, paragraph.frame_right)
    slack = max(0.12 * (right - paragraph.x0), 2.0 * line.height)
    return line.x1 < right - slack
