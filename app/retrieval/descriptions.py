"""A retained term joins the sentence that describes it. Manuals list options, commands and functions as a
term on its own line and a description after it ("shift [n]" / "Shift the positional parameters to the left
by n."), or as a sentence that introduces a code line ("To list all breakpoints, use:" / "void breakpoints();").
The model's attention often lands on the term, which alone says nothing to a reader or to the answer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from app.documents.navigation import has_leaders, is_navigation
from app.retrieval.generation import MIN_WORDS, is_heading, says_something
from app.retrieval.types import Passage

REACH = 2  # the description starts within this many sentences after the term
_NUMBER = re.compile(r"\d+(?:\.\d+)*")
_WORD = re.compile(r"[^\W\d_]+")


def with_descriptions(text: str, sentence_spans: np.ndarray, passages: Sequence[Passage]) -> list[Passage]:
    """The passages in document order, each term or code line widened to the sentence that describes it (the
    one before when that one ends with a colon, else the next one that says something); a passage the
    widened one covers is dropped, its score kept when higher."""
    if sentence_spans.size == 0:
        return sorted(passages, key=lambda p: p.start)
    widened = [_described(text, sentence_spans, p) if _is_term(p.text) else p for p in passages]
    kept: list[Passage] = []
    for passage in sorted(widened, key=lambda p: -p.score):
        if any(k.start <= passage.start and passage.end <= k.end for k in kept):
            continue
        inside = [k for k in kept if passage.start <= k.start and k.end <= passage.end]
        if inside:
            passage = replace(passage, score=max(passage.score, *(k.score for k in inside)))
        kept = [k for k in kept if k not in inside] + [passage]
    return sorted(kept, key=lambda p: p.start)


def _is_term(sentence: str) -> bool:
    """A fragment with a word in it (not a lone letter, as an index's "I") that is not a heading, a contents or
    index entry, or page furniture ("gnuplot 5.4 259": numbers as many as words)."""
    words = _WORD.findall(sentence)
    return (max(map(len, words), default=0) > 1 and len(sentence.split()) < MIN_WORDS
            and len(_NUMBER.findall(sentence)) < len(words)
            and not is_navigation(sentence) and not is_heading(sentence))


def _described(text: str, sentence_spans: np.ndarray, term: Passage) -> Passage:
    starts = sentence_spans[:, 0]
    first = int(np.searchsorted(starts, term.start, side="right")) - 1
    if first > 0:
        before_start, before_end = (int(v) for v in sentence_spans[first - 1])
        before = text[before_start:before_end].rstrip()
        if before.endswith(":") and says_something(before):
            return _spanning(text, before_start, term.end, term)
    after = int(np.searchsorted(starts, term.end, side="left"))
    for start, end in sentence_spans[after : after + REACH].tolist():
        sentence = text[start:end]
        if is_navigation(sentence) or has_leaders(sentence) or is_heading(sentence):
            break
        if says_something(sentence):
            return _spanning(text, term.start, end, term)
    return term


def _spanning(text: str, start: int, end: int, term: Passage) -> Passage:
    piece = text[start:end]
    start += len(piece) - len(piece.lstrip())
    end -= len(piece) - len(piece.rstrip())
    return replace(term, start=start, end=end, text=text[start:end])
