"""Answer generation from the retained passages, streamed piece by piece to a callback."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

from app.retrieval.models import LoadedModel
from app.retrieval.prompt import answer_prompt_ids
from app.retrieval.types import CancelToken, Passage, TokenCallback


class _CallbackStreamer(BaseStreamer):
    """Decodes generated tokens incrementally and hands each new piece of text to a callback."""

    def __init__(self, tokenizer: Any, on_token: TokenCallback | None, prompt_length: int) -> None:
        self.tokenizer = tokenizer
        self.on_token = on_token
        self.skip = prompt_length
        self.ids: list[int] = []
        self.sent = ""

    def put(self, value: torch.Tensor) -> None:
        flat = value.reshape(-1).tolist()
        if self.skip:  # the first call carries the prompt
            dropped = min(self.skip, len(flat))
            flat, self.skip = flat[dropped:], self.skip - dropped
        self.ids.extend(flat)
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):
            return  # wait for the rest of a multi-byte character
        if self.on_token and len(text) > len(self.sent):
            self.on_token(text[len(self.sent) :])
        self.sent = text

    def end(self) -> None:
        return None


class _StopOnCancel(StoppingCriteria):
    def __init__(self, cancel: CancelToken | None) -> None:
        self.cancel = cancel

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        stop = bool(self.cancel and self.cancel.cancelled)
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)


class _StopOnLoop(StoppingCriteria):
    """Stops greedy decoding stuck in a loop: the answer's tail is one short pattern repeated over and over."""

    def __init__(self, prompt_length: int, max_period: int = 8, min_span: int = 24) -> None:
        self.prompt_length = prompt_length
        self.max_period = max_period
        self.min_span = min_span

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        looping = [is_looping(row[self.prompt_length :].tolist(), self.max_period, self.min_span) for row in input_ids]
        return torch.tensor(looping, dtype=torch.bool, device=input_ids.device)


def is_looping(ids: Sequence[int], max_period: int = 8, min_span: int = 24) -> bool:
    """True when the last `min_span` tokens repeat one pattern of at most `max_period` tokens."""
    if len(ids) < min_span:
        return False
    tail = list(ids[-min_span:])
    return any(all(tail[i] == tail[i - period] for i in range(period, min_span)) for period in range(1, max_period + 1))


def passages_context(passages: Sequence[Passage]) -> str:
    """Retained passages in document order; neighbours join with a space, gaps with a new line."""
    parts: list[str] = []
    previous_end = None
    for passage in passages:
        if parts:
            parts.append(" " if previous_end is not None and passage.start - previous_end <= 2 else "\n")
        parts.append(passage.text)
        previous_end = passage.end
    return "".join(parts)


def best_passages(
    passages: Sequence[Passage], tokenizer: Any, budget_tokens: int, min_score: float = 0.0, min_words: int = 4
) -> list[Passage]:
    """The highest-scoring passages (score >= min_score, the best one always) within `budget_tokens`,
    back in document order. Small models answer better from a few strong passages than from all, and
    fragments under `min_words` words (headings, page furniture) mislead them more than they inform."""
    chosen: list[Passage] = []
    used = 0
    for passage in sorted(passages, key=lambda p: -p.score):
        if chosen and passage.score < min_score:
            break
        if chosen and len(passage.text.split()) < min_words:
            continue
        cost = len(tokenizer(passage.text, add_special_tokens=False)["input_ids"])
        if chosen and used + cost > budget_tokens:
            continue
        chosen.append(passage)
        used += cost
    return sorted(chosen, key=lambda p: p.start)


def generate_answer(
    model: LoadedModel,
    passages: Sequence[Passage],
    question: str,
    on_token: TokenCallback | None = None,
    cancel: CancelToken | None = None,
    max_new_tokens: int = 200,
    context_tokens: int = 1024,
    min_score: float = 0.0,
) -> str:
    """Greedy answer to `question` from the best `passages`; raises Cancelled if cancelled."""
    context = passages_context(best_passages(passages, model.tokenizer, context_tokens, min_score))
    ids = answer_prompt_ids(model.tokenizer, context, question)
    input_ids = torch.tensor([ids], device=model.device)
    streamer = _CallbackStreamer(model.tokenizer, on_token, len(ids))
    eos = model.tokenizer.eos_token_id
    with torch.inference_mode():
        output = model.model.generate(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            streamer=streamer,
            stopping_criteria=StoppingCriteriaList([_StopOnCancel(cancel), _StopOnLoop(len(ids))]),
            pad_token_id=eos,
        )
    if cancel:
        cancel.raise_if_cancelled()
    return str(model.tokenizer.decode(output[0, len(ids) :], skip_special_tokens=True)).strip()
