"""InfiniRetri's token scores: question-weighted, phrase-smoothed attention from question to context."""

from __future__ import annotations

import torch


def token_scores(
    attention: torch.Tensor,
    context: tuple[int, int],
    question_start: int,
    phrase_width: int = 8,
    question_weighting: bool = True,
) -> torch.Tensor:
    """One score per context token.

    `attention` is (question rows, all keys), summed over heads. Each row is weighted by how much that
    question token attends to the question itself; the rows are summed, then smoothed along the context
    with a window of ones of width `phrase_width` (the paper's "phrases").
    """
    start, end = context
    rows = attention[:, start:end]
    if question_weighting:
        weights = attention[:, question_start:].sum(dim=1, keepdim=True)
        rows = rows * weights
    summed = rows.sum(dim=0)
    return smooth(summed, phrase_width)


def smooth(values: torch.Tensor, width: int) -> torch.Tensor:
    """Sum over a centred window of `width` ones (same length out as in, zero padded)."""
    if width <= 1 or values.numel() == 0:
        return values
    kernel = torch.ones(1, 1, width, dtype=values.dtype, device=values.device)
    left = (width - 1) // 2
    padded = torch.nn.functional.pad(values[None, None], (width - 1 - left, left))
    return torch.nn.functional.conv1d(padded, kernel)[0, 0]


def top_tokens(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the k best-scoring context tokens."""
    k = min(k, scores.numel())
    return torch.topk(scores, k).indices if k > 0 else scores.new_zeros(0, dtype=torch.long)
