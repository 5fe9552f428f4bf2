"""The precision of the retrieval forwards (the exact pass, the focused loop, the attention index's build).

A model on a CPU is kept in float32, and the answer is written in it. Where the CPU multiplies bfloat16
natively (AVX512-BF16 or AMX), the forwards up to the scoring layer run under bfloat16 autocast: 1.5-1.9x
the tokens a second of float32 on the same CPU, with the same choices (see the benchmark notes). Elsewhere
bfloat16 is emulated and slower, so float32 stays. On a GPU the model is already in half precision.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from app.retrieval.attention import capture_layer_inputs
from app.retrieval.cpu import bfloat16_is_fast
from app.retrieval.models import LoadedModel
from app.retrieval.types import PRECISIONS

LENGTH_STEP = 128  # bfloat16 inputs are padded to a multiple of this many tokens (see layer_inputs)


def retrieval_precision(model: LoadedModel, choice: str = "auto") -> str:
    """"bfloat16" when the retrieval forwards run under bfloat16 autocast, else "native" (the model's own
    dtype). `choice`: "auto" (bfloat16 on a CPU that computes it natively), "float32" or "bfloat16"."""
    if choice not in PRECISIONS:
        raise ValueError(f"Unknown precision {choice!r}: use one of {', '.join(PRECISIONS)}.")
    if model.device != "cpu" or model.dtype != torch.float32 or choice == "float32":
        return "native"
    return "bfloat16" if choice == "bfloat16" or bfloat16_is_fast() else "native"


def layer_inputs(model: LoadedModel, input_ids: torch.Tensor, layers: Sequence[int], choice: str = "auto"
                 ) -> dict[int, tuple[torch.Tensor, ...]]:
    """`capture_layer_inputs` with the layers below run in the chosen precision; what it returns is float32
    where the model is, so the scoring layer's queries, keys and softmax stay in float32.

    In bfloat16 the input is padded on the right to a multiple of `LENGTH_STEP` tokens (causal attention never
    looks right, so the real tokens read the same) and the padding cut off again: oneDNN keeps a compiled
    kernel with its own buffers for every input length it multiplies in bfloat16, so lengths that never repeat
    (each window with its retained sentences) made memory grow with the document (128k tokens: +460 MB)."""
    if retrieval_precision(model, choice) != "bfloat16":
        return capture_layer_inputs(model.model, input_ids, layers)
    length = input_ids.shape[1]
    padded = torch.nn.functional.pad(input_ids, (0, -length % LENGTH_STEP), value=pad_id(model.tokenizer))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        captured = capture_layer_inputs(model.model, padded, layers)
    return {layer: tuple(t[:, :length].float() for t in parts) for layer, parts in captured.items()}


def pad_id(tokenizer: Any) -> int:
    """The token that pads an input on the right (never read by the real tokens before it)."""
    return int(tokenizer.pad_token_id or tokenizer.eos_token_id or 0)
