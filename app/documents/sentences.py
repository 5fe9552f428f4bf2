"""Sentence segmentation with character offsets, tuned to give retrieval units a person reads as one."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from itertools import groupby

from app.documents.document import Sentence
from app.documents.errors import DocumentCancelled

Span = tuple[int, int]

DEFAULT_MAX_CHARS = 600  # about 150 tokens of English
CJK_WEIGHT = 4  # a CJK character costs about as many tokens as four Latin characters
_CANCEL_EVERY = 256  # units (paragraphs, code blocks) between two looks at the cancel flag

_NONSPACE = re.compile(r"\S")
_NEXT_VISIBLE = re.compile(r"\s*(\S)")
_PARAGRAPH_BREAK = re.compile(r"(?:\n[^\S\n]*\n|[\u2029\x0c])\s*")
_LINE = re.compile(r"[^\n]+")
_FENCE_LINE = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n]*$", re.M)
_SENTENCE_END = re.compile(
    r"(?P<w>[.!?\u2026\u203c\u2047-\u2049]+)[\"'\u201d\u2019\u00bb\u203a)\]}]*(?=\s)"
    r"|[\u3002\uff01\uff1f\uff61]+[\u300d\u300f\uff09\u3011\u3009\u300b\u201d\u2019\"')\]]*"
)
_CJK = re.compile(r"[\u1100-\u11ff\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\U00020000-\U0003ffff]")
_SOFT_BREAK = re.compile(r"[,;:](?=\s)|[\u3001\uff0c\uff1b\uff1a\u3002\uff01\uff1f]")
_WHITESPACE = re.compile(r"\s+")
_LIST_ITEM = re.compile(
    r"(?:[-*+\u2022\u2023\u25e6\u25aa\u2013\u2014]|\(?(?:\d{1,3}|[a-zA-Z]|[ivxIVX]{1,5})[.)])\s"
)
_MD_HEADING = re.compile(r"#{1,6}\s")
_RULE = re.compile(r"(?:[=\-*_~]\s*){3,}")
_CODE_LINE = re.compile(
    r"[;{}]$|^(?:def|class|function|fn|func)\s+\w+.*[:({]$|^(?:import|from)\s+[\w.]+(?:\s+import\s+.+)?$"
    r"|^(?:#include|#define|//|/\*|\*/|>>>|\$ )|^(?:if|for|while|elif|else|try|except|with)\b.*:$"
    r"|^[\w.\[\]]+\s*[-+*/%|&]?=\s*\S|^[\w.]+\(.*\)$"
)
_CODE_TOKEN = re.compile(r"[=!<>]=|->|=>|::")  # code inside a line; prose mentions them too ("tools::toTitleCase")
_PROSE_MIN_WORDS = 8
_PROSE_PLAIN_SHARE = 0.7
_INITIALS = re.compile(r"[A-HJ-Z]|(?:[A-Za-z]\.)+[A-Za-z]")
_ENUMERATOR = re.compile(r"\d{1,3}|[A-Za-z]|[ivxlcdmIVXLCDM]{1,6}")
_TOKEN_OPENERS = "([{\"'\u201c\u2018\u00ab"
_TERMINAL = ".!?:\u2026\u3002\uff01\uff1f\"'\u201d\u2019)"

_ALWAYS_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "mssrs",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "mt",
        "vs",
        "e.g",
        "i.e",
        "cf",
        "viz",
        "al",
        "approx",
        "ca",
        "inc",
        "ltd",
        "co",
        "corp",
        "dept",
        "univ",
        "gen",
        "gov",
        "lt",
        "col",
        "capt",
        "sgt",
        "rev",
        "hon",
        "jan",
        "feb",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "ph.d",
        "u.s",
        "u.k",
        "u.s.a",
        "a.m",
        "p.m",
        "resp",
        "incl",
        "esp",
        "ibid",
        "op",
        "cit",
        "eds",
        "trans",
    ]
)
_NUMBER_ABBREVIATIONS = frozenset(
    [
        "no",
        "nos",
        "nr",
        "fig",
        "figs",
        "eq",
        "eqs",
        "p",
        "pp",
        "vol",
        "vols",
        "ch",
        "chap",
        "sec",
        "sect",
        "art",
        "tab",
        "ref",
        "refs",
        "para",
        "pt",
        "pts",
    ]
)


def split_sentences(
    text: str, max_chars: int = DEFAULT_MAX_CHARS, cancel: Callable[[], bool] | None = None
) -> list[Sentence]:
    """Sentences of `text` in order; together they cover every non-whitespace character.

    No sentence is longer than `max_chars` characters (CJK characters count `CJK_WEIGHT` times).
    `cancel()` is asked every few hundred paragraphs; when true, DocumentCancelled is raised.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be positive")
    spans: list[Span] = []
    for count, (start, end, verbatim) in enumerate(_units(text)):
        if cancel is not None and count % _CANCEL_EVERY == 0 and cancel():
            raise DocumentCancelled()
        pieces = [(start, end)] if verbatim else _sentences_in(text, start, end)
        for s, e in pieces:
            spans.extend(_bounded(text, s, e, max_chars))
    return [Sentence(s, e) for s, e in spans]


def _trim(text: str, start: int, end: int) -> Span | None:
    """`(start, end)` narrowed to exclude surrounding whitespace; None when only whitespace."""
    m = _NONSPACE.search(text, start, end)
    if m is None:
        return None
    s = m.start()
    return s, s + len(text[s:end].rstrip())


def _units(text: str) -> Iterator[tuple[int, int, bool]]:
    """Spans to segment further, flagged verbatim when they are code lines not to be split."""
    for start, end, is_code in _regions(text):
        if is_code:
            for line in _lines(text, start, end):
                yield line[0], line[1], True
            continue
        for ps, pe in _paragraphs(text, start, end):
            yield from _paragraph_units(text, ps, pe)


def _regions(text: str) -> Iterator[tuple[int, int, bool]]:
    """Prose regions and fenced code blocks (``` or ~~~), in order."""
    pos = 0
    opening: re.Match[str] | None = None
    for m in _FENCE_LINE.finditer(text):
        if opening is None:
            opening = m
        elif m.group(1)[0] == opening.group(1)[0] and len(m.group(1)) >= len(opening.group(1)):
            yield pos, opening.start(), False
            yield opening.start(), m.end(), True
            pos, opening = m.end(), None
    yield pos, len(text), False


def _pieces(text: str, start: int, end: int, cuts: Iterable[tuple[int, int]]) -> Iterator[Span]:
    """The trimmed, non-empty spans between cuts; a cut (a, b) ends one piece at a, the next starts at b."""
    pos = start
    for cut_start, cut_end in cuts:
        span = _trim(text, pos, cut_start)
        if span:
            yield span
        pos = cut_end
    span = _trim(text, pos, end)
    if span:
        yield span


def _paragraphs(text: str, start: int, end: int) -> Iterator[Span]:
    breaks = ((m.start(), m.end()) for m in _PARAGRAPH_BREAK.finditer(text, start, end))
    return _pieces(text, start, end, breaks)


def _lines(text: str, start: int, end: int) -> list[Span]:
    lines = (_trim(text, m.start(), m.end()) for m in _LINE.finditer(text, start, end))
    return [line for line in lines if line]


def _paragraph_units(text: str, start: int, end: int) -> Iterator[tuple[int, int, bool]]:
    """Split a paragraph at line breaks that end a heading, list item, table row or code line."""
    if text.find("\n", start, end) < 0:
        yield start, end, False
        return
    lines = _lines(text, start, end)
    if _looks_like_code(text, lines):
        yield from _code_and_prose(text, lines)
        return
    longest = max(e - s for s, e in lines)
    group_start = lines[0][0]
    for current, following in zip(lines, lines[1:], strict=False):
        if _breaks_after(text[current[0] : current[1]], text[following[0] : following[1]], longest):
            yield group_start, current[1], False
            group_start = following[0]
    yield group_start, lines[-1][1], False


def _code_and_prose(text: str, lines: list[Span]) -> Iterator[tuple[int, int, bool]]:
    """A paragraph that looks like code: each code line verbatim, each run of prose lines as one unit to split
    into sentences. A manual's paragraph often ends in the example it introduces ("… you can use the \\tikzset
    command at the beginning of the document as in" / "\\tikzset{help lines/.style=very thin}"); kept whole as
    code, its five sentences became one 600-character piece."""
    for is_prose, group in groupby(lines, key=lambda line: _is_prose_line(text, *line)):
        run = list(group)
        if is_prose:
            yield run[0][0], run[-1][1], False
        else:
            yield from ((s, e, True) for s, e in run)


def _is_prose_line(text: str, start: int, end: int) -> bool:
    """Running text, not code: prose that does not look like code, or prose of several sentences whatever it
    ends with ("… as shown below. \\indentpattern{00110}")."""
    line = text[start:end]
    if not _is_prose(line):
        return False
    first_sentence_end = next(iter(_sentences_in(text, start, end)), (start, end))[1]
    return not _is_code_line(line) or first_sentence_end < end


def _looks_like_code(text: str, lines: list[Span]) -> bool:
    codey = sum(1 for s, e in lines if _is_code_line(text[s:e]))
    return codey * 2 >= len(lines)


def _is_code_line(line: str) -> bool:
    """A line shaped like code, or holding a code token (`::`, `->`, `==`) outside running prose."""
    return bool(_CODE_LINE.search(line)) or (bool(_CODE_TOKEN.search(line)) and not _is_prose(line))


def _is_prose(line: str) -> bool:
    """Running text: at least eight words, most of them plain words."""
    words = line.split()
    plain = sum(1 for word in words if word.strip(".,;:!?()[]\"'‘’“”").isalpha())
    return len(words) >= _PROSE_MIN_WORDS and plain >= _PROSE_PLAIN_SHARE * len(words)


def _breaks_after(line: str, following: str, longest: int) -> bool:
    """Whether a single line break between two lines of a paragraph ends a unit."""
    if _LIST_ITEM.match(following) or _MD_HEADING.match(line):
        return True
    if _RULE.fullmatch(line) or _RULE.fullmatch(following):
        return True
    if line.count("|") >= 2 and following.count("|") >= 2:
        return True
    if line[-1] in _TERMINAL or line[-1] in ",;-\u2013(":
        return False
    short = len(line) < 0.6 * longest
    return short and not following[0].islower()


def _sentences_in(text: str, start: int, end: int) -> Iterator[Span]:
    ends = (
        (m.end(), m.end())
        for m in _SENTENCE_END.finditer(text, start, end)
        if m.end() < end and _is_boundary(text, start, m)
    )
    return _pieces(text, start, end, ends)


def _is_boundary(text: str, unit_start: int, m: re.Match[str]) -> bool:
    """Whether the punctuation matched by `m` ends a sentence."""
    punct = m.group("w")
    if punct is None:
        return True  # CJK full stop, exclamation or question mark
    if "." not in punct and "\u2026" not in punct:
        return True
    visible = _NEXT_VISIBLE.match(text, m.end())
    next_char = visible.group(1) if visible else ""
    if next_char.islower():
        return False
    if punct != ".":
        return True
    if m.start() == unit_start or text[m.start() - 1].isspace():
        return False  # a lone period: dot leaders of a table of contents, not a sentence end
    return not _is_abbreviation(text, unit_start, m.start(), next_char)


def _is_abbreviation(text: str, unit_start: int, dot: int, next_char: str) -> bool:
    """Whether the word ending at the period at `dot` is an abbreviation, initial or list number."""
    window = text[max(unit_start, dot - 40) : dot]
    if not window or window[-1].isspace():
        return False
    token = window.split()[-1]
    core = token.lstrip(_TOKEN_OPENERS)
    low = core.lower()
    if low in _ALWAYS_ABBREVIATIONS or _INITIALS.fullmatch(core):
        return True
    if low in _NUMBER_ABBREVIATIONS:
        return next_char.isdigit() or next_char in "(#"
    if _ENUMERATOR.fullmatch(core):
        token_start = dot - len(token)
        line_start = max(unit_start, text.rfind("\n", 0, token_start) + 1)
        return not text[line_start:token_start].strip()
    return False


def _bounded(text: str, start: int, end: int, max_chars: int) -> Iterator[Span]:
    """`(start, end)` cut at soft breaks into pieces no longer than `max_chars`."""
    if end - start <= max_chars // CJK_WEIGHT or (
        end - start <= max_chars and not _CJK.search(text, start, end)
    ):
        yield start, end
        return
    pos = start
    while True:
        limit = _char_limit(text, pos, end, max_chars)
        if end - pos <= limit:
            span = _trim(text, pos, end)
            if span:
                yield span
            return
        cut = _cut_point(text, pos, pos + limit)
        span = _trim(text, pos, cut)
        if span:
            yield span
        following = _NONSPACE.search(text, cut, end)
        if following is None:
            return
        pos = following.start()


def _char_limit(text: str, pos: int, end: int, max_chars: int) -> int:
    """How many characters from `pos` fit in `max_chars`, counting CJK characters heavier."""
    window = text[pos : min(end, pos + max_chars)]
    if not _CJK.search(window):
        return max_chars
    cost = 0
    for i, ch in enumerate(window):
        cost += CJK_WEIGHT if _CJK.match(ch) else 1
        if cost > max_chars:
            return max(i, 1)
    return max_chars


def _cut_point(text: str, pos: int, hard: int) -> int:
    """Best place to cut in (pos, hard]: after punctuation, else at whitespace, else at `hard`."""
    low = pos + (hard - pos) // 2
    cut = None
    for m in _SOFT_BREAK.finditer(text, low, hard):
        cut = m.end()
    if cut is not None and cut > pos:
        return cut
    for m in _WHITESPACE.finditer(text, low, hard):
        cut = m.start()
    if cut is not None and cut > pos:
        return cut
    return hard
