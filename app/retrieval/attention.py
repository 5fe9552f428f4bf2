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
    model: Any, layer: int, captured: tuple, question_start: int, heads: Sequence[int] | None = None
) -> torch.Tensor:
    """Attention probabilities of rows question_start.. to every key, summed over `heads` (all when None):
    (rows, T) float32."""
    probabilities = head_attention(model, layer, captured, question_start)
    if heads is not None:
        probabilities = probabilities[list(heads)]
    return probabilities.sum(dim=0)


def head_attention(model: Any, layer: int, captured: tuple, question_start: int) -> torch.Tensor:
    """Attention probabilities of rows question_start.. to every key, per query head: (heads, rows, T)."""
    hidden, cos, sin = captured
    with torch.inference_mode():
        query = rotate(model, layer, project(model, layer, hidden[:, question_start:], "q"),
                       cos[:, question_start:], sin[:, question_start:])
        key = rotate(model, layer, project(model, layer, hidden, "k"), cos, sin)
        logits = head_logits(model, layer, query, key)
        total = key.shape[2]
        rows = torch.arange(question_start, total, device=logits.device)[:, None]
        cols = torch.arange(total, device=logits.device)[None, :]
        logits = logits.masked_fill(cols > rows, float("-inf"))
        return torch.softmax(logits, dim=-1)[0]


def project(model: Any, layer: int, hidden: torch.Tensor, which: str) -> torch.Tensor:
    """Queries ("q") or keys ("k") before rotation: (batch, heads, tokens, head_dim).

    Applies Qwen3-style per-head norms when the model has them.
    """
    attn = decoder_layers(model)[layer].self_attn
    projection = attn.q_proj if which == "q" else attn.k_proj
    head_dim = int(getattr(attn, "head_dim", 0)) or projection.out_features // attn.config.num_attention_heads
    states = projection(hidden).view(*hidden.shape[:-1], -1, head_dim)
    norm = getattr(attn, f"{which}_norm", None)
    if norm is not None:
        states = norm(states)
    return states.transpose(1, 2)


def rotate(model: Any, layer: int, states: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Apply the model's own rotary position embedding to (batch, heads, tokens, head_dim) states."""
    attn = decoder_layers(model)[layer].self_attn
    apply = sys.modules[type(attn).__module__].apply_rotary_pos_emb
    return apply(states, states, cos, sin)[0]


def rotary_at(model: Any, positions: torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the model's rotary embedding at `positions` (1-D), shaped (1, len, head_dim)."""
    return base_model(model).rotary_emb(like, positions[None])


def head_logits(model: Any, layer: int, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
    """Scaled dot products per query head, sharing key heads across query-head groups (GQA)."""
    attn = decoder_layers(model)[layer].self_attn
    groups = query.shape[1] // key.shape[1]
    key = key.repeat_interleave(groups, dim=1) if groups > 1 else key
    scaling = float(getattr(attn, "scaling", query.shape[-1] ** -0.5))
    return torch.matmul(query.float(), key.float().transpose(-1, -2)) * scaling
