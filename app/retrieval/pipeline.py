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
from app.retrieval.index import (
    AttentionIndex,
    IndexWriter,
    folder_bytes,
    index_folder,
    open_index,
    question_queries,
    score_document,
    window_keys,
)
from app.retrieval.models import LoadedModel
from app.retrieval.prompt import PromptParts, build_prompt_parts
from app.retrieval.scoring import smooth, token_scores, top_tokens
from app.retrieval.types import (
    AnswerResult,
    BadInputError,
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
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase of an indexed pass


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
    """Run the sliding-window retrieval: over the whole document, or (indexed mode, when the document
    has an index) over the sentences the index points at."""
    if not question.strip():
        raise BadInputError("The question is empty.")
    started = time.perf_counter()
    layer = settings.layer if settings.layer is not None else scoring_layer_for(model, on_progress)
    folder = index_folder(text, sentences, model.fingerprint, layer, settings.window_tokens)
    index = open_index(folder) if settings.mode == "indexed" else None
    if on_progress and index is None:
        on_progress(Progress(stage="tokenizing", done=0, total=0, message="Reading the document…"))
    doc = index.document if index else tokenize_document(model.tokenizer, text, sentences)
    if doc.num_units == 0:
        raise BadInputError("The document has no text to search.")
    run = _Run(model, layer, doc, build_prompt_parts(model.tokenizer, question), settings, on_progress, cancel)
    windows = pack_windows(doc, settings.window_tokens)
    if index is not None:
        state = _indexed_pass(run, index, windows)
        mode, index_bytes = "indexed", index.size_bytes
    else:
        writer = IndexWriter(folder, doc) if settings.build_index else None
        state = _full_pass(run, windows, writer)
        mode, index_bytes = "full", folder_bytes(folder)
    result = _result(text, run, state, started)
    result.stats.update(mode=mode, index_bytes=index_bytes, **state.timings)
    return result


@dataclass
class _Run:
    """Everything one retrieval run needs, fixed for its duration."""

    model: LoadedModel
    layer: int
    doc: TokenizedDocument
    prompt: PromptParts
    settings: RetrievalSettings
    on_progress: ProgressCallback | None
    cancel: CancelToken | None

    def check_cancel(self) -> None:
        if self.cancel:
            self.cancel.raise_if_cancelled()


def _full_pass(run: _Run, windows: list[tuple[int, int]], writer: IndexWriter | None) -> _LoopState:
    """The exact InfiniRetri loop over every window; also feeds the attention index writer."""
    state = _LoopState()
    started = time.perf_counter()
    try:
        for number, (first, end) in enumerate(windows):
            run.check_cancel()
            _score_window(run, list(range(first, end)), state, writer)
            state.windows.append(_window_span(run.doc, first, end, number))
            _report(run, number, len(windows), int(run.doc.unit_tokens[end - 1, 1]), state, started)
    except BaseException:
        if writer:
            writer.abort()
        raise
    if writer:
        writer.finish({"layer": run.layer, "window_tokens": run.settings.window_tokens})
    return state


def _indexed_pass(run: _Run, index: AttentionIndex, windows: list[tuple[int, int]]) -> _LoopState:
    """Score the whole document against the index, then run the loop over the best sentences only."""
    if run.on_progress:
        run.on_progress(Progress("retrieving", 0, 1, message="Scoring the document with its attention index…"))
    started = time.perf_counter()
    queries, weights = question_queries(run.model.model, run.layer, run.prompt, run.settings.window_tokens)
    raw = score_document(run.model.model, run.layer, index, queries, weights)
    scores = smooth(torch.from_numpy(raw), run.settings.phrase_width).numpy()
    focus = _focus_units(run, scores)
    focused_windows = _pack_units(run.doc, focus, run.settings.window_tokens)
    state = _LoopState()
    scored = time.perf_counter()
    for number, units in enumerate(focused_windows):
        run.check_cancel()
        _score_window(run, units, state, None)
        _report(run, number, len(focused_windows), 0, state, scored, live=False)
    state.timings = {"index_scoring_seconds": round(scored - started, 3),
                     "focus_seconds": round(time.perf_counter() - scored, 3),
                     "focus_tokens": float(sum(run.doc.unit_length(u) for u in focus))}
    state.windows = [_window_span(run.doc, first, end, n) for n, (first, end) in enumerate(windows)]
    token_windows = [run.doc.unit_tokens[first, 0] for first, _end in windows]
    state.raw_window_scores = np.maximum.reduceat(scores, np.asarray(token_windows)).tolist()
    return state


def _focus_units(run: _Run, scores: np.ndarray) -> list[int]:
    """Units holding the best tokens of the whole document, best first, each with its neighbours, within
    the follow-up budget; sorted in document order."""
    doc = run.doc
    owner = np.repeat(np.arange(doc.num_units), doc.unit_tokens[:, 1] - doc.unit_tokens[:, 0])
    candidates = min(run.settings.top_k * 4, scores.size)
    best_tokens = np.argpartition(-scores, candidates - 1)[:candidates]
    best_tokens = best_tokens[np.argsort(-scores[best_tokens])]
    ranked = list(dict.fromkeys(owner[best_tokens].tolist()))
    chosen: set[int] = set()
    used = 0
    for unit in ranked:
        for neighbour in (unit, unit - 1, unit + 1):
            if 0 <= neighbour < doc.num_units and neighbour not in chosen:
                cost = doc.unit_length(neighbour)
                if used + cost > run.settings.followup_tokens and chosen:
                    return sorted(chosen)
                chosen.add(neighbour)
                used += cost
    return sorted(chosen)


def _pack_units(doc: TokenizedDocument, units: list[int], window_tokens: int) -> list[list[int]]:
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


def _score_window(run: _Run, window_units: list[int], state: _LoopState, writer: IndexWriter | None) -> None:
    """Score retained + window units against the question and keep the units holding the top-k tokens."""
    doc, prompt, settings = run.doc, run.prompt, run.settings
    previous = len(state.retained)
    units = state.retained + window_units
    lengths = np.asarray([doc.unit_length(u) for u in units], dtype=np.int64)
    context_ids = np.concatenate([doc.unit_ids(u) for u in units])
    ids = np.concatenate([prompt.prefix_ids, context_ids, prompt.suffix_ids]).astype(np.int64)
    context = (len(prompt.prefix_ids), len(prompt.prefix_ids) + len(context_ids))
    question_start = context[1] + prompt.question_offset
    input_ids = torch.from_numpy(ids)[None].to(run.model.device)
    captured = capture_layer_inputs(run.model.model, input_ids, [run.layer])[run.layer]
    window_start = int(lengths[:previous].sum())
    if writer:
        hidden = captured[0][:, context[0] + window_start : context[1]]
        writer.add(int(doc.unit_tokens[window_units[0], 0]), window_keys(run.model.model, run.layer, hidden))
    attention = question_attention(run.model.model, run.layer, captured, question_start)
    scores = token_scores(attention, context, question_start, settings.phrase_width, settings.question_weighting)
    scores_np = scores.float().cpu().numpy()
    column_unit = np.repeat(np.asarray(units, dtype=np.int64), lengths)
    best = top_tokens(scores, settings.top_k).cpu().numpy()
    state.retained = sorted(set(column_unit[best].tolist()))
    _remember_scores(state, column_unit, scores_np)
    state.raw_window_scores.append(float(scores_np[window_start:].max()))
    state.processed_tokens += int(ids.shape[0])


def _remember_scores(state: _LoopState, column_unit: np.ndarray, scores: np.ndarray) -> None:
    """Each retained unit's score is its best token score in the latest window that scored it."""
    order = np.argsort(column_unit, kind="stable")
    units, first = np.unique(column_unit[order], return_index=True)
    maxima = np.maximum.reduceat(scores[order], first)
    best_per_unit = dict(zip(units.tolist(), maxima.tolist()))
    state.unit_scores = {u: best_per_unit[u] for u in state.retained}


def _window_span(doc: TokenizedDocument, first: int, end: int, number: int) -> WindowScore:
    return WindowScore(number, int(doc.unit_chars[first, 0]), int(doc.unit_chars[end - 1, 1]), 0.0)


def _report(
    run: _Run, number: int, total: int, done_tokens: int, state: _LoopState, started: float, live: bool = True
) -> None:
    """Tell the caller a window is done, with speed and time left; `live` windows feed the heat strip."""
    if not run.on_progress:
        return
    elapsed = max(time.perf_counter() - started, 1e-6)
    remaining = total - number - 1
    rate = done_tokens / elapsed if live else 0.0
    eta = (run.doc.num_tokens - done_tokens) / rate if rate > 0 else remaining * elapsed / (number + 1)
    window = None
    if live:
        raw = state.raw_window_scores
        latest = state.windows[-1]
        window = WindowScore(latest.index, latest.start, latest.end, raw[-1] / max(max(raw), 1e-12))
    message = "" if live else "Re-reading the best passages"
    run.on_progress(Progress("retrieving", number + 1, total, rate, eta, window, message))


def _result(text: str, run: _Run, state: _LoopState, started: float) -> RetrievalResult:
    """Normalise scores to 0..1 and turn retained units into passages with exact character spans."""
    doc = run.doc
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
        "model": run.model.name,
        "device": run.model.device,
        "layer": run.layer,
    }
    return RetrievalResult(passages, windows, stats)


def _passage(text: str, doc: TokenizedDocument, unit: int, score: float) -> Passage:
    start, end = (int(v) for v in doc.unit_chars[unit])
    piece = text[start:end]
    start += len(piece) - len(piece.lstrip())
    end -= len(piece) - len(piece.rstrip())
    return Passage(start, end, round(float(score), 4), text[start:end])
