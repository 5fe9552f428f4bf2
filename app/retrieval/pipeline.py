"""The core call: retrieve with the model's own attention (InfiniRetri), then answer from what was kept.

Three modes share the InfiniRetri loop (`loop.py`) and differ only in what it reads:
- full: every window of the document (the paper's exact method); also writes the attention index;
- indexed: the sentences the attention index ranks best (the index is built first if missing);
- auto (default): the sentences that words, meaning and the attention index built so far rank best, each
  ranking in turn; the sentences meaning ranks best are kept beside the loop's choice. Or the full pass when it
  is estimated to take under `auto_full_pass_seconds`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.retrieval.answer_model import answer_dtype
from app.retrieval.calibration import calibration_for
from app.retrieval.candidates import MEANING_RANK_K, choose_interleaved, fuse, shares, with_a_share
from app.retrieval.generation import answer_context, generate_text, quote_reason, quoted
from app.retrieval.index_store import AttentionIndex, folder_bytes, index_builder, open_index, open_partial
from app.retrieval.indexing import build_index, bytes_per_token, index_meta
from app.retrieval.loop import Heads, LoopState, Run, focused_pass, full_pass, window_span
from app.retrieval.models import LoadedModel
from app.retrieval.precision import retrieval_precision
from app.retrieval.prompt import build_prompt_parts
from app.retrieval.segment_store import IndexStorageError, SegmentBuilder, StoreBusyError
from app.retrieval.sources import SOURCES, Rankings, rank_units
from app.retrieval.speed import estimate_full_pass_seconds, remember_speed
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
)
from app.retrieval.units import SpanLike, TokenizedDocument, pack_windows
from app.retrieval.workspace import index_folder, tokenized


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
    """Retrieve with the model's attention, then answer from the best retained sentences."""
    retrieval = retrieve(text, sentences, question, model, settings, on_progress, cancel)
    started = time.perf_counter()
    if on_progress:
        on_progress(Progress(stage="generating", done=0, total=settings.max_new_tokens, message="Writing the answer…"))
    reply = answer_from_passages(text, sentences, retrieval.passages, question, model, settings, on_token, cancel)
    stats = dict(retrieval.stats, generation_seconds=round(time.perf_counter() - started, 3), **reply.stats)
    return AnswerResult(reply.text, retrieval.passages, retrieval.windows, stats)


@dataclass(frozen=True)
class Reply:
    text: str
    stats: dict[str, Any]


def answer_from_passages(
    text: str,
    sentences: Sequence[SpanLike],
    passages: Sequence[Passage],
    question: str,
    model: LoadedModel,
    settings: RetrievalSettings = RetrievalSettings(),
    on_token: TokenCallback | None = None,
    cancel: CancelToken | None = None,
) -> Reply:
    """The model's short answer from the best passages (with their neighbours); the best passage quoted
    instead when the model's answer echoes its instructions, misses the question, or leans on a lesser
    passage more than on the best one."""
    spans = np.asarray([(s.start, s.end) for s in sentences], dtype=np.int64).reshape(-1, 2)
    context = answer_context(text, spans, passages, model.tokenizer, settings.answer_context_tokens,
                             settings.answer_passages, neighbours=settings.answer_neighbours,
                             question=question if settings.answer_fits_question else "")
    reply = generate_text(model, context.text, question, on_token, cancel, settings.max_new_tokens,
                          settings.answer_precision)
    stats: dict[str, Any] = {"answer_source": "model", "model_answer": reply,
                             "answer_precision": answer_dtype(model, settings.answer_precision)}
    if context.best is not None:
        stats["best_passage"] = list(passages).index(context.best)
        because = quote_reason(reply, question, context)
        if because:
            reply, stats["answer_source"], stats["quoted_because"] = quoted(context.best, text, spans), "evidence", because
    return Reply(reply, stats)


def retrieve(
    text: str,
    sentences: Sequence[SpanLike],
    question: str,
    model: LoadedModel,
    settings: RetrievalSettings = RetrievalSettings(),
    on_progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> RetrievalResult:
    """Run the InfiniRetri loop over the whole document or over chosen sentences (see the module doc)."""
    started = time.perf_counter()
    run, folder = _prepare(text, sentences, question, model, settings, on_progress, cancel)
    windows = pack_windows(run.doc, settings.window_tokens)
    mode = _mode(settings, model, run.doc, run.layer)
    if mode == "full":
        outcome = _full(run, windows, folder)
    else:
        outcome = _focused(run, text, sentences, windows, folder, mode)
    remember_speed(model, run.layer, outcome.state.processed_tokens, outcome.state.seconds)
    result = _result(text, run, outcome, windows, started)
    result.stats.update(mode=mode, **outcome.stats)
    return result


def candidate_rankings(
    text: str, sentences: Sequence[SpanLike], question: str, model: LoadedModel,
    settings: RetrievalSettings = RetrievalSettings(), sources: Sequence[str] = (*SOURCES, "attention_all_heads"),
) -> tuple[TokenizedDocument, Rankings]:
    """Every source's ranking of the document's units for `question` (for benchmarks and diagnostics)."""
    run, folder = _prepare(text, sentences, question, model, settings, None, None)
    return run.doc, rank_units(run, text, sentences, open_index(folder) or open_partial(folder), sources)


def _prepare(
    text: str, sentences: Sequence[SpanLike], question: str, model: LoadedModel, settings: RetrievalSettings,
    on_progress: ProgressCallback | None, cancel: CancelToken | None,
) -> tuple[Run, Path]:
    """The run's fixed parts (layer, heads, tokenised document, prompt) and the index folder."""
    if not question.strip():
        raise BadInputError("The question is empty.")
    calibration = calibration_for(model, on_progress, cancel)
    layer, index_layer = calibration.layers(settings.layer)
    folder = index_folder(text, sentences, model, index_layer, settings.window_tokens)
    doc = tokenized(model, text, sentences, on_progress, cancel, stored_in=folder)
    if doc.num_units == 0:
        raise BadInputError("The document has no text to search.")
    heads = Heads(_chosen(settings.loop_heads, calibration.loop_heads, layer, calibration.layer),
                  _chosen(settings.index_heads, calibration.index_heads, index_layer, calibration.attention_index_layer),
                  _chosen(settings.full_pass_heads, calibration.loop_heads, layer, calibration.layer))
    prompt = build_prompt_parts(model.tokenizer, question)
    return Run(model, layer, index_layer, heads, doc, question, prompt, settings, on_progress, cancel), folder


def _chosen(choice: str, calibrated: list[int] | None, layer: int, calibrated_layer: int) -> list[int] | None:
    """The query heads to sum: the calibrated retrieval heads when asked for and measured at this layer."""
    return calibrated if choice == "calibrated" and layer == calibrated_layer else None


def _mode(settings: RetrievalSettings, model: LoadedModel, doc: TokenizedDocument, layer: int) -> str:
    if settings.mode != "auto":
        return settings.mode
    quick = estimate_full_pass_seconds(model, layer, doc.num_tokens, settings) <= settings.auto_full_pass_seconds
    return "full" if quick else "auto"


@dataclass
class _Outcome:
    """The loop's state, the relevance of every window (raw), and what to report."""

    state: LoopState
    window_scores: list[float]
    stats: dict[str, Any] = field(default_factory=dict)
    beside_loop: set[int] = field(default_factory=set)  # retained units the meaning ranking added


def _full(run: Run, windows: list[tuple[int, int]], folder: Path) -> _Outcome:
    """The exact pass; writes the attention index on the way unless a complete one exists. A failure to
    write the index (a full disk) is reported in the stats and never costs the answer."""
    builder, warning = _open_builder(run, windows, folder)
    try:
        state = full_pass(run, windows, builder)
        warning = warning or state.index_warning
        if builder is not None and not state.index_warning:
            try:
                builder.finish()
            except (IndexStorageError, OSError) as exc:
                warning = str(exc)
    finally:
        if builder is not None:
            with contextlib.suppress(IndexStorageError, OSError):
                builder.close()
    stats: dict[str, Any] = {"index_bytes": folder_bytes(folder)}
    if warning:
        stats["index_warning"] = warning
    return _Outcome(state, state.raw_window_scores, stats)


def _open_builder(run: Run, windows: list[tuple[int, int]], folder: Path) -> tuple[SegmentBuilder | None, str]:
    if not run.settings.build_index or open_index(folder) is not None:
        return None, ""
    meta = index_meta(run.model, run.index_layer, run.settings)
    try:
        builder = index_builder(folder, run.doc, len(windows), meta, bytes_per_token(run.model, run.index_layer))
    except StoreBusyError:
        return None, ""
    except (IndexStorageError, OSError) as exc:
        return None, str(exc)
    return builder, ""


def _focused(
    run: Run, text: str, sentences: Sequence[SpanLike], windows: list[tuple[int, int]], folder: Path, mode: str
) -> _Outcome:
    """Rank sentences (indexed: the attention index alone; auto: every source with a share of the budget, see
    candidates.WEIGHTS), take the best of each ranking with their neighbours, then run the loop over them. The
    heat strip's relevance fuses the rankings."""
    doc = run.doc
    index = _index_for(run, text, sentences, folder, mode)
    sources = ("attention",) if mode == "indexed" else with_a_share(SOURCES)
    beside = ("fitting",) if mode == "auto" and run.settings.fitting_beside_loop > 0 else ()
    rankings = rank_units(run, text, sentences, index, tuple(dict.fromkeys((*sources, *beside))))
    if not rankings.scores:  # indexed mode without an index: fall back on words
        rankings = rank_units(run, text, sentences, index, ("lexical",))
    names = [name for name in rankings.scores if name in sources] or list(rankings.scores)
    units = choose_interleaved(doc, [rankings.scores[n] for n in names], shares(names), run.settings.candidate_tokens)
    if run.on_progress:
        run.on_progress(Progress("retrieving", 0, 1, message="Reading the best passages with the question"))
    state = focused_pass(run, units)
    loop_kept = set(state.retained)
    if "meaning" in rankings.scores:
        besides = [(rankings.scores["meaning"], run.settings.meaning_beside_loop)]
        if "fitting" in rankings.scores:
            besides.append((rankings.scores["fitting"], run.settings.fitting_beside_loop))
        state.unit_scores = keep_beside_loop(state.unit_scores, rankings.scores["meaning"], besides)
        state.retained = sorted(state.unit_scores)
    beside_loop = set(state.retained) - loop_kept
    stats: dict[str, Any] = {
        **{f"{name}_seconds": seconds for name, seconds in rankings.seconds.items()},
        "focus_seconds": round(state.seconds, 3),
        "focus_tokens": int(sum(doc.unit_length(u) for u in units)),
        "kept_beside_loop": len(beside_loop),
        "indexed_tokens": index.indexed_tokens if index is not None else 0,
        "sources": names,  # each with a share of the candidates (auto ranks by no other)
        "meaning_reading": rankings.meaning_reading,
        "index_bytes": index.size_bytes if index is not None else 0,
    }
    fused = fuse([rankings.scores[n] for n in names]) if names else np.zeros(doc.num_units)
    return _Outcome(state, _window_maxima(doc, windows, fused), stats, beside_loop)


def rank_with_meaning(loop_scores: dict[int, float], meaning: np.ndarray) -> dict[int, float]:
    """The retained units ordered by the loop's attention and by meaning together (reciprocal rank fusion):
    on the dev set the best of them is the evidence more often than by either alone."""
    units = list(loop_scores)
    if not units:
        return loop_scores
    fused = fuse([np.asarray([loop_scores[u] for u in units]), meaning[units]], k=MEANING_RANK_K)
    return dict(zip(units, fused.tolist()))


def keep_beside_loop(loop_scores: dict[int, float], meaning: np.ndarray,
                     besides: Sequence[tuple[np.ndarray, int]]) -> dict[int, float]:
    """The loop's retained units and, beside them, for each (ranking, extra) of `besides`, the `extra` units
    that ranking puts first and the loop did not keep: the 135M model's attention rarely links a paraphrased
    question to its evidence, which the meaning ranking often holds, and the fitting ranking (sources.py) more
    often for a question about a default, a number or a file (see the README). Ordered by reciprocal rank
    fusion of the loop's order (its units by attention and meaning together, then the extra ones) and the
    meaning order."""
    ordered = rank_with_meaning(loop_scores, meaning)
    extras: list[int] = []
    for ranking, extra in besides:
        best = np.argsort(-np.where(np.isfinite(ranking), ranking, -np.inf), kind="stable")[: max(extra, 0)]
        extras += [int(u) for u in best if np.isfinite(ranking[u]) and int(u) not in ordered and int(u) not in extras]
    if not extras:
        return ordered
    units = list(ordered) + extras
    loop_order = np.asarray([ordered.get(u, -np.inf) for u in units])
    fused = fuse([loop_order, meaning[units]], k=MEANING_RANK_K)
    return dict(zip(units, fused.tolist()))


def _index_for(run: Run, text: str, sentences: Sequence[SpanLike], folder: Path, mode: str) -> AttentionIndex | None:
    """The complete index; indexed mode builds it when missing, auto mode takes the part built so far."""
    index = open_index(folder)
    if index is None and mode == "indexed":  # the attention index only: the question waits for it
        build_index(text, sentences, run.model, dataclasses.replace(run.settings, deep_meaning=False),
                    run.on_progress, run.cancel)
        index = open_index(folder)
    return index if index is not None or mode != "auto" else open_partial(folder)


def _window_maxima(doc: TokenizedDocument, windows: list[tuple[int, int]], unit_scores: np.ndarray) -> list[float]:
    firsts = np.asarray([first for first, _end in windows])
    return np.maximum.reduceat(unit_scores, firsts).tolist() if len(firsts) else []


def _result(text: str, run: Run, outcome: _Outcome, windows: list[tuple[int, int]], started: float) -> RetrievalResult:
    """Normalise scores to 0..1 and turn retained units into passages with exact character spans."""
    doc, state = run.doc, outcome.state
    top_window = max(outcome.window_scores, default=0.0) or 1.0
    spans = [window_span(doc, first, end, n, raw / top_window)
             for n, ((first, end), raw) in enumerate(zip(windows, outcome.window_scores))]
    top_unit = max(state.unit_scores.values(), default=0.0) or 1.0
    passages = [_passage(text, doc, u, state.unit_scores.get(u, 0.0) / top_unit,
                         "meaning" if u in outcome.beside_loop else "loop") for u in state.retained]
    seconds = time.perf_counter() - started
    stats = {
        "document_tokens": doc.num_tokens,
        "windows": len(spans),
        "retrieval_seconds": round(seconds, 3),
        "tokens_per_second": round(doc.num_tokens / max(seconds, 1e-6), 1),
        "processed_tokens": state.processed_tokens,
        "model": run.model.name,
        "device": run.model.device,
        "precision": retrieval_precision(run.model, run.settings.precision),  # of the retrieval forwards
        "layer": run.layer,
    }
    return RetrievalResult(passages, spans, stats)


def _passage(text: str, doc: TokenizedDocument, unit: int, score: float, kept_by: str) -> Passage:
    start, end = (int(v) for v in doc.unit_chars[unit])
    piece = text[start:end]
    start += len(piece) - len(piece.lstrip())
    end -= len(piece) - len(piece.rstrip())
    return Passage(start, end, round(float(score), 4), text[start:end], kept_by)
