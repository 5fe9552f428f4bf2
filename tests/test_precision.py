"""The precision of the retrieval forwards: bfloat16 autocast where the CPU computes it natively, float32
scoring either way, and the answer untouched."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from app.documents import split_sentences
from app.retrieval import precision
from app.retrieval.indexing import index_meta
from app.retrieval.needles import haystack_text
from app.retrieval.pipeline import retrieve
from app.retrieval.precision import layer_inputs, retrieval_precision
from app.retrieval.types import RetrievalSettings


def test_auto_follows_the_cpu(tiny_model, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision, "bfloat16_is_fast", lambda: True)
    assert retrieval_precision(tiny_model, "auto") == "bfloat16"
    assert retrieval_precision(tiny_model, "float32") == "native"
    monkeypatch.setattr(precision, "bfloat16_is_fast", lambda: False)
    assert retrieval_precision(tiny_model, "auto") == "native"
    assert retrieval_precision(tiny_model, "bfloat16") == "bfloat16"  # asked for: emulated, slower, still right


def test_a_half_precision_or_gpu_model_keeps_its_own(tiny_model, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision, "bfloat16_is_fast", lambda: True)
    assert retrieval_precision(dataclasses.replace(tiny_model, device="cuda"), "auto") == "native"
    assert retrieval_precision(dataclasses.replace(tiny_model, dtype=torch.float16), "bfloat16") == "native"


def test_an_unknown_precision_is_refused(tiny_model) -> None:
    with pytest.raises(ValueError, match="Unknown precision"):
        retrieval_precision(tiny_model, "int4")


def test_layer_inputs_come_back_in_float32_close_to_float32(tiny_model) -> None:
    ids = torch.from_numpy(np.asarray(tiny_model.tokenizer(haystack_text()[:3000])["input_ids"]))[None]
    exact = layer_inputs(tiny_model, ids, [1], "float32")[1][0]
    quick = layer_inputs(tiny_model, ids, [1], "bfloat16")[1][0]
    assert quick.dtype == torch.float32
    assert quick.shape == exact.shape, "the padding to a multiple of LENGTH_STEP tokens is cut off again"
    assert all(part.shape[1] == ids.shape[1] for part in layer_inputs(tiny_model, ids, [1], "bfloat16")[1])
    assert torch.corrcoef(torch.stack([exact.flatten(), quick.flatten()]))[0, 1] > 0.99


def test_the_full_pass_in_bfloat16_keeps_nearly_the_same_sentences(tiny_model) -> None:
    text = haystack_text()[:12000]
    sentences = split_sentences(text)
    kept = {}
    for choice in ("float32", "bfloat16"):
        settings = RetrievalSettings(mode="full", build_index=False, precision=choice, window_tokens=512)
        result = retrieve(text, sentences, "Who built the ark?", tiny_model, settings)
        assert result.stats["precision"] == ("native" if choice == "float32" else "bfloat16")
        kept[choice] = {p.start for p in result.passages}
    assert kept["float32"]
    assert len(kept["float32"] & kept["bfloat16"]) >= 0.8 * len(kept["float32"])


def test_the_index_records_bfloat16_and_not_float32(tiny_model) -> None:
    exact = index_meta(tiny_model, 1, RetrievalSettings(precision="float32"))
    quick = index_meta(tiny_model, 1, RetrievalSettings(precision="bfloat16"))
    assert "precision" not in exact  # indexes built before precision was recorded stay usable
    assert quick == {**exact, "precision": "bfloat16"}


def test_the_command_line_takes_a_precision() -> None:
    from app.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["ask", "f.pdf", "q"]).precision == "auto"
    assert parser.parse_args(["ask", "f.pdf", "q", "--precision", "float32"]).precision == "float32"
    assert parser.parse_args(["index", "f.pdf", "--precision", "bfloat16"]).precision == "bfloat16"
    with pytest.raises(SystemExit):
        parser.parse_args(["index", "f.pdf", "--precision", "int8"])
