"""The model that writes the answers: the model itself by default; on request an int8 copy of a float32 model
on a CPU, built once, sharing every tensor but the linear layers' weights."""

from __future__ import annotations

import dataclasses
import weakref

import pytest
import torch

from app.retrieval import answer_model as answer_model_module
from app.retrieval.answer_model import answer_dtype, answer_model, answer_precision
from app.retrieval.generation import generate_text
from app.retrieval.types import RetrievalSettings


@pytest.fixture(autouse=True)
def _no_copies_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Copies built here stay here: the shared tiny and bundled models answer in float32 elsewhere."""
    monkeypatch.setattr(answer_model_module, "_quantised", weakref.WeakKeyDictionary())


def _dynamic_linears(module: torch.nn.Module) -> int:
    return sum(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in module.modules())


def test_the_model_writes_by_default_and_the_copy_is_built_once_on_request(tiny_model) -> None:
    assert answer_model(tiny_model) is tiny_model.model
    assert answer_dtype(tiny_model) == "float32"
    copy = answer_model(tiny_model, "int8")
    assert copy is not tiny_model.model and _dynamic_linears(copy) > 0
    assert answer_model(tiny_model, "int8") is copy  # built once
    assert answer_dtype(tiny_model, "int8") == "int8"
    assert answer_model(tiny_model, "native") is tiny_model.model


def test_the_copy_shares_every_tensor_but_the_linear_weights_and_leaves_the_model_float32(tiny_model) -> None:
    copy = answer_model(tiny_model, "int8")
    assert copy.model.embed_tokens.weight is tiny_model.model.model.embed_tokens.weight
    assert copy.model.norm.weight is tiny_model.model.model.norm.weight
    assert _dynamic_linears(tiny_model.model) == 0
    assert all(p.dtype == torch.float32 for p in tiny_model.model.parameters())


def test_the_copy_predicts_nearly_what_the_model_does(tiny_model) -> None:
    ids = torch.tensor([tiny_model.tokenizer("In the beginning God created the heaven and the earth.")["input_ids"]])
    copy = answer_model(tiny_model, "int8")
    with torch.inference_mode():
        exact, quick = tiny_model.model(input_ids=ids).logits[0], copy(input_ids=ids).logits[0]
    correlation = torch.corrcoef(torch.stack([exact.flatten(), quick.flatten()]))[0, 1]
    assert correlation > 0.99


def test_an_answer_is_written_by_the_copy_when_asked(tiny_model, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = answer_model(tiny_model, "int8")
    used = []
    monkeypatch.setattr(copy, "generate", lambda **kwargs: used.append(kwargs) or kwargs["input_ids"])
    assert generate_text(tiny_model, "The well is deep.", "What is deep?", precision="int8") == ""
    assert used and used[0]["do_sample"] is False
    used.clear()
    generate_text(tiny_model, "The well is deep.", "What is deep?", max_new_tokens=2)
    assert not used


def test_a_gpu_or_half_precision_model_writes_its_own_answers(tiny_model) -> None:
    assert answer_precision(dataclasses.replace(tiny_model, device="cuda"), "int8") == "native"
    assert answer_precision(dataclasses.replace(tiny_model, dtype=torch.bfloat16), "int8") == "native"
    assert answer_model(dataclasses.replace(tiny_model, device="mps"), "int8") is tiny_model.model
    with pytest.raises(ValueError, match="Unknown answer precision"):
        answer_precision(tiny_model, "int4")


def test_a_copy_that_cannot_be_built_leaves_the_model_writing(tiny_model, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Didn't find engine for operation quantized::linear_prepack NoQEngine")

    monkeypatch.setattr(torch.ao.quantization, "quantize_dynamic", refuse)
    assert answer_model(tiny_model, "int8") is tiny_model.model
    assert answer_dtype(tiny_model, "int8") == "float32"


def test_the_command_line_and_settings_take_an_answer_precision() -> None:
    from app.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["ask", "f.pdf", "q"]).answer_precision == "native"
    assert parser.parse_args(["ask", "f.pdf", "q", "--answer-precision", "int8"]).answer_precision == "int8"
    with pytest.raises(SystemExit):
        parser.parse_args(["ask", "f.pdf", "q", "--answer-precision", "bfloat16"])
    assert RetrievalSettings().answer_precision == "native"


@pytest.mark.slow
def test_the_bundled_models_int8_copy_answers_a_needle(bundled_model, haystack) -> None:
    from app.documents import split_sentences
    from app.retrieval.needles import TEST_NEEDLES, insert_needle
    from app.retrieval.pipeline import answer

    needle = TEST_NEEDLES[0]
    text, offset = insert_needle(haystack[:20000], needle.sentence, 0.5)
    settings = RetrievalSettings(answer_precision="int8")
    result = answer(text, split_sentences(text), needle.question, bundled_model, settings)
    assert result.stats["answer_precision"] == "int8"
    assert any(p.start <= offset < p.end for p in result.passages)
    assert needle.value.lower() in result.answer.lower()
