"""The InfiniRetri loop: slide over the document window by window, keep the sentences the model's
attention points at, then answer from what was kept."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from app.retrieval.attention import capture_layer_inputs, question_attention
from app.retrieval.calibration import scoring_layer_for
from app.retrieval.generation import generate_answer
from app.retrieval.models import LoadedModel
from app.retrieval.prompt import PromptParts, build_prompt_parts
from app.retrieval.scoring import token_scores, top_tokens
from app.retrieval.types import (
    AnswerResult,
    CancelToken,
    Passage,
    Progress,
    ProgressCallback,
    RetrievalResult,
    RetrievalSettings,
    TokenCallback,
    WindowScore,
)
from app.retrieval.units import SpanLike, TokenizedDocument, pack_windows, tokenize_document


@dataclass
class _LoopState:
    """What the loop carries from one window to the next."""

    retained: list[int] = field(default_factory=list)  # unit indices, document order
    unit_scores: dict[int, float] = field(default_factory=dict)
    windows: list[WindowScore] = field(default_factory=list)
    raw_window_scores: list[float] = field(default_factory=list)
    processed_tokens: int = 0


def answer(
    text: str,
    sentences: Sequence[SpanLike],
    question: str,
    model: LoadedModel,
    settings: RetrievalSettings = RetrievalSettings(),
    on_progress: ProgressCallback | None = None,
    on_token: TokenCallback | None = None,
    cancel: CancelToken | None = None,
) -> AnswerResult:
    """Retrieve with the model's attention, then generate the answer from the retained passages."""
    retrieval = retrieve(text, sentences, question, model, settings, on_progress, cancel)
    started = time.perf_counter()
    if on_progress:
        on_progress(Progress(stage="generating", done=0, total=settings.max_new_tokens, message="Writing the answer…"))
    reply = generate_answer(
        model, retrieval.passages, question, on_token, cancel, settings.max_new_tokens,
        settings.answer_context_tokens, settings.answer_min_score,
    )
    stats = dict(retrieval.stats, generation_seconds=round(time.perf_counter() - started, 3))
    return AnswerResult(reply, retrieval.passages, retrieval.windows, stats)


def retrieve(
    text: str,
    sentences: Sequence[SpanLike],
    question: str,
    model: LoadedModel,
    settings: RetrievalSettings = RetrievalSettings(),
    on_progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> RetrievalResult:
    """Run the sliding-window retrieval over the whole document."""
    if not question.strip():
        raise ValueError("The question is empty.")
    started = time.perf_counter()
    if on_progress:
        on_progress(Progress(stage="tokenizing", done=0, total=0, message="Reading the document…"))
    doc = tokenize_document(model.tokenizer, text, sentences)
    if doc.num_units == 0:
        raise ValueError("The document has no text to search.")
    layer = settings.layer if settings.layer is not None else scoring_layer_for(model)
    prompt = build_prompt_parts(model.tokenizer, question)
    windows = pack_windows(doc, settings.window_tokens)
    state = _LoopState()
    for index, (first, end) in enumerate(windows):
        if cancel:
            cancel.raise_if_cancelled()
        _score_window(model, layer, doc, prompt, (first, end), index, state, settings)
        _report_window(on_progress, doc, windows, index, state, started)
    return _result(text, doc, state, model, layer, started)


def _score_window(
    model: LoadedModel,
    layer: int,
    doc: TokenizedDocument,
    prompt: PromptParts,
    window: tuple[int, int],
    index: int,
    state: _LoopState,
    settings: RetrievalSettings,
) -> None:
    """Score retained + window units against the question and keep the units holding the top-k tokens."""
    previous = len(state.retained)
    units = state.retained + list(range(*window))
    pieces = [doc.unit_ids(u) for u in units]
    lengths = np.asarray([len(p) for p in pieces], dtype=np.int64)
    context_ids = np.concatenate(pieces)
    ids = np.concatenate([prompt.prefix_ids, context_ids, prompt.suffix_ids]).astype(np.int64)
    input_ids = torch.from_numpy(ids)[None].to(model.device)
    context = (len(prompt.prefix_ids), len(prompt.prefix_ids) + len(context_ids))
    question_start = context[1] + prompt.question_offset
    captured = capture_layer_inputs(model.model, input_ids, [layer])[layer]
    attention = question_attention(model.model, layer, captured, question_start)
    scores = token_scores(attention, context, question_start, settings.phrase_width, settings.question_weighting)
    scores_np = scores.float().cpu().numpy()
    column_unit = np.repeat(np.asarray(units, dtype=np.int64), lengths)
    best = top_tokens(scores, settings.top_k).cpu().numpy()
    state.retained = sorted(set(column_unit[best].tolist()))
    _remember_scores(state, column_unit, scores_np)
    window_start = int(lengths[:previous].sum())
    state.raw_window_scores.append(float(scores_np[window_start:].max()))
    state.processed_tokens += int(ids.shape[0])


def _remember_scores(state: _LoopState, column_unit: np.ndarray, scores: np.ndarray) -> None:
    """Each retained unit's score is its best token score in the latest window that scored it."""
    order = np.argsort(column_unit, kind="stable")
    units, first = np.unique(column_unit[order], return_index=True)
    maxima = np.maximum.reduceat(scores[order], first)
    best_per_unit = dict(zip(units.tolist(), maxima.tolist()))
    state.unit_scores = {u: best_per_unit[u] for u in state.retained}


def _report_window(
    on_progress: ProgressCallback | None,
    doc: TokenizedDocument,
    windows: list[tuple[int, int]],
    index: int,
    state: _LoopState,
    started: float,
) -> None:
    """Record the window's span and score and tell the caller, with speed and time left."""
    first, end = windows[index]
    raw = state.raw_window_scores
    window = WindowScore(index, int(doc.unit_chars[first, 0]), int(doc.unit_chars[end - 1, 1]), 0.0)
    state.windows.append(window)
    if not on_progress:
        return
    done_tokens = int(doc.unit_tokens[end - 1, 1])
    elapsed = max(time.perf_counter() - started, 1e-6)
    rate = done_tokens / elapsed
    eta = (doc.num_tokens - done_tokens) / rate if rate > 0 else None
    live = WindowScore(index, window.start, window.end, raw[-1] / max(max(raw), 1e-12))
    on_progress(Progress("retrieving", index + 1, len(windows), rate, eta, live))


def _result(
    text: str, doc: TokenizedDocument, state: _LoopState, model: LoadedModel, layer: int, started: float
) -> RetrievalResult:
    """Normalise scores to 0..1 and turn retained units into passages with exact character spans."""
    top_window = max(state.raw_window_scores, default=0.0) or 1.0
    windows = [
        WindowScore(w.index, w.start, w.end, raw / top_window) for w, raw in zip(state.windows, state.raw_window_scores)
    ]
    top_unit = max(state.unit_scores.values(), default=0.0) or 1.0
    passages = [_passage(text, doc, u, state.unit_scores.get(u, 0.0) / top_unit) for u in state.retained]
    seconds = time.perf_counter() - started
    stats = {
        "document_tokens": doc.num_tokens,
        "windows": len(windows),
        "retrieval_seconds": round(seconds, 3),
        "tokens_per_second": round(doc.num_tokens / max(seconds, 1e-6), 1),
        "processed_tokens": state.processed_tokens,
        "model": model.name,
        "device": model.device,
        "layer": layer,
    }
    return RetrievalResult(passages, windows, stats)


def _passage(text: str, doc: TokenizedDocument, unit: int, score: float) -> Passage:
    start, end = (int(v) for v in doc.unit_chars[unit])
    piece = text[start:end]
    start += len(piece) - len(piece.lstrip())
    end -= len(piece) - len(piece.rstrip())
    return Passage(start, end, round(float(score), 4), text[start:end])
