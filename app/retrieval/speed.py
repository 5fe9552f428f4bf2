"""How fast the loop reads on this machine: measured by earlier runs (this process), else estimated from
the model's size and the device. Used by auto mode to take the exact full pass when it is quick."""

from __future__ import annotations

import threading

from app.retrieval.attention import decoder_layers
from app.retrieval.models import LoadedModel
from app.retrieval.types import RetrievalSettings

# Sustained float throughput of the forward pass, a conservative guess per device until measured.
_DEVICE_FLOPS = {"cpu": 1.5e11, "mps": 3e12, "cuda": 3e13}
_measured: dict[tuple[str, str, int], float] = {}  # (model, device, layer) -> loop tokens per second
_lock = threading.Lock()


def remember_speed(model: LoadedModel, layer: int, processed_tokens: int, seconds: float) -> None:
    """Fold a run's measured speed into the estimate (runs too short to time are ignored)."""
    if processed_tokens < 1000 or seconds <= 0:
        return
    rate = processed_tokens / seconds
    key = (model.fingerprint, model.device, layer)
    with _lock:
        previous = _measured.get(key)
        _measured[key] = rate if previous is None else 0.5 * previous + 0.5 * rate


def loop_tokens_per_second(model: LoadedModel, layer: int) -> float:
    """Tokens per second the loop reads (prompt, retained context and window together)."""
    with _lock:
        measured = _measured.get((model.fingerprint, model.device, layer))
    if measured:
        return measured
    return _DEVICE_FLOPS.get(model.device, _DEVICE_FLOPS["cpu"]) / flops_per_token(model, layer)


def flops_per_token(model: LoadedModel, layer: int, context_tokens: int = 1600) -> float:
    """Multiply-adds x 2 of reading one token up to `layer`, attention over `context_tokens` included."""
    layers = decoder_layers(model.model)[:layer]
    weights = sum(p.numel() for module in layers for p in module.parameters() if p.dim() == 2)
    hidden = int(model.model.config.hidden_size)
    return 2.0 * weights + 4.0 * context_tokens * hidden * layer


def estimate_full_pass_seconds(model: LoadedModel, layer: int, document_tokens: int, settings: RetrievalSettings) -> float:
    """Seconds the exact pass would take: every window read after the retained context and the prompt."""
    read_per_document_token = 1.0 + (2 * settings.top_k + 64) / max(settings.window_tokens, 1)
    return document_tokens * read_per_document_token / loop_tokens_per_second(model, layer)
