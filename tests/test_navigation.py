"""Navigation lines (contents and index entries) are told from sentences, and rankings put them last."""

from __future__ import annotations

import numpy as np
import pytest

from app.documents import split_sentences
from app.documents.navigation import is_navigation, without_leaders
from app.retrieval.lexical import lexical_index
from app.retrieval.sources import after_the_rest


@pytest.mark.parametrize("line", [
    "Mouseformat . . . . . . . . . . . . . . . . . . . . . 161",
    "1.3.3 Printing Notation .......... 45",
    "longraggedheader . §13.1.3; 304, 308, 530",
    "\\unitlength, 416, 417 \\unitlength (length), 137, 167, 260, 359, 415, 416",
    # Octave's index, entries run together into one sentence whose last entry has four words
    ". . . . . . . . . 315 plotting, multiple plot windows . . . . . . . . 399 plotting, multiple plots per figure "
    ". . . . . . . . 398 plotting, object manipulation . . . . . . . . 400 plotting, saving and printing plots.",
])
def test_contents_and_index_entries_are_navigation(line):
    assert is_navigation(line)


@pytest.mark.parametrize("sentence", [
    "The default size of postscript output is 10 inches x 7 inches.",
    "The values 1, 2, 3 and 4 name the four corners of the box.",
    "x = [-2, -1, 1, 2];",  # a code example, not an index entry
    "See section 3.2.1 for details...",
    "\\setfloatlocations{float}{locs} . . . . . . . . . 182 Sets the default location for the float to locs.",
])
def test_sentences_and_examples_are_not(sentence):
    assert not is_navigation(sentence)


def test_navigation_goes_after_every_other_scored_unit_in_its_own_order():
    scores = np.array([0.9, 0.1, 0.8, 0.5, -np.inf], dtype=np.float32)
    demoted = np.array([True, False, True, False, True])
    moved = after_the_rest(scores, demoted)
    assert np.argsort(-moved, kind="stable").tolist()[:4] == [3, 1, 0, 2]
    assert np.isneginf(moved[4]) and moved.dtype == np.float32
    assert after_the_rest(scores, np.zeros(5, dtype=bool)) is scores


def test_the_document_s_navigation_sentences_are_found_once():
    text = "Contents . . . . . . . 3\n\nThe default is ten. It can be changed."
    sentences = split_sentences(text)
    mask = lexical_index(text, sentences).navigation
    assert mask.tolist() == [1.0] + [0.0] * (len(sentences) - 1)
    assert lexical_index(text, sentences).navigation is mask


@pytest.mark.parametrize(("sentence", "words"), [
    (". . . . . . . . 192 leqno Class option for numbering equations at the left.",
     "leqno Class option for numbering equations at the left."),
    ("\\setfloatlocations{float}{locs} . . . . . . 182 Sets the default location.",
     "\\setfloatlocations{float}{locs}: Sets the default location."),
    ("2.3 Default limits . . . . . . . . 41", "2.3 Default limits"),
    ("The options are: a, b... or c.", "The options are: a, b... or c."),  # no leaders: as it was
    (". . . . . . .", ". . . . . . ."),  # nothing else: as it was
])
def test_dot_leaders_and_their_page_numbers_are_dropped_from_a_quote(sentence, words):
    assert without_leaders(sentence) == words
