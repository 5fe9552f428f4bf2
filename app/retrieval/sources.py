"""The candidate sources: each ranks the document's units (sentences) for a question, cheaply, so that the
InfiniRetri loop reads the best of them instead of the whole document.

- lexical: BM25 over the sentences (always there: built in about a second when a document opens);
- meaning: closeness in meaning of the sentence to the question (see meaning.py: static token vectors at
  once, sentence embeddings once they are built);
- fitting: the meaning ranking over the sentences that can answer what the question asks for, a default, a
  number or a file (answer_kind.py), when it asks for one: "How long does each image linger, out of the box?"
  shares no word with "… successive frames … (default 5)", and meaning ranks it among thousands of sentences
  on animation, but first among the few hundred that state a default. Auto keeps its few best beside the
  loop's choice; it has no share of the candidates (candidates.WEIGHTS);
- attention: the question's attention to the attention index, at the index layer, summed over the
  calibrated retrieval heads (over the part indexed so far): the indexed mode's candidates; auto gives it no
  share of its candidates and does not rank by it (see candidates.WEIGHTS).

Every ranking puts navigation lines (contents entries, index entries: see app/documents/navigation.py) after
the sentences that say something: they share the question's words but never answer it. So it does with a
sentence that repeats one a few sentences before it (app/documents/repeats.py): the first copy, with its
neighbours, already brings that place to the loop.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from app.retrieval.answer_kind import SentenceFacts
from app.retrieval.candidates import sentence_to_unit_scores, token_to_unit_scores
from app.retrieval.index_scoring import question_queries, score_document
from app.retrieval.index_store import AttentionIndex
from app.retrieval.lexical import LexicalIndex, lexical_index
from app.retrieval.loop import Run
from app.retrieval.meaning import meaning
from app.retrieval.scoring import smooth
from app.retrieval.units import SpanLike

SOURCES = ("lexical", "meaning", "fitting", "attention")  # "fitting" reads "meaning"'s scores: after it
_facts: weakref.WeakKeyDictionary[LexicalIndex, SentenceFacts] = weakref.WeakKeyDictionary()  # live as long as their index
_facts_lock = threading.Lock()


@dataclass
class Rankings:
    """Per source, a score for every unit of the document (-inf where the source has none yet)."""

    scores: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    meaning_reading: str = ""  # what the meaning ranking read (see meaning.py), when there is one


def rank_units(run: Run, text: str, sentences: Sequence[SpanLike], index: AttentionIndex | None,
               sources: Sequence[str] = SOURCES) -> Rankings:
    """The rankings of the wanted sources that are available now."""
    rankings = Rankings()
    words = lexical_index(text, sentences)
    demoted = sentence_to_unit_scores(run.doc, words.spans, words.demoted().astype(np.float32)) > 0
    for source in sources:
        started = time.perf_counter()
        scores = _rank(source, run, text, sentences, index, words, rankings)
        if scores is not None:
            rankings.scores[source] = after_the_rest(scores, demoted)
            rankings.seconds[source] = round(time.perf_counter() - started, 3)
    return rankings


def after_the_rest(scores: np.ndarray, demoted: np.ndarray) -> np.ndarray:
    """The scores with the `demoted` units moved below every other unit scored (their order kept)."""
    scored = np.isfinite(scores)
    moved = demoted & scored
    if not moved.any():
        return scores
    spread = float(scores[scored].max() - scores[scored].min()) + 1.0
    return np.where(moved, scores - spread, scores).astype(scores.dtype)


def _rank(source: str, run: Run, text: str, sentences: Sequence[SpanLike], index: AttentionIndex | None,
          words: LexicalIndex, rankings: Rankings) -> np.ndarray | None:
    if source == "lexical":
        return sentence_to_unit_scores(run.doc, words.spans, words.scores(run.question))
    if source == "meaning" and sentences:
        found = meaning(text, sentences, run.question, run.settings.deep_meaning)
        if found is None:
            return None
        rankings.meaning_reading = found.reading
        return sentence_to_unit_scores(run.doc, words.spans, found.scores)
    if source == "fitting" and "meaning" in rankings.scores:
        return fitting_scores(run, text, words, rankings.scores["meaning"])
    if source.startswith("attention") and index is not None:
        heads = None if source == "attention_all_heads" else run.heads.index
        return token_to_unit_scores(run.doc, attention_token_scores(run, index, heads))
    return None


def fitting_scores(run: Run, text: str, words: LexicalIndex, meaning_scores: np.ndarray) -> np.ndarray | None:
    """The meaning scores of the units whose sentence can answer what the question asks for (-inf for the
    rest); None when it asks for nothing in particular."""
    mask = sentence_facts(text, words).fitting(run.question)
    if mask is None:
        return None
    fits = sentence_to_unit_scores(run.doc, words.spans, np.asarray(mask, dtype=np.float32)) > 0
    return np.where(fits, meaning_scores, -np.inf).astype(np.float32)


def sentence_facts(text: str, words: LexicalIndex) -> SentenceFacts:
    """The facts of the sentences of `words` (a document's lexical index), kept for its next questions."""
    with _facts_lock:
        facts = _facts.get(words)
        if facts is None:
            facts = _facts[words] = SentenceFacts([text[start:end] for start, end in words.spans.tolist()])
        return facts


def attention_token_scores(run: Run, index: AttentionIndex, heads: Sequence[int] | None) -> np.ndarray:
    """The question's phrase-smoothed attention to every indexed token, summed over `heads`."""
    queries, weights = question_queries(run.model.model, run.index_layer, run.prompt, run.settings.window_tokens)
    raw = score_document(run.model.model, run.index_layer, index, queries, weights, heads, cancel=run.cancel)
    return smooth(torch.from_numpy(raw), run.settings.phrase_width).numpy()
