"""The document tokenised once, cut into retrieval units (sentences, long ones split) and packed windows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


class SpanLike(Protocol):
    """Anything with character offsets `start` and `end`, like documents.Sentence."""

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...


@dataclass
class TokenizedDocument:
    """Token ids of the whole text, each unit's token range and character span."""

    ids: np.ndarray  # (N,) int64
    unit_tokens: np.ndarray  # (U, 2) token start, end of each unit
    unit_chars: np.ndarray  # (U, 2) character start, end of each unit

    @property
    def num_tokens(self) -> int:
        return int(self.ids.shape[0])

    @property
    def num_units(self) -> int:
        return int(self.unit_tokens.shape[0])

    def unit_length(self, unit: int) -> int:
        return int(self.unit_tokens[unit, 1] - self.unit_tokens[unit, 0])

    def unit_ids(self, unit: int) -> np.ndarray:
        start, end = self.unit_tokens[unit]
        return self.ids[start:end]


def tokenize_document(
    tokenizer: Any, text: str, sentences: Sequence[SpanLike], max_unit_tokens: int = 200, chunk_chars: int = 200_000,
    between_chunks: Callable[[], None] | None = None,
) -> TokenizedDocument:
    """Tokenise `text` once and assign every token to the sentence its first character falls in.

    The text is tokenised in chunks cut at sentence starts, so memory stays bounded for huge documents;
    `between_chunks` is called before each chunk (it may raise to cancel).
    """
    spans = _sentence_spans(text, sentences)
    ids, starts, ends = _tokenize_in_chunks(tokenizer, text, spans[:, 0], chunk_chars, between_chunks)
    owner = np.searchsorted(spans[:, 1], starts, side="right")  # first sentence ending after the token start
    keep = owner < len(spans)
    ids, starts, ends, owner = ids[keep], starts[keep], ends[keep], owner[keep]
    unit_tokens, unit_chars = _units_from_owner(owner, starts, ends, spans, max_unit_tokens)
    return TokenizedDocument(ids, unit_tokens, unit_chars)


def _tokenize_in_chunks(
    tokenizer: Any, text: str, sentence_starts: np.ndarray, chunk_chars: int,
    between_chunks: Callable[[], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Token ids and character start/end offsets of `text`, tokenised chunk by chunk."""
    cuts = [0]
    while cuts[-1] + chunk_chars < len(text):
        nxt = int(np.searchsorted(sentence_starts, cuts[-1] + chunk_chars))
        cut = int(sentence_starts[nxt]) if nxt < len(sentence_starts) else len(text)
        if cut <= cuts[-1]:
            cut = cuts[-1] + chunk_chars
        cuts.append(cut)
    cuts.append(len(text))
    ids, starts, ends = [], [], []
    for begin, stop in zip(cuts, cuts[1:]):
        if stop <= begin:
            continue
        if between_chunks:
            between_chunks()
        encoded = tokenizer(text[begin:stop], add_special_tokens=False, return_offsets_mapping=True)
        offsets = np.asarray(encoded["offset_mapping"], dtype=np.int64).reshape(-1, 2) + begin
        ids.append(np.asarray(encoded["input_ids"], dtype=np.int64))
        starts.append(offsets[:, 0])
        ends.append(offsets[:, 1])
    if not ids:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    return np.concatenate(ids), np.concatenate(starts), np.concatenate(ends)


def _sentence_spans(text: str, sentences: Sequence[SpanLike]) -> np.ndarray:
    if not sentences:
        stripped = text.strip()
        start = text.find(stripped) if stripped else 0
        return np.asarray([[start, start + len(stripped)]], dtype=np.int64)
    return np.asarray([[s.start, s.end] for s in sentences], dtype=np.int64)


def _units_from_owner(
    owner: np.ndarray, starts: np.ndarray, ends: np.ndarray, spans: np.ndarray, max_unit_tokens: int
) -> tuple[np.ndarray, np.ndarray]:
    """Contiguous token runs per sentence; runs longer than max_unit_tokens are cut into pieces."""
    if owner.size == 0:
        return np.zeros((0, 2), np.int64), np.zeros((0, 2), np.int64)
    boundaries = np.flatnonzero(np.diff(owner)) + 1
    run_starts = np.concatenate([[0], boundaries])
    run_ends = np.concatenate([boundaries, [owner.size]])
    tokens: list[tuple[int, int]] = []
    chars: list[tuple[int, int]] = []
    for first, last in zip(run_starts.tolist(), run_ends.tolist()):
        sentence = spans[owner[first]]
        for piece_start in range(first, last, max_unit_tokens):
            piece_end = min(piece_start + max_unit_tokens, last)
            char_start = sentence[0] if piece_start == first else int(starts[piece_start])
            char_end = sentence[1] if piece_end == last else int(ends[piece_end - 1])
            tokens.append((piece_start, piece_end))
            chars.append((max(int(char_start), int(sentence[0])), min(int(char_end), int(sentence[1]))))
    return np.asarray(tokens, dtype=np.int64), np.asarray(chars, dtype=np.int64)


def pack_windows(doc: TokenizedDocument, window_tokens: int) -> list[tuple[int, int]]:
    """Pack whole units into windows of at most `window_tokens` tokens: (first unit, end unit) pairs."""
    windows: list[tuple[int, int]] = []
    first, used = 0, 0
    lengths = (doc.unit_tokens[:, 1] - doc.unit_tokens[:, 0]).tolist()
    for unit, length in enumerate(lengths):
        if used and used + length > window_tokens:
            windows.append((first, unit))
            first, used = unit, 0
        used += length
    if doc.num_units and first < doc.num_units:
        windows.append((first, doc.num_units))
    return windows
