"""The per-document attention index: written by a full pass, used by follow-ups, rebuilt when broken."""

from __future__ import annotations

import numpy as np
import pytest

from app.documents import split_sentences
from app.retrieval.index import index_folder, open_index, question_queries, score_document
from app.retrieval.pipeline import retrieve
from app.retrieval.prompt import build_prompt_parts
from app.retrieval.types import Cancelled, CancelToken, RetrievalSettings

FULL = RetrievalSettings(window_tokens=256, top_k=40)
INDEXED = RetrievalSettings(window_tokens=256, top_k=40, mode="indexed", followup_tokens=300)


@pytest.fixture
def text(haystack) -> str:
    return haystack[:15000]


def _folder(text, model):
    return index_folder(text, split_sentences(text), model.fingerprint, model.scoring_layer, FULL.window_tokens)


def test_a_full_pass_writes_a_compact_index(tiny_model, text):
    result = retrieve(text, split_sentences(text), "Who made the firmament?", tiny_model, FULL)
    index = open_index(_folder(text, tiny_model))
    assert index is not None
    assert index.keys.shape == (result.stats["document_tokens"], 2, 16)
    assert index.keys.dtype == np.float16
    assert index.document.num_tokens == result.stats["document_tokens"]
    assert result.stats["mode"] == "full"
    assert 0 < result.stats["index_bytes"] < 1024 * result.stats["document_tokens"]


def test_follow_ups_use_the_index_and_keep_exact_offsets(tiny_model, text):
    sentences = split_sentences(text)
    retrieve(text, sentences, "Who made the firmament?", tiny_model, FULL)
    result = retrieve(text, sentences, "Where was the garden?", tiny_model, INDEXED)
    assert result.stats["mode"] == "indexed"
    assert 0 < result.stats["focus_tokens"] <= INDEXED.followup_tokens and result.stats["index_scoring_seconds"] >= 0
    assert result.passages
    assert all(text[p.start : p.end] == p.text for p in result.passages)
    assert result.stats["processed_tokens"] < result.stats["document_tokens"]
    assert result.windows[0].start == 0 and len(result.windows) > 3


def test_indexed_mode_without_an_index_runs_the_full_pass(tiny_model, text):
    result = retrieve(text, split_sentences(text), "Where was the garden?", tiny_model, INDEXED)
    assert result.stats["mode"] == "full"


@pytest.mark.parametrize("damage", ["truncate_keys", "garbage_meta", "garbage_document"])
def test_a_damaged_index_is_rebuilt_not_fatal(tiny_model, text, damage):
    sentences = split_sentences(text)
    retrieve(text, sentences, "Who made the firmament?", tiny_model, FULL)
    folder = _folder(text, tiny_model)
    if damage == "truncate_keys":
        (folder / "keys.npy").write_bytes((folder / "keys.npy").read_bytes()[:1000])
    elif damage == "garbage_document":
        (folder / "document.npz").write_bytes(b"PK not a zip")
    else:
        (folder / "meta.json").write_text("{not json")
    result = retrieve(text, sentences, "Where was the garden?", tiny_model, INDEXED)
    assert result.stats["mode"] == "full"
    assert open_index(folder) is not None


def test_a_cancelled_pass_leaves_no_index(tiny_model, text):
    cancel = CancelToken()

    def stop_after_first_window(progress):
        if progress.stage == "retrieving":
            cancel.cancel()

    with pytest.raises(Cancelled):
        retrieve(text, split_sentences(text), "Who?", tiny_model, FULL, stop_after_first_window, cancel)
    assert not _folder(text, tiny_model).exists()


def test_streaming_softmax_matches_one_chunk(tiny_model, text):
    retrieve(text, split_sentences(text), "Who made the firmament?", tiny_model, FULL)
    index = open_index(_folder(text, tiny_model))
    prompt = build_prompt_parts(tiny_model.tokenizer, "Where was the garden?")
    queries, weights = question_queries(tiny_model.model, 1, prompt, 256)
    whole = score_document(tiny_model.model, 1, index, queries, weights, chunk=10**9)
    chunked = score_document(tiny_model.model, 1, index, queries, weights, chunk=333)
    assert np.allclose(whole, chunked, rtol=1e-4, atol=1e-7)
    heads = queries.shape[1]
    assert np.isclose(whole.sum(), heads * weights.sum().item(), rtol=1e-3), "each head's row sums to 1"


def test_a_different_sentence_split_does_not_reuse_the_index(tiny_model, text):
    sentences = split_sentences(text)
    retrieve(text, sentences, "Who made the firmament?", tiny_model, FULL)
    merged = sentences[1:]  # another split of the same text: its units differ, so must its index
    result = retrieve(text, merged, "Where was the garden?", tiny_model, INDEXED)
    assert result.stats["mode"] == "full"


def test_old_indexes_are_pruned_least_recently_used_first(tmp_path):
    import os

    from app.retrieval.index import prune_indexes

    for number, name in enumerate(["old", "used", "new"]):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "keys.npy").write_bytes(b"x" * 1000)
        (folder / "meta.json").write_text("{}")
        os.utime(folder / "meta.json", (1000 + number, 1000 + number))
    os.utime(tmp_path / "used" / "meta.json", (5000, 5000))  # opened recently
    removed = prune_indexes(tmp_path, limit_bytes=2100, keep=tmp_path / "new")
    assert [f.name for f in removed] == ["old"]
    assert sorted(f.name for f in tmp_path.iterdir()) == ["new", "used"]
    assert prune_indexes(tmp_path, limit_bytes=0, keep=tmp_path / "new") == [tmp_path / "used"]
