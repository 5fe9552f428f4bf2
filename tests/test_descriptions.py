"""A retained term widens to the sentence that describes it; passages are listed sentences first."""

from __future__ import annotations

import numpy as np

from app.documents import split_sentences
from app.retrieval.descriptions import with_descriptions
from app.retrieval.generation import reading_order, says_something
from app.retrieval.types import Passage

MANUAL = (
    "The return status is zero unless an error occurs.\n\n"
    "shift\n\nshift [n]\nShift the positional parameters to the left by n.\n"
    "Parameters represented by the numbers $# down to $#-n+1 are unset.\n\n"
    "To list all breakpoints, use:\nvoid breakpoints();\n"
    "To clear a breakpoint, use:\nvoid clear(string file, int line);\n\n"
    "Chapter 9: Command-line options\n170\n"
    "Type asy -h to see the full list of options.\n\n"
    "gnuplot 5.4 259\n\nPNG and GIF images are created using the external library libgd.\n\n"
    "I\n\ninsert-comment (M-#) . . . . . . . . . . 142 insert-completions (M-*) . . . . . . . 139 more words here\n"
)


def _spans(text: str) -> np.ndarray:
    return np.asarray([(s.start, s.end) for s in split_sentences(text)], dtype=np.int64)


def _at(text: str, piece: str, score: float, kept_by: str = "loop") -> Passage:
    start = text.index(piece)
    return Passage(start, start + len(piece), score, piece, kept_by)


def _widened(piece: str, score: float = 0.9) -> Passage:
    (passage,) = with_descriptions(MANUAL, _spans(MANUAL), [_at(MANUAL, piece, score)])
    return passage


def test_a_term_widens_to_the_sentence_after_it():
    passage = _widened("shift [n]")
    assert passage.text == "shift [n]\nShift the positional parameters to the left by n."
    assert MANUAL[passage.start : passage.end] == passage.text and passage.score == 0.9
    assert _widened("shift").text.endswith("Shift the positional parameters to the left by n."), "past a second term"


def test_a_code_line_joins_the_sentence_that_introduces_it():
    assert _widened("void breakpoints();").text == "To list all breakpoints, use:\nvoid breakpoints();"


def test_headings_page_furniture_index_letters_and_sentences_stay_as_they_are():
    for piece in ("Chapter 9: Command-line options\n170", "gnuplot 5.4 259", "I",
                  "Shift the positional parameters to the left by n."):
        assert _widened(piece).text == piece, piece


def test_a_widened_term_takes_in_its_retained_description_and_the_better_score():
    term = _at(MANUAL, "shift [n]", 0.4)
    description = _at(MANUAL, "Shift the positional parameters to the left by n.", 0.8, "meaning")
    other = _at(MANUAL, "The return status is zero unless an error occurs.", 1.0)
    kept = with_descriptions(MANUAL, _spans(MANUAL), [description, other, term])
    assert [p.start for p in kept] == sorted(p.start for p in kept), "document order"
    assert len(kept) == 2 and kept[1].text.startswith("shift [n]\nShift") and kept[1].score == 0.8
    assert kept[1].kept_by == "loop", "the term is what the loop kept"


def test_passages_are_listed_sentences_first_then_fragments():
    letter, heading = _at(MANUAL, "I", 1.0), _at(MANUAL, "Chapter 9: Command-line options\n170", 0.9)
    weak, strong = _at(MANUAL, "Type asy -h to see the full list of options.", 0.2), _widened("shift [n]", 0.5)
    assert not says_something(letter.text) and says_something(strong.text)
    assert reading_order([letter, weak, heading, strong]) == [strong, weak, letter, heading]
