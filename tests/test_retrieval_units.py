"""Tokenising once, units and window packing: offsets must round-trip to the exact text."""

from __future__ import annotations

import numpy as np

from app.documents import split_sentences
from app.retrieval.units import pack_windows, tokenize_document


def test_units_cover_the_text_in_order(tiny_model, haystack):
    text = haystack[:30000]
    doc = tokenize_document(tiny_model.tokenizer, text, split_sentences(text))
    assert doc.num_units > 100
    assert np.all(doc.unit_tokens[1:, 0] == doc.unit_tokens[:-1, 1]), "token ranges are contiguous"
    assert np.all(np.diff(doc.unit_chars[:, 0]) > 0), "units are in document order"
    decoded = tiny_model.tokenizer.decode(doc.ids.tolist())
    assert decoded.split() == text.split()


def test_every_unit_decodes_to_its_character_span(tiny_model, haystack):
    text = haystack[:8000]
    doc = tokenize_document(tiny_model.tokenizer, text, split_sentences(text))
    for unit in range(doc.num_units):
        start, end = doc.unit_chars[unit]
        decoded = tiny_model.tokenizer.decode(doc.unit_ids(unit).tolist()).strip()
        assert decoded == text[start:end].strip()


def test_long_sentences_are_cut_into_bounded_units(tiny_model):
    text = " ".join(["word"] * 3000) + "."
    doc = tokenize_document(tiny_model.tokenizer, text, split_sentences(text, max_chars=100000), max_unit_tokens=64)
    lengths = doc.unit_tokens[:, 1] - doc.unit_tokens[:, 0]
    assert lengths.max() <= 64
    assert doc.unit_chars[0, 0] == 0 and doc.unit_chars[-1, 1] == len(text)


def test_windows_pack_whole_units_within_the_budget(tiny_model, haystack):
    text = haystack[:40000]
    doc = tokenize_document(tiny_model.tokenizer, text, split_sentences(text))
    windows = pack_windows(doc, 256)
    assert windows[0][0] == 0 and windows[-1][1] == doc.num_units
    assert all(a[1] == b[0] for a, b in zip(windows, windows[1:]))
    sizes = [doc.unit_tokens[end - 1, 1] - doc.unit_tokens[first, 0] for first, end in windows]
    assert max(sizes) <= 256
    assert min(sizes[:-1]) > 256 // 2


def test_empty_text_has_no_units(tiny_model):
    doc = tokenize_document(tiny_model.tokenizer, "", [])
    assert doc.num_units == 0 and pack_windows(doc, 1024) == []


def test_chunked_tokenisation_keeps_units_and_text(tiny_model, haystack):
    text = haystack[:20000]
    sentences = split_sentences(text)
    whole = tokenize_document(tiny_model.tokenizer, text, sentences, chunk_chars=10**9)
    chunked = tokenize_document(tiny_model.tokenizer, text, sentences, chunk_chars=700)
    assert np.array_equal(whole.unit_chars, chunked.unit_chars)
    assert tiny_model.tokenizer.decode(chunked.ids.tolist()).split() == text.split()
    assert abs(whole.num_tokens - chunked.num_tokens) <= 2 * (len(text) // 700 + 1), "only words at cuts differ"
