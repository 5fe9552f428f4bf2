"""Choosing the sentences the InfiniRetri loop reads when it does not read the whole document: from the
rankings of the candidate sources (see sources.py), each ranking in turn gives its next best sentence, with
its neighbours, until its share of the token budget is used. Reciprocal rank fusion of the same rankings
gives one relevance per sentence for the heat strip."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.retrieval.units import TokenizedDocument

RRF_K = 60  # the usual constant of reciprocal rank fusion: top ranks count, the long tail hardly
# Each source's share of the candidate budget in auto (measured on the real-document dev and held-out sets; see
# the benchmark notes): the attention index's ranking kept less evidence with a share of its own than without,
# so auto does not rank by it (0.7-0.8 s a question on a 765k-token manual); the indexed mode does.
# The fitting ranking (sources.py) has no share either: as a share it lost answers (the loop read same-kind
# sentences from elsewhere); auto keeps its best beside the loop instead (RetrievalSettings.fitting_beside_loop).
WEIGHTS = {"lexical": 1.0, "meaning": 3.0, "fitting": 0.0, "attention": 0.0}
MEANING_RANK_K = 10  # fusion constant when the loop's kept sentences are ordered with their meaning scores


def sentence_to_unit_scores(doc: TokenizedDocument, spans: np.ndarray, sentence_scores: np.ndarray) -> np.ndarray:
    """Per-unit scores from per-sentence scores (a unit lies inside one sentence)."""
    if spans.size == 0:
        return np.zeros(doc.num_units, dtype=np.float32)
    owner = np.searchsorted(spans[:, 0], doc.unit_chars[:, 0], side="right") - 1
    return sentence_scores[np.clip(owner, 0, len(spans) - 1)].astype(np.float32)


def token_to_unit_scores(doc: TokenizedDocument, token_scores: np.ndarray) -> np.ndarray:
    """Per-unit scores: the best token score in the unit, over the tokens scored so far (-inf beyond)."""
    scored = token_scores.shape[0]
    out = np.full(doc.num_units, -np.inf, dtype=np.float32)
    covered = np.flatnonzero((doc.unit_tokens[:, 1] <= scored) & (doc.unit_tokens[:, 1] > doc.unit_tokens[:, 0]))
    if covered.size:
        maxima = np.maximum.reduceat(token_scores, doc.unit_tokens[covered, 0])
        out[covered] = maxima  # each unit's run ends where the next covered unit starts (units are contiguous)
    return out


def ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of every unit by score, best first; units with no score (-inf or nan) rank nowhere (inf)."""
    valid = np.isfinite(scores)
    order = np.argsort(-np.where(valid, scores, -np.inf), kind="stable")
    out = np.empty(scores.shape[0], dtype=np.float64)
    out[order] = np.arange(1, scores.shape[0] + 1)
    out[~valid] = np.inf
    return out


def fuse(unit_scores: Sequence[np.ndarray], weights: Sequence[float] | None = None, k: int = RRF_K) -> np.ndarray:
    """Reciprocal rank fusion: sum over rankings of weight / (k + rank)."""
    weights = weights or [1.0] * len(unit_scores)
    fused = np.zeros(unit_scores[0].shape[0], dtype=np.float64)
    for scores, weight in zip(unit_scores, weights):
        fused += weight / (k + ranks(scores))
    return fused


def shares(names: Sequence[str]) -> list[float]:
    """The named sources' shares of the candidate budget (WEIGHTS); equal shares when none has one of its own
    (the attention index alone, in indexed mode)."""
    weights = [WEIGHTS.get(name, 1.0) for name in names]
    return weights if any(weight > 0 for weight in weights) else [1.0] * len(names)


def with_a_share(names: Sequence[str]) -> tuple[str, ...]:
    """The named sources that have a share of the candidate budget (WEIGHTS): those auto ranks by."""
    return tuple(name for name in names if WEIGHTS.get(name, 1.0) > 0)


def choose_units(doc: TokenizedDocument, scores: np.ndarray, budget_tokens: int, neighbours: int = 1) -> list[int]:
    """Units by score, best first, each with `neighbours` units either side, until `budget_tokens` are
    used; returned in document order."""
    chosen: set[int] = set()
    used = 0
    for unit in np.argsort(-scores, kind="stable").tolist():
        if not np.isfinite(scores[unit]) or scores[unit] <= 0:
            break
        group = [u for u in range(unit - neighbours, unit + neighbours + 1) if 0 <= u < doc.num_units and u not in chosen]
        cost = sum(doc.unit_length(u) for u in group)
        if chosen and used + cost > budget_tokens:
            break
        chosen.update(group)
        used += cost
    return sorted(chosen)


def choose_interleaved(doc: TokenizedDocument, rankings: Sequence[np.ndarray], weights: Sequence[float],
                       budget_tokens: int, neighbours: int = 1) -> list[int]:
    """Units taken from each ranking in turn, best first, each with `neighbours` units either side: the
    ranking that has spent the least of its share (`weights`) goes next; a ranking stops when its next unit
    has no score or does not fit. Returned in document order."""
    orders = [np.argsort(-np.where(np.isfinite(r), r, -np.inf), kind="stable") for r in rankings]
    position = [0] * len(rankings)
    spent = [0.0] * len(rankings)
    active = [w > 0 for w in weights]
    chosen: set[int] = set()
    used = 0
    while any(active):
        source = min((i for i, a in enumerate(active) if a), key=lambda i: spent[i] / weights[i])
        unit = _next_unit(orders[source], rankings[source], position, source, chosen)
        if unit is None:
            active[source] = False
            continue
        group = [u for u in range(unit - neighbours, unit + neighbours + 1) if 0 <= u < doc.num_units and u not in chosen]
        cost = sum(doc.unit_length(u) for u in group)
        if chosen and used + cost > budget_tokens:
            active[source] = False
            continue
        chosen.update(group)
        used += cost
        spent[source] += cost
    return sorted(chosen)


def _next_unit(order: np.ndarray, scores: np.ndarray, position: list[int], source: int, chosen: set[int]) -> int | None:
    """The ranking's best unit not chosen yet, or None when it has no more scored units."""
    while position[source] < len(order):
        unit = int(order[position[source]])
        position[source] += 1
        if not np.isfinite(scores[unit]) or scores[unit] <= 0:
            return None
        if unit not in chosen:
            return unit
    return None
