"""Sentences repeating one a few sentences before them (an example's code and its output) rank last."""

from __future__ import annotations

from app.documents.repeats import nearby_repeats
from app.documents.sentences import split_sentences
from app.retrieval.lexical import lexical_index


def test_a_copy_a_few_sentences_later_is_a_repeat_and_the_first_copy_is_not():
    sentences = ["\\draw [rounded corners] (0,0) -- (1,1);", "It rounds the corner.",
                 "\\draw  [Rounded corners] (0,0) -- (1,1);", "Another sentence."]
    assert nearby_repeats(sentences).tolist() == [False, False, True, False]


def test_a_copy_far_away_is_another_place_not_a_repeat():
    sentences = ["The default is 0.", *[f"Filler sentence {i}." for i in range(10)], "The default is 0."]
    assert not nearby_repeats(sentences, near=8).any()
    assert nearby_repeats(sentences, near=11).tolist()[-1]


def test_the_lexical_index_demotes_navigation_and_repeats():
    text = ("Contents . . . . . . . 3\n\nThe rounded corners option rounds every corner. "
            "Here is an example. The rounded corners option rounds every corner. It is 4pt by default.")
    sentences = split_sentences(text)
    index = lexical_index(text, sentences)
    assert index.demoted().tolist() == [True, False, False, True, False]
    scores = index.scores("rounded corners")
    assert scores[1] == scores[3] > 0  # BM25 alone cannot tell the copies apart
