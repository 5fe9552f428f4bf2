"""The candidate sources: each ranks the document's units (sentences) for a question, cheaply, so that the
InfiniRetri loop reads the best of them instead of the whole document.

- lexical: BM25 over the sentences (always there: built in about a second when a document opens);
- meaning: cosine similarity of sentence embeddings (once they are built);
- attention: the question's attention to the attention index, at the index layer, summed over the
  calibrated retrieval heads (over the part indexed so far).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from app.retrieval.candidates import sentence_to_unit_scores, token_to_unit_scores
from app.retrieval.embeddings import embedding_scores
from app.retrieval.index_scoring import question_queries, score_document
from app.retrieval.index_store import AttentionIndex
from app.retrieval.lexical import lexical_index
from app.retrieval.loop import Run
from app.retrieval.scoring import smooth
from app.retrieval.units import SpanLike

SOURCES = ("lexical", "meaning", "attention")


@dataclass
class Rankings:
    """Per source, a score for every unit of the document (-inf where the source has none yet)."""

    scores: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def rank_units(run: Run, text: str, sentences: Sequence[SpanLike], index: AttentionIndex | None,
               sources: Sequence[str] = SOURCES) -> Rankings:
    """The rankings of the wanted sources that are available now."""
    rankings = Rankings()
    spans = lexical_index(text, sentences).spans if {"lexical", "meaning"} & set(sources) else None
    for source in sources:
        started = time.perf_counter()
        scores = _rank(source, run, text, sentences, index, spans)
        if scores is not None:
            rankings.scores[source] = scores
            rankings.seconds[source] = round(time.perf_counter() - started, 3)
    return rankings


def _rank(source: str, run: Run, text: str, sentences: Sequence[SpanLike], index: AttentionIndex | None,
          spans: np.ndarray | None) -> np.ndarray | None:
    if source == "lexical" and spans is not None:
        return sentence_to_unit_scores(run.doc, spans, lexical_index(text, sentences).scores(run.question))
    if source == "meaning" and spans is not None and sentences:
        meaning = embedding_scores(text, sentences, run.question)
        return None if meaning is None else sentence_to_unit_scores(run.doc, spans, meaning)
    if source.startswith("attention") and index is not None:
        heads = None if source == "attention_all_heads" else run.heads.index
        return token_to_unit_scores(run.doc, attention_token_scores(run, index, heads))
    return None


def attention_token_scores(run: Run, index: AttentionIndex, heads: Sequence[int] | None) -> np.ndarray:
    """The question's phrase-smoothed attention to every indexed token, summed over `heads`."""
    queries, weights = question_queries(run.model.model, run.index_layer, run.prompt, run.settings.window_tokens)
    raw = score_document(run.model.model, run.index_layer, index, queries, weights, heads, cancel=run.cancel)
    return smooth(torch.from_numpy(raw), run.settings.phrase_width).numpy()
