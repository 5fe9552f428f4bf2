"""The model that writes the answers: the loaded model itself by default, or, on request (`--answer-precision
int8`), a copy of a float32 model on a CPU whose linear layers are quantised to int8 (dynamic quantisation, one
scale per output channel). Decoding reads every weight for every token, so the copy decodes about 1.9x quicker
(30 ms a token against 57 for SmolLM2-135M on a 2-core AVX2 EPYC), costs about 3 s to build and 220 MB more
memory. It is not the default: on the 131 real-document questions the bundled model's own answer matched the
accepted answer 34 times in float32 and 11 times in int8 (the quoted evidence kept the replies at 68 against 66;
benchmark notes, runs of 2026-12-04). The copy shares every other tensor (the embeddings, the norms) with the model,
which the retrieval keeps using. Where quantising fails (a CPU without an int8 engine, a model whose layers it
does not know), the model itself writes the answers.
"""

from __future__ import annotations

import copy
import threading
import warnings
import weakref
from typing import Any

import torch

from app.retrieval.models import LoadedModel
from app.retrieval.types import ANSWER_PRECISIONS

_quantised: weakref.WeakKeyDictionary[torch.nn.Module, torch.nn.Module | None] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def answer_precision(model: LoadedModel, choice: str = "native") -> str:
    """"int8" when `choice` asks for the int8 copy and `model` is a float32 model on a CPU, else "native"."""
    if choice not in ANSWER_PRECISIONS:
        raise ValueError(f"Unknown answer precision {choice!r}: use one of {', '.join(ANSWER_PRECISIONS)}.")
    if choice == "native" or model.device != "cpu" or model.dtype != torch.float32:
        return "native"
    return "int8"


def answer_model(model: LoadedModel, choice: str = "native") -> Any:
    """The module that generates the answers; the int8 copy is built at its first answer, once per model."""
    if answer_precision(model, choice) != "int8":
        return model.model
    with _lock:
        if model.model not in _quantised:
            _quantised[model.model] = _quantised_copy(model)
        return _quantised[model.model] or model.model


def answer_dtype(model: LoadedModel, choice: str = "native") -> str:
    """What writes the answers, for the stats: "int8" or the model's own dtype ("float32", "bfloat16")."""
    if answer_model(model, choice) is not model.model:
        return "int8"
    return str(model.dtype).removeprefix("torch.")


def _quantised_copy(model: LoadedModel) -> torch.nn.Module | None:
    """The model with its nn.Linear layers replaced by int8 dynamic ones, every tensor else shared; None when
    this torch or CPU cannot run them."""
    original = model.model
    shared: dict[int, Any] = {id(t): t for t in (*original.parameters(), *original.buffers())}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
            from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

            structure = copy.deepcopy(original, memo=shared)  # new modules around the same tensors
            quantised = quantize_dynamic(structure, {torch.nn.Linear: per_channel_dynamic_qconfig},
                                         dtype=torch.qint8, inplace=True)
            quantised.eval()
            with torch.inference_mode():
                quantised(input_ids=torch.tensor([[_any_token(model)]]))  # fails here if no int8 engine runs it
    except Exception:  # noqa: BLE001 - any failure leaves the model itself writing the answers
        return None
    return quantised


def _any_token(model: LoadedModel) -> int:
    return int(model.tokenizer.eos_token_id or 0)
