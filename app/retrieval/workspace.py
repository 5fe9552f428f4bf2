"""What the core keeps about a document between questions: its key, its tokenised form (in memory, the
last few documents), and where its attention index lives."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from app.hashing import text_hash
from app.paths import cache_dir
from app.retrieval.index_store import INDEX_VERSION, open_index, open_partial
from app.retrieval.models import LoadedModel
from app.retrieval.types import CancelToken, Progress, ProgressCallback
from app.retrieval.units import SpanLike, TokenizedDocument, tokenize_document

_KEEP_DOCUMENTS = 3
_tokenized: OrderedDict[str, TokenizedDocument] = OrderedDict()
_lock = threading.Lock()


def text_key(text: str, sentences: Sequence[SpanLike]) -> str:
    """Identifies the text and its sentence split: any change to either gives another key."""
    spans = np.asarray([(s.start, s.end) for s in sentences], dtype=np.int64)
    return text_hash(text, extra=spans.tobytes())


def index_folder(text: str, sentences: Sequence[SpanLike], model: LoadedModel, layer: int, window_tokens: int) -> Path:
    """Where the index of this text, sentence split, model, layer and window size lives."""
    name = f"{text_key(text, sentences)}-{model.fingerprint}-L{layer}-W{window_tokens}-v{INDEX_VERSION}"
    return cache_dir() / "indexes" / name


def tokenized(
    model: LoadedModel,
    text: str,
    sentences: Sequence[SpanLike],
    on_progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    stored_in: Path | None = None,
    check: Callable[[], None] | None = None,
) -> TokenizedDocument:
    """The document tokenised by the model's tokenizer: from memory, from the index in `stored_in`
    (complete or being built), or tokenised now; `check` (else the cancel token) runs between chunks and
    may raise to stop."""
    key = f"{text_key(text, sentences)}-{model.fingerprint}"
    with _lock:
        if key in _tokenized:
            _tokenized.move_to_end(key)
            return _tokenized[key]
    stored = (open_index(stored_in) or open_partial(stored_in)) if stored_in is not None else None
    if stored is not None:
        doc = stored.document
    else:
        if on_progress:
            on_progress(Progress("tokenizing", 0, 0, message="Reading the document…"))
        check = check or (cancel.raise_if_cancelled if cancel else None)
        doc = tokenize_document(model.tokenizer, text, sentences, between_chunks=check)
    with _lock:
        _tokenized[key] = doc
        while len(_tokenized) > _KEEP_DOCUMENTS:
            _tokenized.popitem(last=False)
    return doc
