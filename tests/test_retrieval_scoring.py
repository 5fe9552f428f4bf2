"""Attention at one layer (question rows only, early stop) and InfiniRetri's token scores."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.retrieval.attention import capture_layer_inputs, decoder_layers, question_attention
from app.retrieval.scoring import smooth, token_scores, top_tokens


def test_smoothing_matches_a_same_mode_convolution_with_ones():
    values = torch.rand(50)
    expected = np.convolve(values.numpy(), np.ones(8), mode="same")  # what the reference does (scipy "same")
    assert np.allclose(smooth(values, 8).numpy(), expected, atol=1e-5)
    assert torch.equal(smooth(values, 1), values)


def test_question_weighting_favours_rows_that_attend_to_the_question():
    attention = torch.zeros(2, 10)
    attention[0, 2] = 1.0  # row 0 points at context token 2 ...
    attention[1, 5] = 1.0  # ... row 1 at context token 5
    attention[1, 8] = 3.0  # and row 1 attends strongly to the question (columns 8..)
    scores = token_scores(attention, (0, 8), question_start=8, phrase_width=1)
    assert scores.argmax().item() == 5
    plain = token_scores(attention, (0, 8), question_start=8, phrase_width=1, question_weighting=False)
    assert plain[2] == plain[5]


def test_top_tokens_handles_short_contexts():
    scores = torch.tensor([0.1, 0.9, 0.5])
    assert top_tokens(scores, 300).tolist() == [1, 2, 0]


@pytest.mark.parametrize("layer", [0, 1, 2])
def test_question_rows_equal_the_models_own_eager_attention(tiny_model, layer):
    model = tiny_model.model
    ids = torch.randint(3, len(tiny_model.tokenizer), (1, 120))
    question_start = 100
    captured = capture_layer_inputs(model, ids, [layer])[layer]
    ours = question_attention(model, layer, captured, question_start)
    model.config._attn_implementation = "eager"
    try:
        with torch.inference_mode():
            reference = model(input_ids=ids, output_attentions=True).attentions[layer][0].sum(0)
    finally:
        model.config._attn_implementation = "sdpa"
    assert ours.shape == (20, 120)
    assert torch.allclose(ours, reference[question_start:].float(), atol=1e-5)


def test_the_forward_pass_stops_at_the_scoring_layer(tiny_model):
    calls: list[int] = []
    layers = decoder_layers(tiny_model.model)
    handles = [layer.register_forward_hook(lambda *_a, i=i: calls.append(i)) for i, layer in enumerate(layers)]
    try:
        capture_layer_inputs(tiny_model.model, torch.randint(3, 500, (1, 40)), [1])
    finally:
        for handle in handles:
            handle.remove()
    assert calls == [0], "layer 1 is entered but not completed, layer 2 never runs"
