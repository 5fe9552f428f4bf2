"""The bundled SmolLM2 model on a real-text haystack of more than 16k tokens, needle at three depths."""

from __future__ import annotations

import pytest

from app.documents import split_sentences
from app.retrieval.needles import TEST_NEEDLES, insert_needle
from app.retrieval.pipeline import answer

pytestmark = pytest.mark.slow
HAYSTACK_CHARS = 70000  # about 17k SmolLM2 tokens of KJV Genesis


@pytest.mark.parametrize(("needle", "depth"), list(zip(TEST_NEEDLES, (0.15, 0.5, 0.9))), ids=["early", "middle", "late"])
def test_the_needle_is_retrieved_and_answered(bundled_model, haystack, needle, depth):
    text, offset = insert_needle(haystack[:HAYSTACK_CHARS], needle.sentence, depth)
    result = answer(text, split_sentences(text), needle.question, bundled_model)
    assert result.stats["document_tokens"] >= 16000
    assert any(p.start <= offset < p.end for p in result.passages), "the needle sentence was retained"
    assert needle.value.lower() in result.answer.lower()
