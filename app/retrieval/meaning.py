"""The meaning ranking: how close each sentence is in meaning to the question. Once the deep embedder
(all-mpnet-base-v2, deep_model.py) has read every sentence, in the background after the other indexes, its
embeddings alone rank. Until then, one small model (all-MiniLM-L6-v2) read two ways:

- its sentence embeddings (embeddings.py): a minute to build for a 300-page manual, several for a thousand
  pages, in the background when a document opens;
- its static token vectors (token_vectors.py): ready in seconds for any document.

The token vectors stand in for the embeddings until the embeddings are built: a question asked at once after
opening a manual gets a ranking by meaning, not by words alone, and the 100 sentences they rank best are
embedded on the spot and ranked first by both readings (see the benchmark notes, runs c1 and c2), and by the
deep embedder's as well once it is in memory (a document's indexing loads it first; run 56): all 100 where
the CPU computes bfloat16 natively, the best 30 elsewhere, where it reads about 20 sentences a second
(twentieth session). Once every
sentence is embedded, the ranking is the embeddings' alone: summing both readings kept the evidence a little
more often on the real-document sets but answered fewer questions right (36 against 43 of 92).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.retrieval import embeddings
from app.retrieval.cpu import bfloat16_is_fast
from app.retrieval.embeddings import SentenceEmbedder, embedding_scores
from app.retrieval.token_vectors import token_scores
from app.retrieval.units import SpanLike

READ_AGAIN = 100  # the token vectors' best sentences embedded at once while the document's are not yet
READ_AGAIN_SLOW = 30  # ... of which the deep embedder reads this many on a CPU without native bfloat16


@dataclass
class Meaning:
    """Per sentence, the meaning score, and which reading gave it."""

    scores: np.ndarray
    reading: str  # "deep embeddings", "embeddings" (every sentence embedded) or "token vectors" (until then)


def meaning(text: str, sentences: Sequence[SpanLike], question: str, deep: bool = True) -> Meaning | None:
    """With `deep`, the deep embeddings' scores once every sentence has them. Otherwise all-MiniLM-L6-v2's:
    the embeddings' scores once every sentence is embedded; until then the token vectors' scores,
    standardised, with their best READ_AGAIN sentences embedded at once and ranked first (a partly built
    store is left aside: this is the ranking measured for questions asked before the embeddings are built).
    None when the embedding model is not installed."""
    deep_store = embeddings.complete_deep_store(text, sentences) if deep else None
    if deep_store is not None:  # opened once: it checks every file's checksum
        closely = embedding_scores(text, sentences, question, which="deep", store=deep_store)
        if closely is not None and np.isfinite(closely).all():
            return Meaning(closely, "deep embeddings")
    embedded = embedding_scores(text, sentences, question)
    if embedded is not None and np.isfinite(embedded).all():
        return Meaning(embedded, "embeddings")
    static = token_scores(text, sentences, question)
    if static is None:
        return None if embedded is None else Meaning(embedded, "embeddings")
    return Meaning(best_read_again(text, sentences, question, static, deep), "token vectors")


def meaning_scores(text: str, sentences: Sequence[SpanLike], question: str, deep: bool = True) -> np.ndarray | None:
    """The scores of `meaning` alone."""
    found = meaning(text, sentences, question, deep)
    return None if found is None else found.scores


def best_read_again(text: str, sentences: Sequence[SpanLike], question: str, static: np.ndarray,
                    deep: bool = True) -> np.ndarray:
    """The token vectors' scores, standardised, with their best READ_AGAIN sentences embedded now and ranked
    first by both readings summed, MiniLM's (half a second); with `deep` and the deep embedder in memory (the
    document's indexing loads it as it starts), the best `deep_read_again()` of those are read by
    all-mpnet-base-v2 as well and ranked first by the three readings summed."""
    scores = standardised(static)
    best = np.argsort(-np.where(np.isfinite(static), static, -np.inf), kind="stable")[:READ_AGAIN]
    best = best[np.isfinite(static[best])]
    quick, closely = embeddings.sentence_embedder(), embeddings.loaded_deep_embedder() if deep else None
    if not len(best) or (quick is None and closely is None):
        return scores
    both = standardised(static[best])
    if quick is not None:
        both = both + read(quick, text, sentences, best, question)
    scores = ranked_first(scores, best, both)
    if closely is None:
        return scores
    deepest = best[np.argsort(-both, kind="stable")[: deep_read_again()]]
    return ranked_first(scores, deepest, scores[deepest] + read(closely, text, sentences, deepest, question))


def deep_read_again() -> int:
    """How many of the best sentences the deep embedder reads again: READ_AGAIN where the CPU computes bfloat16
    natively (about a second), READ_AGAIN_SLOW elsewhere, where it reads about 20 a second on two cores."""
    return READ_AGAIN if bfloat16_is_fast() else READ_AGAIN_SLOW


def read(embedder: SentenceEmbedder, text: str, sentences: Sequence[SpanLike], chosen: np.ndarray,
         question: str) -> np.ndarray:
    """The `chosen` sentences' closeness to the question by `embedder`, standardised."""
    texts = [text[sentences[i].start : sentences[i].end] for i in chosen]
    return standardised(embedder.embed(texts) @ embedder.embed([question])[0])


def ranked_first(scores: np.ndarray, chosen: np.ndarray, their_scores: np.ndarray) -> np.ndarray:
    """`scores` with the `chosen` units given `their_scores` and every other unit moved below them."""
    below = float(scores[np.isfinite(scores)].max() - their_scores.min()) + 1.0
    moved = scores - below
    moved[chosen] = their_scores
    return moved.astype(np.float32)


def standardised(scores: np.ndarray) -> np.ndarray:
    """(scores - mean) / spread over the finite scores; -inf stays -inf."""
    finite = np.isfinite(scores)
    if not finite.any():
        return scores
    mean = float(scores[finite].mean())
    spread = float(scores[finite].std()) or 1.0
    return np.where(finite, (scores - mean) / spread, -np.inf).astype(np.float32)
