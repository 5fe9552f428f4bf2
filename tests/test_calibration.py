"""Calibration finds a retrieval signal planted in a model's weights: the layer, and the head."""

from __future__ import annotations

import pytest
import torch

from app.retrieval.attention import decoder_layers
from app.retrieval.calibration import calibrate, calibration_for, choose_heads, stored_calibration
from tests.conftest import build_tiny_model

HEAD_DIM = 16


def plant_copy_heads(model, layer: int, heads: list[int], scale: float = 8.0) -> None:
    """Make query heads at `layer` match each token to the same token elsewhere (query and key projections
    equal and large): heads that retrieve what the question repeats, as a needle's words."""
    attention = decoder_layers(model.model)[layer].self_attn
    groups = attention.config.num_attention_heads // attention.config.num_key_value_heads
    generator = torch.Generator().manual_seed(1)
    projections = [torch.randn(HEAD_DIM, 64, generator=generator) * scale for _ in range(2)]
    with torch.no_grad():
        for head in heads:
            shared = projections[head // groups]
            attention.q_proj.weight[HEAD_DIM * head : HEAD_DIM * (head + 1)] = shared
            key = head // groups
            attention.k_proj.weight[HEAD_DIM * key : HEAD_DIM * (key + 1)] = shared


@pytest.fixture
def fresh_tiny():
    model = build_tiny_model()
    model.scoring_layer = -1  # nothing chosen yet: calibration decides
    model.fingerprint = "tiny-planted"
    return model


def test_calibration_finds_the_layer_where_retrieval_was_planted(fresh_tiny):
    plant_copy_heads(fresh_tiny, 1, [0, 1, 2, 3])
    result = calibrate(fresh_tiny)
    assert result.layer == 1
    assert result.mean_reciprocal_rank[1] == max(result.mean_reciprocal_rank)


def test_calibration_finds_the_one_retrieval_head(fresh_tiny):
    plant_copy_heads(fresh_tiny, 1, [2])
    result = calibrate(fresh_tiny)
    planted_layer = result.head_reciprocal_rank[1]
    assert choose_heads(planted_layer) == [2]
    assert planted_layer[2] > 3 * max(v for h, v in enumerate(planted_layer) if h != 2)


def test_the_calibration_is_stored_and_reused(fresh_tiny, monkeypatch):
    stored = calibration_for(fresh_tiny)
    assert stored_calibration("tiny-planted") == stored
    assert fresh_tiny.scoring_layer == stored.layer

    def must_not_run(*_args, **_kwargs):
        raise AssertionError("calibrated twice")

    monkeypatch.setattr("app.retrieval.calibration.calibrate", must_not_run)
    fresh_tiny.scoring_layer = -1
    assert calibration_for(fresh_tiny) == stored


def test_heads_are_chosen_relative_to_the_best_head():
    assert choose_heads([0.1, 0.9, 0.6, 0.5]) == [1, 2]  # at least 60% of the best head
    assert choose_heads([0.0, 0.0]) == [0, 1], "no signal: every head, never none"


def test_the_index_layer_is_the_shallowest_good_one_with_a_good_layer_above():
    from app.retrieval.calibration import choose_index_layer

    best_head_per_layer = [[0.1, 0.2], [1.0, 0.1], [0.3, 0.2], [0.97, 0.5], [1.0, 0.2], [0.99, 0.9]]
    assert choose_index_layer(best_head_per_layer, deepest=5) == 3, "layer 1 is a lone spike"
    assert choose_index_layer(best_head_per_layer, deepest=2) == 2, "never deeper than the loop's layer"
