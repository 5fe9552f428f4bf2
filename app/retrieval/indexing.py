"""Building a document's indexes without a question, in the background, resumably: first the static token
vectors (seconds; kept in memory), then the sentence embeddings (quick), then the attention index, then the
deep embeddings (all-mpnet-base-v2: the slowest, and the meaning ranking until they are done is MiniLM's).

For the attention index, each window is read once, after the chat prompt's fixed opening (so the attention sink falls on the prompt,
as in the full pass), up to the index layer; that layer's rotated keys of the window's tokens are stored.
With no question and no retained context this reads about half the tokens of a full pass and runs
fewer layers. The build stops between windows when cancelled or asked to pause, keeping what is done.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from app.retrieval import embeddings
from app.retrieval.calibration import calibration_for
from app.retrieval.embeddings import build_embeddings
from app.retrieval.index_scoring import window_keys
from app.retrieval.index_store import folder_bytes, index_builder, open_index, open_partial
from app.retrieval.models import LoadedModel
from app.retrieval.precision import layer_inputs, pad_id, retrieval_precision
from app.retrieval.prompt import context_prefix_ids
from app.retrieval.segment_store import SegmentBuilder
from app.retrieval.token_vectors import PREPARING, complete_vocabulary, vocabulary_missing
from app.retrieval.token_vectors import prepare as prepare_token_vectors
from app.retrieval.types import (
    Cancelled,
    CancelToken,
    Progress,
    ProgressCallback,
    RetrievalSettings,
    WindowScore,
)
from app.retrieval.units import SpanLike, TokenizedDocument, pack_windows
from app.retrieval.workspace import index_folder, tokenized

GPU_BATCH_TOKENS = 16384  # windows read together on a GPU (their keys are independent)


@dataclass(frozen=True)
class IndexReport:
    """Where a build stands: `complete` (every index it builds), or stopped (paused or cancelled) after
    `windows_done` of the attention index's windows, or in the deep embeddings after them all."""

    folder: Path
    complete: bool
    windows_done: int
    windows: int
    document_tokens: int
    seconds: float
    tokens_indexed_now: int
    index_bytes: int
    embeddings_complete: bool = False
    embedding_seconds: float = 0.0  # of `seconds`, spent on sentence embeddings
    deep_complete: bool = False  # the deep embeddings (all-mpnet-base-v2)
    deep_seconds: float = 0.0  # of `seconds`, spent on them

    @property
    def tokens_per_second(self) -> float:
        """Speed of the attention index build alone."""
        seconds = self.seconds - self.embedding_seconds - self.deep_seconds
        return self.tokens_indexed_now / seconds if seconds > 0 else 0.0

    def to_json(self) -> dict[str, float | int | bool | str]:
        return {
            "document_tokens": self.document_tokens,
            "windows": self.windows,
            "windows_done": self.windows_done,
            "complete": self.complete,
            "seconds": round(self.seconds, 3),
            "tokens_indexed": self.tokens_indexed_now,
            "tokens_per_second": round(self.tokens_per_second, 1),
            "index_bytes": self.index_bytes,
            "embeddings_complete": self.embeddings_complete,
            "embedding_seconds": round(self.embedding_seconds, 3),
            "deep_embeddings_complete": self.deep_complete,
            "deep_embedding_seconds": round(self.deep_seconds, 3),
            "folder": str(self.folder),
        }


def index_status(
    text: str, sentences: Sequence[SpanLike], model: LoadedModel, settings: RetrievalSettings = RetrievalSettings()
) -> tuple[int, int, bool]:
    """(indexed tokens, document tokens, complete) of the document's index, without building anything."""
    folder = index_folder(text, sentences, model, index_layer_for(model, settings), settings.window_tokens)
    index = open_index(folder) or open_partial(folder)
    if index is None:
        return 0, 0, False
    return index.indexed_tokens, index.document.num_tokens, index.complete


def build_index(
    text: str,
    sentences: Sequence[SpanLike],
    model: LoadedModel,
    settings: RetrievalSettings = RetrievalSettings(),
    on_progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    should_pause: Callable[[], bool] | None = None,
) -> IndexReport:
    """Build (or resume, or find complete) the document's sentence embeddings, then its attention index, then
    (with `settings.deep_meaning`) its deep embeddings; raises Cancelled when cancelled, returns early with
    `complete=False` when `should_pause()` turns true."""
    if settings.deep_meaning:
        _load_deep_embedder(on_progress)
    report = _build_attention(text, sentences, model, settings, on_progress, cancel, should_pause)
    if not report.complete or not settings.deep_meaning or embeddings.deep_embedder() is None:
        return report
    started = time.perf_counter()
    deep = build_embeddings(text, sentences, on_progress, cancel, should_pause, which="deep")
    spent = time.perf_counter() - started
    return dataclasses.replace(report, complete=deep, deep_complete=deep, deep_seconds=spent,
                               seconds=report.seconds + spent)


def _load_deep_embedder(on_progress: ProgressCallback | None) -> None:
    """Load the deep embedder first (about 3 s, once a process): a question asked before the deep embeddings
    exist reads its best sentences again with it (meaning.best_read_again)."""
    if on_progress and embeddings.deep_embedder_to_load():
        on_progress(Progress("loading", 0, 0, message="Reading the sentence meaning model (all-mpnet-base-v2)"))
    embeddings.deep_embedder()


def _build_attention(
    text: str,
    sentences: Sequence[SpanLike],
    model: LoadedModel,
    settings: RetrievalSettings,
    on_progress: ProgressCallback | None,
    cancel: CancelToken | None,
    should_pause: Callable[[], bool] | None,
) -> IndexReport:
    """The quick embeddings, then the attention index."""
    started = time.perf_counter()
    if on_progress:
        on_progress(Progress("embedding", 0, 1, message="Reading the document's words for meaning"))
    prepare_token_vectors(text, sentences)
    _complete_vocabulary(on_progress, cancel, should_pause)
    embedded = build_embeddings(text, sentences, on_progress, cancel, should_pause)
    embedding_seconds = time.perf_counter() - started
    layer = index_layer_for(model, settings, on_progress, cancel)
    folder = index_folder(text, sentences, model, layer, settings.window_tokens)
    existing = open_index(folder)
    if existing is not None:
        count = int(existing.meta["steps"])
        return IndexReport(folder, True, count, count, existing.document.num_tokens, embedding_seconds, 0,
                           existing.size_bytes, embedded, embedding_seconds)
    try:
        doc = tokenized(model, text, sentences, on_progress, stored_in=folder, check=_checker(cancel, should_pause))
    except _Paused:
        return _paused_report(folder, time.perf_counter() - started, embedded, embedding_seconds)
    windows = pack_windows(doc, settings.window_tokens)
    with index_builder(folder, doc, len(windows), index_meta(model, layer, settings), bytes_per_token(model, layer)) as builder:
        first_token = builder.rows_done
        _index_windows(model, layer, doc, windows, builder, settings.precision, on_progress, cancel, should_pause)
        done_now = builder.rows_done - first_token
        finished = builder.finish()
        windows_done = builder.steps_done
    seconds = time.perf_counter() - started
    return IndexReport(folder, finished is not None, windows_done, len(windows), doc.num_tokens, seconds, done_now,
                       folder_bytes(finished or builder.partial), embedded, embedding_seconds)


def _complete_vocabulary(on_progress: ProgressCallback | None, cancel: CancelToken | None,
                         should_pause: Callable[[], bool] | None) -> None:
    """Once per machine, as the first document's indexes begin (unless the app's start did it): the static
    vector of every vocabulary token (see token_vectors.complete_vocabulary), so that every later document
    needs none computed before its first question. A pause or a cancel stops it and costs nothing: it goes
    on with the next build."""
    if not vocabulary_missing():
        return
    if on_progress:
        on_progress(Progress("embedding", 0, 1, message=PREPARING))
    with contextlib.suppress(_Paused, Cancelled):
        complete_vocabulary(_checker(cancel, should_pause))


class _Paused(Exception):
    """Raised between tokenizer chunks when the build is asked to pause."""


def _checker(cancel: CancelToken | None, should_pause: Callable[[], bool] | None) -> Callable[[], None]:
    def check() -> None:
        if cancel:
            cancel.raise_if_cancelled()
        if should_pause and should_pause():
            raise _Paused

    return check


def _paused_report(folder: Path, seconds: float, embedded: bool, embedding_seconds: float) -> IndexReport:
    """Where a build paused before its first window stands (an earlier run may have indexed some)."""
    partial = open_partial(folder)
    done = partial.windows_done if partial else 0
    windows = int(partial.meta["steps"]) if partial else 0
    tokens = int(partial.meta["rows"]) if partial else 0
    return IndexReport(folder, False, done, windows, tokens, seconds, 0, partial.size_bytes if partial else 0,
                       embedded, embedding_seconds)


def index_layer_for(model: LoadedModel, settings: RetrievalSettings, on_progress: ProgressCallback | None = None,
                    cancel: CancelToken | None = None) -> int:
    """The layer whose keys the attention index keeps: calibrated (or the one `settings` forces)."""
    return calibration_for(model, on_progress, cancel).layers(settings.layer)[1]


def index_meta(model: LoadedModel, layer: int, settings: RetrievalSettings) -> dict[str, object]:
    """What an index was built with; a build resumes only where all of it is the same (an index built in
    float32 before precision was recorded stays usable)."""
    meta: dict[str, object] = {"layer": layer, "window_tokens": settings.window_tokens, "model": model.fingerprint}
    precision = retrieval_precision(model, settings.precision)
    return meta if precision == "native" else {**meta, "precision": precision}


def bytes_per_token(model: LoadedModel, layer: int) -> int:
    """Stored float16 key bytes per token."""
    from app.retrieval.attention import decoder_layers

    k_proj = decoder_layers(model.model)[layer].self_attn.k_proj
    return int(k_proj.out_features) * 2


def _index_windows(
    model: LoadedModel,
    layer: int,
    doc: TokenizedDocument,
    windows: list[tuple[int, int]],
    builder: SegmentBuilder,
    precision: str,
    on_progress: ProgressCallback | None,
    cancel: CancelToken | None,
    should_pause: Callable[[], bool] | None,
) -> None:
    """Read the windows the builder still wants, a batch at a time, reporting after each batch."""
    prefix = np.asarray(context_prefix_ids(model.tokenizer), dtype=np.int64)
    started, first_token = time.perf_counter(), builder.rows_done
    batch_tokens = GPU_BATCH_TOKENS if model.device == "cuda" else 0
    number = builder.steps_done
    while number < len(windows):
        if cancel:
            cancel.raise_if_cancelled()
        if should_pause and should_pause():
            return
        batch = _next_batch(doc, windows, number, batch_tokens)
        for window, keys in zip(batch, _batch_keys(model, layer, doc, [windows[w] for w in batch], prefix, precision)):
            builder.add(window, keys)
        number = batch[-1] + 1
        _report(on_progress, doc, windows, number - 1, builder.rows_done - first_token, started)


def _next_batch(doc: TokenizedDocument, windows: list[tuple[int, int]], first: int, batch_tokens: int) -> list[int]:
    """Window numbers from `first` on whose tokens fit in `batch_tokens` (always at least one)."""
    batch, used = [first], _window_tokens(doc, windows[first])
    while batch[-1] + 1 < len(windows):
        size = _window_tokens(doc, windows[batch[-1] + 1])
        if used + size > batch_tokens:
            break
        batch.append(batch[-1] + 1)
        used += size
    return batch


def _window_tokens(doc: TokenizedDocument, window: tuple[int, int]) -> int:
    first, end = window
    return int(doc.unit_tokens[end - 1, 1] - doc.unit_tokens[first, 0])


def _batch_keys(
    model: LoadedModel, layer: int, doc: TokenizedDocument, batch: list[tuple[int, int]], prefix: np.ndarray,
    precision: str = "auto",
) -> list[np.ndarray]:
    """Each window read after the prompt's opening, padded on the right to a common length (causal
    attention never looks right, so padding changes nothing); the index layer's keys of its tokens."""
    spans = [(int(doc.unit_tokens[first, 0]), int(doc.unit_tokens[end - 1, 1])) for first, end in batch]
    longest = max(end - start for start, end in spans)
    pad = pad_id(model.tokenizer)
    ids = np.full((len(spans), len(prefix) + longest), pad, dtype=np.int64)
    for row, (start, end) in enumerate(spans):
        ids[row, : len(prefix)] = prefix
        ids[row, len(prefix) : len(prefix) + end - start] = doc.ids[start:end]
    input_ids = torch.from_numpy(ids).to(model.device)
    hidden = layer_inputs(model, input_ids, [layer], precision)[layer][0]
    return [
        window_keys(model.model, layer, hidden[row : row + 1, len(prefix) : len(prefix) + end - start])
        for row, (start, end) in enumerate(spans)
    ]


def _report(
    on_progress: ProgressCallback | None, doc: TokenizedDocument, windows: list[tuple[int, int]], number: int,
    tokens_now: int, started: float,
) -> None:
    if not on_progress:
        return
    elapsed = max(time.perf_counter() - started, 1e-6)
    rate = tokens_now / elapsed
    first, end = windows[number]
    remaining_tokens = doc.num_tokens - int(doc.unit_tokens[end - 1, 1])
    eta = remaining_tokens / rate if rate > 0 else None
    span = WindowScore(number, int(doc.unit_chars[first, 0]), int(doc.unit_chars[end - 1, 1]), 0.0)
    on_progress(Progress("indexing", number + 1, len(windows), rate, eta, span, "Indexing the document"))
