"""The InfiniRetri loop: windows of whole sentences read in document order after the sentences retained so
far; attention of the question to the context at one layer, phrase-smoothed; the sentences holding the
top-k tokens are retained for the next window. `full_pass` runs it over the whole document (the paper's
method); `focused_pass` over a chosen set of sentences."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from app.retrieval.attention import question_attention
from app.retrieval.index_scoring import window_keys
from app.retrieval.models import LoadedModel
from app.retrieval.precision import layer_inputs
from app.retrieval.prompt import PromptParts
from app.retrieval.scoring import token_scores, top_tokens
from app.retrieval.segment_store import IndexStorageError, SegmentBuilder
from app.retrieval.types import CancelToken, Progress, ProgressCallback, RetrievalSettings, WindowScore
from app.retrieval.units import TokenizedDocument


@dataclass
class LoopState:
    """What the loop carries from one window to the next, and what it measured."""

    retained: list[int] = field(default_factory=list)  # unit indices, document order
    unit_scores: dict[int, float] = field(default_factory=dict)
    raw_window_scores: list[float] = field(default_factory=list)
    processed_tokens: int = 0
    seconds: float = 0.0
    index_warning: str = ""  # why the attention index could not be written, if it could not


@dataclass(frozen=True)
class Heads:
    """The query heads summed at the scoring layer (None: all of them): in the loop over chosen sentences,
    in the full pass, and for scoring the attention index."""

    loop: Sequence[int] | None = None
    index: Sequence[int] | None = None
    full: Sequence[int] | None = None


@dataclass
class Run:
    """Everything one retrieval run needs, fixed for its duration."""

    model: LoadedModel
    layer: int  # the loop's scoring layer
    index_layer: int  # the attention index's layer (its keys are kept when the index is written)
    heads: Heads
    doc: TokenizedDocument
    question: str
    prompt: PromptParts
    settings: RetrievalSettings
    on_progress: ProgressCallback | None
    cancel: CancelToken | None

    def check_cancel(self) -> None:
        if self.cancel:
            self.cancel.raise_if_cancelled()


def full_pass(run: Run, windows: list[tuple[int, int]], builder: SegmentBuilder | None) -> LoopState:
    """The exact InfiniRetri loop over every window; feeds the index builder the windows it still wants."""
    state = LoopState()
    started = time.perf_counter()
    for number, (first, end) in enumerate(windows):
        run.check_cancel()
        wanted = builder is not None and builder.steps_done == number
        keys = score_window(run, list(range(first, end)), state, run.heads.full, keep_keys=wanted)
        if builder is not None and keys is not None:
            try:
                builder.add(number, keys)
            except (IndexStorageError, OSError) as exc:  # the answer matters more than the index
                state.index_warning, builder = str(exc), None
        _report(run, number, len(windows), int(run.doc.unit_tokens[end - 1, 1]), state, started,
                window_span(run.doc, first, end, number))
    state.seconds = time.perf_counter() - started
    return state


def focused_pass(run: Run, units: list[int]) -> LoopState:
    """The same loop over the chosen units only (document order), packed into windows."""
    state = LoopState()
    started = time.perf_counter()
    windows = pack_units(run.doc, units, run.settings.focus_window_tokens)
    for number, window in enumerate(windows):
        run.check_cancel()
        score_window(run, window, state, run.heads.loop)
        _report(run, number, len(windows), 0, state, started, None)
    state.seconds = time.perf_counter() - started
    return state


def pack_units(doc: TokenizedDocument, units: list[int], window_tokens: int) -> list[list[int]]:
    """Pack a sorted list of units into windows of at most `window_tokens` tokens."""
    windows: list[list[int]] = [[]]
    used = 0
    for unit in units:
        cost = doc.unit_length(unit)
        if windows[-1] and used + cost > window_tokens:
            windows.append([])
            used = 0
        windows[-1].append(unit)
        used += cost
    return [w for w in windows if w]


def score_window(
    run: Run, window_units: list[int], state: LoopState, heads: Sequence[int] | None, keep_keys: bool = False,
) -> np.ndarray | None:
    """Score retained + window units against the question (summing `heads`, all when None) and keep the
    units holding the top-k tokens.
    With `keep_keys`, returns the window tokens' keys at the index layer for the attention index."""
    doc, prompt, settings = run.doc, run.prompt, run.settings
    previous = len(state.retained)
    units = state.retained + window_units
    lengths = np.asarray([doc.unit_length(u) for u in units], dtype=np.int64)
    context_ids = np.concatenate([doc.unit_ids(u) for u in units])
    ids = np.concatenate([prompt.prefix_ids, context_ids, prompt.suffix_ids]).astype(np.int64)
    context = (len(prompt.prefix_ids), len(prompt.prefix_ids) + len(context_ids))
    question_start = context[1] + prompt.question_offset
    input_ids = torch.from_numpy(ids)[None].to(run.model.device)
    inputs = layer_inputs(run.model, input_ids, [run.layer, run.index_layer] if keep_keys else [run.layer],
                          settings.precision)
    captured = inputs[run.layer]
    window_start = int(lengths[:previous].sum())
    keys = None
    if keep_keys:
        hidden = inputs[run.index_layer][0][:, context[0] + window_start : context[1]]
        keys = window_keys(run.model.model, run.index_layer, hidden)
    attention = question_attention(run.model.model, run.layer, captured, question_start, heads)
    scores = token_scores(attention, context, question_start, settings.phrase_width, settings.question_weighting)
    scores_np = scores.float().cpu().numpy()
    column_unit = np.repeat(np.asarray(units, dtype=np.int64), lengths)
    best = top_tokens(scores, settings.top_k).cpu().numpy()
    state.retained = sorted(set(column_unit[best].tolist()))
    _remember_scores(state, column_unit, scores_np)
    state.raw_window_scores.append(float(scores_np[window_start:].max()))
    state.processed_tokens += int(ids.shape[0])
    return keys


def _remember_scores(state: LoopState, column_unit: np.ndarray, scores: np.ndarray) -> None:
    """Each retained unit's score is its best token score in the latest window that scored it."""
    order = np.argsort(column_unit, kind="stable")
    units, first = np.unique(column_unit[order], return_index=True)
    maxima = np.maximum.reduceat(scores[order], first)
    best_per_unit = dict(zip(units.tolist(), maxima.tolist()))
    state.unit_scores = {u: best_per_unit[u] for u in state.retained}


def window_span(doc: TokenizedDocument, first: int, end: int, number: int, score: float = 0.0) -> WindowScore:
    return WindowScore(number, int(doc.unit_chars[first, 0]), int(doc.unit_chars[end - 1, 1]), score)


def _report(
    run: Run, number: int, total: int, done_tokens: int, state: LoopState, started: float, span: WindowScore | None
) -> None:
    """Tell the caller a window is done, with speed and time left; full-pass windows feed the heat strip."""
    if not run.on_progress:
        return
    elapsed = max(time.perf_counter() - started, 1e-6)
    remaining = total - number - 1
    rate = done_tokens / elapsed if span is not None else 0.0
    eta = (run.doc.num_tokens - done_tokens) / rate if rate > 0 else remaining * elapsed / (number + 1)
    window = None
    if span is not None:
        raw = state.raw_window_scores
        window = WindowScore(span.index, span.start, span.end, raw[-1] / max(max(raw), 1e-12))
    message = "" if span is not None else "Reading the best passages with the question"
    run.on_progress(Progress("retrieving", number + 1, total, rate, eta, window, message))
