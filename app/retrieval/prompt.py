"""The chat prompt around the context, tokenised once per question: prefix ids, suffix ids, question rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

INSTRUCTION = (
    "Read the document and answer the question. Answer from the document only, "
    "and be concise.\n\nDocument:\n{context}\n\nQuestion: {question}"
)
ANSWER_INSTRUCTION = (
    "Passages from a document:\n\n{context}\n\nQuestion: {question}\n"
    "Give a short answer taken from the passages."
)
_SENTINEL = "\u2063CONTEXT\u2063"


@dataclass(frozen=True)
class PromptParts:
    """Token ids before and after the context, and where the question starts inside the suffix."""

    prefix_ids: list[int]
    suffix_ids: list[int]
    question_offset: int  # index into suffix_ids of the first question token


def render_chat(tokenizer: Any, user_text: str) -> str:
    """The chat template applied to one user message, ending where the assistant's reply begins."""
    messages = [{"role": "user", "content": user_text}]
    return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))


def build_prompt_parts(tokenizer: Any, question: str) -> PromptParts:
    """Split the rendered prompt at the context so the context tokens can be swapped per window."""
    question = question.strip()
    rendered = render_chat(tokenizer, INSTRUCTION.format(context=_SENTINEL, question=question))
    prefix, suffix = rendered.split(_SENTINEL, 1)
    prefix_ids = tokenizer(prefix, add_special_tokens=False)["input_ids"]
    encoded = tokenizer(suffix, add_special_tokens=False, return_offsets_mapping=True)
    question_char = suffix.index("Question:")
    offsets = encoded["offset_mapping"]
    question_offset = next((i for i, (start, _end) in enumerate(offsets) if start >= question_char), 0)
    return PromptParts(list(prefix_ids), list(encoded["input_ids"]), question_offset)


def context_prefix_ids(tokenizer: Any) -> list[int]:
    """The prompt's opening up to where the document starts: the same for every question."""
    return build_prompt_parts(tokenizer, "?").prefix_ids


def answer_prompt_ids(tokenizer: Any, context: str, question: str) -> list[int]:
    """Token ids of the prompt that asks for a short answer from the best passages."""
    rendered = render_chat(tokenizer, ANSWER_INSTRUCTION.format(context=context.strip(), question=question.strip()))
    return list(tokenizer(rendered, add_special_tokens=False)["input_ids"])
