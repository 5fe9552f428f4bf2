"""Question-to-context attention at one decoder layer, without running the layers above it.

A forward pre-hook on the chosen layer's attention module captures its input (the normalised hidden
states and rotary position embeddings) and stops the forward pass there. Queries are computed for the
question rows only, keys for every position, so the full T x T attention of any layer is never built.
Works for Llama-style decoders (Llama, SmolLM, Qwen2, Qwen3, Mistral) that name their projections
q_proj/k_proj and take `position_embeddings`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import torch


class _StopForward(Exception):
    """Raised from the hook once the scoring layer's input is captured."""


def decoder_layers(model: Any) -> Sequence[Any]:
    """The list of decoder layers of a causal LM (`model.model.layers` for Llama-style models)."""
    base = model.get_decoder() if hasattr(model, "get_decoder") else model.model
    layers = getattr(base, "layers", None)
    if layers is None:
        raise ValueError(f"{type(model).__name__} has no `layers`; this architecture is not supported.")
    return layers


def base_model(model: Any) -> Any:
    """The decoder stack without the language-model head."""
    return model.get_decoder() if hasattr(model, "get_decoder") else model.model


def capture_layer_inputs(model: Any, input_ids: torch.Tensor, layers: Sequence[int]) -> dict[int, tuple]:
    """Run the model up to the deepest of `layers`; return each layer's (hidden, cos, sin) attention input."""
    modules = decoder_layers(model)
    deepest = max(layers)
    captured: dict[int, tuple] = {}
    handles = []

    def make_hook(index: int):
        def hook(_module: Any, args: tuple, kwargs: dict) -> None:
            hidden = kwargs.get("hidden_states", args[0] if args else None)
            cos, sin = kwargs["position_embeddings"]
            captured[index] = (hidden, cos, sin)
            if index == deepest:
                raise _StopForward

        return hook

    for index in set(layers):
        handles.append(modules[index].self_attn.register_forward_pre_hook(make_hook(index), with_kwargs=True))
    try:
        with torch.inference_mode():
            base_model(model)(input_ids=input_ids, use_cache=False)
    except _StopForward:
        pass
    finally:
        for handle in handles:
            handle.remove()
    return captured


def question_attention(
    model: Any, layer: int, captured: tuple, question_start: int, sink_tokens: int = 0
) -> torch.Tensor:
    """Attention probabilities of rows question_start.. to every key, summed over heads: (rows, T) float32."""
    attn = decoder_layers(model)[layer].self_attn
    hidden, cos, sin = captured
    with torch.inference_mode():
        query = _project(attn, attn.q_proj, hidden[:, question_start:], "q_norm")
        key = _project(attn, attn.k_proj, hidden, "k_norm")
        rotate = sys.modules[type(attn).__module__].apply_rotary_pos_emb
        query, _ = rotate(query, query, cos[:, question_start:], sin[:, question_start:])
        key, _ = rotate(key, key, cos, sin)
        groups = query.shape[1] // key.shape[1]
        key = key.repeat_interleave(groups, dim=1)
        scaling = float(getattr(attn, "scaling", query.shape[-1] ** -0.5))
        logits = torch.matmul(query.float(), key.float().transpose(-1, -2)) * scaling
        total = key.shape[2]
        rows = torch.arange(question_start, total, device=logits.device)[:, None]
        cols = torch.arange(total, device=logits.device)[None, :]
        logits = logits.masked_fill(cols > rows, float("-inf"))
        probs = torch.softmax(logits, dim=-1)
        return probs[0].sum(dim=0)


def _project(attn: Any, projection: Any, hidden: torch.Tensor, norm_name: str) -> torch.Tensor:
    """Project to (batch, heads, tokens, head_dim), applying Qwen3-style per-head norms when present."""
    head_dim = int(getattr(attn, "head_dim", 0)) or projection.out_features // attn.config.num_attention_heads
    states = projection(hidden).view(*hidden.shape[:-1], -1, head_dim)
    norm = getattr(attn, norm_name, None)
    if norm is not None:
        states = norm(states)
    return states.transpose(1, 2)
