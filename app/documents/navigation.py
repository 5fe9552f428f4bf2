"""Text that points elsewhere instead of saying something: table-of-contents entries with dot leaders and
back-of-book index entries (a term and a list of page numbers). Long manuals hold hundreds to thousands of them
(645 of memoir's 20,471 sentences); they share a question's words but never answer it."""

from __future__ import annotations

import re

LEADERS_IN_A_RUN = 3  # this many dot leaders or more in one sentence: entries run together, not a sentence
_LEADER = re.compile(r"(?:\.\s*){4,}")  # ". . . . ." or "....." between an entry and its page
_LEADER_AND_PAGE = re.compile(rf"\s*{_LEADER.pattern}\d*\s*")  # the leaders with the page number after them
_NUMBER = re.compile(r"(?<![\w.])\d+(?![\w.])")
_WORD = re.compile(r"[^\W\d_]+")
_PAGE_LIST = re.compile(r"\d+\s*,\s*\d+\s*,\s*\d+")  # "304, 308, 530"
_CODE = re.compile(r"[=\[\]]")  # "x = [1, 2, 3];" is an example, not an index entry


def is_navigation(sentence: str) -> bool:
    """Whether the sentence is a contents line (dot leaders, then a page number and little else), several such
    entries run together, or an index entry (page numbers outnumber words). A command list's entry, whose
    leaders and page are followed by what the command does, is not."""
    pieces = _LEADER.split(sentence)
    if len(pieces) - 1 >= LEADERS_IN_A_RUN:
        return True  # a run of contents or index entries ("… . . . 399 plotting, multiple plots per figure . . . 398 …")
    if len(pieces) > 1:
        return len(_WORD.findall(pieces[-1])) < 4
    if not _PAGE_LIST.search(sentence) or _CODE.search(sentence):
        return False
    return len(_NUMBER.findall(sentence)) >= len(_WORD.findall(sentence))


def without_leaders(sentence: str) -> str:
    """A command list's entry as words: each run of dot leaders and the page number after it becomes ": "
    ("\\foo . . . . 41 Sets foo." -> "\\foo: Sets foo."; ". . . 192 leqno Numbers at the left." -> "leqno Numbers
    at the left.")."""
    pieces = [piece for piece in _LEADER_AND_PAGE.split(sentence) if piece.strip()]
    return ": ".join(pieces) if pieces else sentence
