"""Choosing, by measurement on a needle set, the scoring layer of a model and its retrieval heads, and
remembering the choice.

Each case is a needle sentence in real text with a question about it. One forward pass per case gives every
layer's input; at every layer and for every query head we rank the needle two ways:
- in the loop: the question after the text in the chat prompt, as the InfiniRetri loop reads a window;
- in the index: the question read alone, its queries against keys stored without a question, as the
  attention index scores a document.
The loop's layer is chosen on the loop's ranking with all heads summed (the paper's scoring). The attention
index may use a shallower layer (its build stops there, so it is faster): the shallowest whose best head, and
the best head of the layer above it, rank the needle in the index almost as well as any head does. The
retrieval heads of each layer are those whose own ranking is close to the best head's, for each use.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from app.paths import cache_dir, resources_dir
from app.retrieval.attention import capture_layer_inputs, head_attention
from app.retrieval.index_scoring import question_queries, window_keys
from app.retrieval.models import LoadedModel
from app.retrieval.needles import CALIBRATION_NEEDLES, Needle, haystack_text, insert_needle
from app.retrieval.prompt import build_prompt_parts
from app.retrieval.scoring import smooth, token_scores
from app.retrieval.types import CancelToken, Progress, ProgressCallback

DEPTHS = (0.1, 0.3, 0.5, 0.7, 0.9)
HAYSTACK_CHARS = 4000  # about 1,000 tokens: one window
HEAD_SHARE = 0.6  # a retrieval head ranks the needle at least this well, relative to the layer's best head


@dataclass(frozen=True)
class Calibration:
    layer: int
    mean_reciprocal_rank: list[float]  # per layer, heads summed, in the loop
    loop_heads: list[int]  # retrieval heads at `layer` for the loop
    index_layer: int  # the attention index's layer
    index_heads: list[int]  # ... and its retrieval heads
    head_reciprocal_rank: list[list[float]]  # per layer and head, in the loop
    index_head_reciprocal_rank: list[list[float]]  # per layer and head, question read alone against stored keys
    cases: int
    seconds: float


@dataclass(frozen=True)
class StoredCalibration:
    layer: int
    loop_heads: list[int] | None
    index_heads: list[int] | None
    index_layer: int = -1  # -1: the loop's layer (calibrations stored before the index had its own)

    @property
    def attention_index_layer(self) -> int:
        return self.index_layer if self.index_layer >= 0 else self.layer

    def layers(self, forced: int | None = None) -> tuple[int, int]:
        """(the loop's layer, the attention index's layer): both `forced` when given (a user's --layer)."""
        return (forced, forced) if forced is not None else (self.layer, self.attention_index_layer)


def stored_calibration(fingerprint: str) -> StoredCalibration | None:
    """The calibration of these weights: the user's cache first, then what ships with the app."""
    for path in (cache_dir() / "calibration.json", resources_dir() / "calibration.json"):
        entry = _read(path).get(fingerprint)
        if isinstance(entry, dict) and isinstance(entry.get("layer"), int):
            index_layer = entry.get("index_layer")
            return StoredCalibration(int(entry["layer"]), _heads(entry.get("loop_heads")), _heads(entry.get("index_heads")),
                                     int(index_layer) if isinstance(index_layer, int) else -1)
    return None


def stored_layer(fingerprint: str) -> int | None:
    stored = stored_calibration(fingerprint)
    return stored.layer if stored else None


def _heads(value: Any) -> list[int] | None:
    return [int(h) for h in value] if isinstance(value, list) and value else None


def calibration_for(model: LoadedModel, on_progress: ProgressCallback | None = None,
                    cancel: CancelToken | None = None) -> StoredCalibration:
    """The model's stored calibration, measured now (and stored) when there is none. A layer already set
    on the model wins (its heads are the calibrated ones only where they were measured at that layer)."""
    stored = stored_calibration(model.fingerprint)
    if stored is not None and stored.layer >= model.num_layers:
        stored = None
    if model.scoring_layer >= 0:
        if stored is None or stored.layer != model.scoring_layer:
            return StoredCalibration(model.scoring_layer, None, None)
        return stored
    if stored is None:
        result = calibrate(model, on_progress, cancel)
        save(model, result, cache_dir() / "calibration.json")
        stored = StoredCalibration(result.layer, result.loop_heads, result.index_heads, result.index_layer)
    model.scoring_layer = stored.layer
    return stored


def calibrate(model: LoadedModel, on_progress: ProgressCallback | None = None,
              cancel: CancelToken | None = None) -> Calibration:
    """Rank the needle at every layer and head for every case; choose the layer and its retrieval heads."""
    started = time.perf_counter()
    haystack = haystack_text()[:HAYSTACK_CHARS]
    cases = [(needle, depth) for needle in CALIBRATION_NEEDLES for depth in DEPTHS]
    loop, index = [], []
    for row, (needle, depth) in enumerate(cases):
        if cancel:
            cancel.raise_if_cancelled()
        if on_progress:
            on_progress(Progress("calibrating", row, len(cases), message="Measuring which layer retrieves best…"))
        in_loop, in_index = _needle_reciprocal_ranks(model, haystack, needle, depth)
        loop.append(in_loop)
        index.append(in_index)
    loop_mean, index_mean = np.mean(loop, axis=0), np.mean(index, axis=0)  # (layers, heads + 1)
    layer = choose_layer(loop_mean[:, -1])
    index_layer = choose_index_layer(index_mean[:, :-1], layer)
    return Calibration(
        layer, _rounded(loop_mean[:, -1]), choose_heads(loop_mean[layer, :-1]), index_layer,
        choose_heads(index_mean[index_layer, :-1]), [_rounded(r) for r in loop_mean[:, :-1]],
        [_rounded(r) for r in index_mean[:, :-1]], len(cases), time.perf_counter() - started,
    )


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in values]


def choose_layer(mean_reciprocal_rank: np.ndarray | Sequence[float], tolerance: float = 0.05) -> int:
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


def choose_index_layer(head_reciprocal_rank: np.ndarray, deepest: int, tolerance: float = 0.05) -> int:
    """The shallowest layer, at most `deepest`, whose best head and the next layer's best head both rank
    the needle within `tolerance` of the best head of any layer (a lone lucky layer is passed over)."""
    best = np.asarray(head_reciprocal_rank, dtype=float).max(axis=1)
    good = best >= best.max() * (1 - tolerance)
    for layer in range(min(deepest, len(best) - 1)):
        if good[layer] and good[layer + 1]:
            return layer
    return deepest


def choose_heads(head_reciprocal_rank: np.ndarray | Sequence[float], share: float = HEAD_SHARE) -> list[int]:
    """The heads ranking the needle at least `share` as well as the best head does (never none)."""
    scores = np.asarray(head_reciprocal_rank, dtype=float)
    return np.flatnonzero(scores >= scores.max() * share).tolist() if scores.size else []


def _needle_reciprocal_ranks(model: LoadedModel, haystack: str, needle: Needle, depth: float) -> tuple[np.ndarray, np.ndarray]:
    """1/rank of the needle among the text's tokens (best needle token), per layer and head (the last
    column: all heads summed), in the loop and in the index, from two forward passes."""
    text, offset = insert_needle(haystack, needle.sentence, depth)
    prompt = build_prompt_parts(model.tokenizer, needle.question)
    encoded = model.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    starts = np.asarray([s for s, _e in encoded["offset_mapping"]])
    needle_tokens = np.flatnonzero((starts >= offset) & (starts < offset + len(needle.sentence)))
    ids = prompt.prefix_ids + list(encoded["input_ids"]) + prompt.suffix_ids
    context = (len(prompt.prefix_ids), len(prompt.prefix_ids) + len(encoded["input_ids"]))
    question_start = context[1] + prompt.question_offset
    layers = list(range(model.num_layers))
    captured = capture_layer_inputs(model.model, torch.tensor([ids], device=model.device), layers)
    loop = np.zeros((model.num_layers, _head_count(model) + 1))
    index = np.zeros_like(loop)
    for layer in layers:
        heads = head_attention(model.model, layer, captured[layer], question_start)
        for head in range(heads.shape[0] + 1):
            attention = heads.sum(0) if head == heads.shape[0] else heads[head]
            scores = token_scores(attention, context, question_start).float().cpu().numpy()
            loop[layer, head] = _reciprocal_rank(scores, needle_tokens)
        window = captured[layer][0][:, context[0] : context[1]]  # the text read after the prompt, no question
        index[layer] = _index_reciprocal_ranks(model, layer, prompt, window, needle_tokens)
    return loop, index


def _index_reciprocal_ranks(model: LoadedModel, layer: int, prompt: Any, window: torch.Tensor,
                            needle_tokens: np.ndarray) -> np.ndarray:
    """Per head (and summed), the needle's 1/rank when the question alone scores the window's keys.
    The window's hidden states here saw the prompt's opening, as in a question-free index build."""
    keys = torch.from_numpy(window_keys(model.model, layer, window)).float()  # (n, key heads, dim)
    queries, weights = question_queries(model.model, layer, prompt, int(window.shape[1]))
    groups = queries.shape[1] // keys.shape[1]
    scaling = float(getattr(_attention_module(model, layer), "scaling", queries.shape[-1] ** -0.5))
    logits = torch.einsum("hrd,thd->hrt", queries[0], keys.repeat_interleave(groups, dim=1)) * scaling
    per_head = (torch.softmax(logits, dim=-1) * weights[None, :, None]).sum(1)  # (heads, n)
    out = np.zeros(per_head.shape[0] + 1)
    for head in range(per_head.shape[0] + 1):
        row = per_head.sum(0) if head == per_head.shape[0] else per_head[head]
        out[head] = _reciprocal_rank(smooth(row, 8).numpy(), needle_tokens)
    return out


def _attention_module(model: LoadedModel, layer: int) -> Any:
    from app.retrieval.attention import decoder_layers

    return decoder_layers(model.model)[layer].self_attn


def _head_count(model: LoadedModel) -> int:
    return int(model.model.config.num_attention_heads)


def _reciprocal_rank(scores: np.ndarray, needle_tokens: np.ndarray) -> float:
    best = scores[needle_tokens].max()
    return 1.0 / (1 + int((scores > best).sum()))


def save(model: LoadedModel, result: Calibration, path: Path) -> None:
    data = _read(path)
    data[model.fingerprint] = {
        "model": model.name,
        "layer": result.layer,
        "loop_heads": result.loop_heads,
        "index_layer": result.index_layer,
        "index_heads": result.index_heads,
        "num_layers": model.num_layers,
        "mean_reciprocal_rank": result.mean_reciprocal_rank,
        "head_reciprocal_rank": result.head_reciprocal_rank,
        "index_head_reciprocal_rank": result.index_head_reciprocal_rank,
        "cases": result.cases,
        "seconds": round(result.seconds, 1),
        "date": time.strftime("%Y-%m-%d"),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(path)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
