"""Choosing the scoring layer of a model by measurement on a needle set, and remembering the choice."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from app.paths import cache_dir, resources_dir
from app.retrieval.attention import capture_layer_inputs, question_attention
from app.retrieval.models import LoadedModel
from app.retrieval.needles import CALIBRATION_NEEDLES, haystack_text, insert_needle
from app.retrieval.prompt import build_prompt_parts
from app.retrieval.scoring import token_scores
from app.retrieval.types import Progress, ProgressCallback

DEPTHS = (0.1, 0.3, 0.5, 0.7, 0.9)
HAYSTACK_CHARS = 4000  # about 1,000 tokens: one window


@dataclass(frozen=True)
class Calibration:
    layer: int
    mean_reciprocal_rank: list[float]  # per layer
    cases: int
    seconds: float


def stored_layer(fingerprint: str) -> int | None:
    """The calibrated layer for these weights: the user's cache first, then what ships with the app."""
    for path in (cache_dir() / "calibration.json", resources_dir() / "calibration.json"):
        entry = _read(path).get(fingerprint)
        if isinstance(entry, dict) and isinstance(entry.get("layer"), int):
            return int(entry["layer"])
    return None


def scoring_layer_for(model: LoadedModel, on_progress: ProgressCallback | None = None) -> int:
    """The layer to score at: stored by an earlier calibration, else measured now and stored."""
    if model.scoring_layer >= 0:
        return model.scoring_layer
    layer = stored_layer(model.fingerprint)
    if layer is None or layer >= model.num_layers:
        result = calibrate(model, on_progress)
        save(model, result, cache_dir() / "calibration.json")
        layer = result.layer
    model.scoring_layer = layer
    return layer


def calibrate(model: LoadedModel, on_progress: ProgressCallback | None = None) -> Calibration:
    """Rank the needle sentence at every layer for every case; choose the layer with the best mean 1/rank."""
    started = time.perf_counter()
    haystack = haystack_text()[:HAYSTACK_CHARS]
    cases = [(needle, depth) for needle in CALIBRATION_NEEDLES for depth in DEPTHS]
    reciprocal = np.zeros((len(cases), model.num_layers))
    for row, (needle, depth) in enumerate(cases):
        if on_progress:
            on_progress(Progress("calibrating", row, len(cases), message="Measuring which layer retrieves best…"))
        reciprocal[row] = _needle_reciprocal_ranks(model, haystack, needle.sentence, needle.question, depth)
    mean = reciprocal.mean(axis=0)
    layer = choose_layer(mean)
    return Calibration(layer, [round(float(v), 4) for v in mean], len(cases), time.perf_counter() - started)


def choose_layer(mean_reciprocal_rank: np.ndarray, tolerance: float = 0.05) -> int:
    """The shallowest layer that, with both neighbours, scores within `tolerance` of the best layer.

    A layer whose neighbours are poor is a lucky spike on a small needle set; a stable region generalises
    to real questions better. Shallower layers are preferred because the forward pass stops there.
    """
    scores = np.asarray(mean_reciprocal_rank, dtype=float)
    good = scores >= scores.max() * (1 - tolerance)
    stable = good.copy()
    stable[1:] &= good[:-1]
    stable[:-1] &= good[1:]
    candidates = np.flatnonzero(stable)
    return int(candidates[0]) if candidates.size else int(np.argmax(scores))


def _needle_reciprocal_ranks(model: LoadedModel, haystack: str, sentence: str, question: str, depth: float) -> np.ndarray:
    """1/rank of the needle among context tokens (best needle token), at every layer, from one forward pass."""
    text, offset = insert_needle(haystack, sentence, depth)
    prompt = build_prompt_parts(model.tokenizer, question)
    encoded = model.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    starts = np.asarray([s for s, _e in encoded["offset_mapping"]])
    needle_tokens = np.flatnonzero((starts >= offset) & (starts < offset + len(sentence)))
    ids = prompt.prefix_ids + list(encoded["input_ids"]) + prompt.suffix_ids
    context = (len(prompt.prefix_ids), len(prompt.prefix_ids) + len(encoded["input_ids"]))
    question_start = context[1] + prompt.question_offset
    layers = list(range(model.num_layers))
    captured = capture_layer_inputs(model.model, torch.tensor([ids], device=model.device), layers)
    out = np.zeros(model.num_layers)
    for layer in layers:
        attention = question_attention(model.model, layer, captured[layer], question_start)
        scores = token_scores(attention, context, question_start).float().cpu().numpy()
        best = scores[needle_tokens].max()
        out[layer] = 1.0 / (1 + int((scores > best).sum()))
    return out


def save(model: LoadedModel, result: Calibration, path: Path) -> None:
    data = _read(path)
    data[model.fingerprint] = {
        "model": model.name,
        "layer": result.layer,
        "num_layers": model.num_layers,
        "mean_reciprocal_rank": result.mean_reciprocal_rank,
        "cases": result.cases,
        "seconds": round(result.seconds, 1),
        "date": time.strftime("%Y-%m-%d"),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    tmp.replace(path)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
