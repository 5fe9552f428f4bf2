"""Scoring a question against a document's attention index: the question read alone, its queries at the
index layer, attention to every stored key, question-weighted rows, as the full pass scores a window.

Keys are stored rotated as if each window started at position 0; the question's queries are rotated as
if they came right after a full window, so query-key distances match what the full pass sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from app.retrieval.attention import (
    capture_layer_inputs,
    decoder_layers,
    project,
    question_attention,
    rotary_at,
    rotate,
)
from app.retrieval.index_store import AttentionIndex
from app.retrieval.prompt import PromptParts
from app.retrieval.types import CancelToken


def window_keys(model: Any, layer: int, hidden: torch.Tensor) -> np.ndarray:
    """Keys of `hidden` (1, n, dim) rotated at positions 0..n-1, as float16 (n, key heads, head dim)."""
    with torch.inference_mode():
        keys = project(model, layer, hidden, "k")
        positions = torch.arange(hidden.shape[1], device=hidden.device)
        cos, sin = rotary_at(model, positions, hidden)
        rotated = rotate(model, layer, keys, cos, sin)
    return rotated[0].transpose(0, 1).to(torch.float16).cpu().numpy()


def question_queries(
    model: Any, layer: int, prompt: PromptParts, window_tokens: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The question read alone: its rotated queries (1, heads, rows, dim) and row weights (rows,).
    Queries are rotated as if the question came right after a full window."""
    ids = torch.tensor([prompt.prefix_ids + prompt.suffix_ids], device=model.device)
    start = len(prompt.prefix_ids) + prompt.question_offset
    captured = capture_layer_inputs(model, ids, [layer])[layer]
    attention = question_attention(model, layer, captured, start)
    weights = attention[:, start:].sum(dim=1)
    return rotated_queries(model, layer, captured[0][:, start:], window_tokens), weights.float()


def rotated_queries(model: Any, layer: int, hidden: torch.Tensor, first_position: int) -> torch.Tensor:
    """Queries of `hidden` (1, rows, dim) rotated at positions first_position, first_position + 1, ..."""
    with torch.inference_mode():
        positions = torch.arange(hidden.shape[1], device=hidden.device) + first_position
        cos, sin = rotary_at(model, positions, hidden)
        return rotate(model, layer, project(model, layer, hidden, "q"), cos, sin).float()


def score_document(
    model: Any,
    layer: int,
    index: AttentionIndex,
    queries: torch.Tensor,
    weights: torch.Tensor,
    heads: Sequence[int] | None = None,
    chunk: int = 16384,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Question-weighted attention of the question to every indexed token, softmax over the whole indexed
    part, summed over `heads` (all query heads when None). One score per indexed token.

    Two streaming passes over the memory-mapped keys (the first finds each head and row's normaliser),
    so memory stays bounded by one chunk whatever the document's length.
    """
    grouped = _grouped_queries(model, layer, queries, index.key_heads)
    total = index.indexed_tokens
    running_max = torch.full(grouped.shape[:2], float("-inf"))
    running_sum = torch.zeros(grouped.shape[:2])
    for _start, keys in index.chunks(chunk):
        if cancel:
            cancel.raise_if_cancelled()
        logits = _chunk_logits(keys, grouped)
        new_max = torch.maximum(running_max, logits.amax(dim=-1))
        running_sum = running_sum * torch.exp(running_max - new_max) + torch.exp(logits - new_max[..., None]).sum(-1)
        running_max = new_max
    log_norm = (running_max + torch.log(running_sum))[..., None]
    row_weights = head_row_weights(weights, queries.shape[1], grouped.shape[0], heads)
    scores = np.zeros(total, dtype=np.float32)
    for start, keys in index.chunks(chunk):
        if cancel:
            cancel.raise_if_cancelled()
        probs = _chunk_logits(keys, grouped).sub_(log_norm).exp_()
        scores[start : start + probs.shape[-1]] = torch.einsum("kr,krt->t", row_weights, probs).numpy()
    return scores


def head_row_weights(
    weights: torch.Tensor, heads: int, key_heads: int, chosen: Sequence[int] | None
) -> torch.Tensor:
    """(key heads, heads per key head * rows) weights: each row's weight for the chosen query heads, else 0."""
    rows = weights.shape[0]
    mask = torch.zeros(heads) if chosen is not None else torch.ones(heads)
    if chosen is not None:
        mask[list(chosen)] = 1.0
    per_head = mask[:, None] * weights.float().cpu()[None, :]  # (heads, rows)
    return per_head.reshape(key_heads, heads // key_heads * rows)


def _grouped_queries(model: Any, layer: int, queries: torch.Tensor, key_heads: int) -> torch.Tensor:
    """(1, heads, rows, dim) queries as (key heads, heads per key head * rows, dim), pre-scaled."""
    attn = decoder_layers(model)[layer].self_attn
    _, heads, rows, dim = queries.shape
    scaling = float(getattr(attn, "scaling", dim**-0.5))
    grouped = queries[0].float().cpu().reshape(key_heads, heads // key_heads * rows, dim)
    return (grouped * scaling).contiguous()


def _chunk_logits(keys: np.ndarray, grouped: torch.Tensor) -> torch.Tensor:
    stored = torch.from_numpy(keys).float()  # (n, key heads, dim)
    return torch.matmul(grouped, stored.permute(1, 2, 0))  # (key heads, groups * rows, n)
