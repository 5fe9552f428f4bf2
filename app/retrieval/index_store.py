"""The attention index on disk: the index layer's rotated keys of every document token (float16, tokens x
key heads x head dim), one segment store step per window, with the tokenised document beside them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from app.retrieval.segment_store import (
    IndexStorageError,
    SegmentBuilder,
    Store,
    StoreBusyError,
    folder_bytes,
    open_store,
    partial_folder,
    prune_stores,
)
from app.retrieval.segment_store import (
    open_partial as open_partial_store,
)
from app.retrieval.units import TokenizedDocument

__all__ = [
    "AttentionIndex", "IndexStorageError", "StoreBusyError", "folder_bytes", "index_builder", "open_index",
    "open_partial", "partial_folder", "prune_stores",
]

INDEX_VERSION = 3
CACHE_LIMIT_BYTES = 4 * 1024**3  # indexes beyond this, least recently used first, are deleted
DOCUMENT = "document.npz"  # the tokenised document, so that a follow-up need not tokenise again


@dataclass
class AttentionIndex:
    """A readable index (complete, or the whole windows of a build in progress) and its document."""

    store: Store
    document: TokenizedDocument

    @property
    def folder(self) -> Path:
        return self.store.folder

    @property
    def meta(self) -> dict[str, Any]:
        return self.store.meta

    @property
    def complete(self) -> bool:
        return self.store.complete

    @property
    def indexed_tokens(self) -> int:
        """Tokens covered from the document's start."""
        return self.store.rows_done

    @property
    def windows_done(self) -> int:
        return self.store.steps_done

    @property
    def size_bytes(self) -> int:
        return self.store.size_bytes

    @property
    def key_heads(self) -> int:
        return int(self.store.array(self.store.segments[0]).shape[1])

    def chunks(self, chunk_tokens: int) -> Any:
        """(first token, keys) pieces of at most `chunk_tokens` tokens, in document order."""
        return self.store.chunks(chunk_tokens)


def open_index(folder: Path) -> AttentionIndex | None:
    """The complete index in `folder`, checked; a damaged one is deleted and None returned."""
    return _with_document(open_store(folder), delete_if_bad=True)


def open_partial(folder: Path) -> AttentionIndex | None:
    """The windows indexed so far by the build in progress for `folder`."""
    return _with_document(open_partial_store(folder), delete_if_bad=False)


def _with_document(store: Store | None, delete_if_bad: bool) -> AttentionIndex | None:
    if store is None or not store.segments:
        return None
    try:
        document = load_document_arrays(store.extra(DOCUMENT))
        if document.num_tokens != store.meta["rows"]:
            raise ValueError("the index belongs to another document")
    except (OSError, ValueError, KeyError):
        if delete_if_bad:
            import shutil

            shutil.rmtree(store.folder, ignore_errors=True)
        return None
    return AttentionIndex(store, document)


def index_builder(folder: Path, document: TokenizedDocument, windows: int, meta: dict[str, Any],
                  bytes_per_token: int) -> SegmentBuilder:
    """A builder for the index of `document` (one step per window); resumes a build left in `folder`."""

    def write_document(handle: BinaryIO) -> None:
        np.savez(handle, ids=document.ids.astype(np.int32), unit_tokens=document.unit_tokens,
                 unit_chars=document.unit_chars)

    meta = dict(meta, index_version=INDEX_VERSION)
    return SegmentBuilder(folder, windows, document.num_tokens, meta, bytes_per_token, {DOCUMENT: write_document},
                          CACHE_LIMIT_BYTES)


def load_document_arrays(path: Path) -> TokenizedDocument:
    with np.load(path) as stored:
        ids, unit_tokens, unit_chars = stored["ids"], stored["unit_tokens"], stored["unit_chars"]
    if unit_tokens.ndim != 2 or unit_tokens.shape != unit_chars.shape or (unit_tokens.size and unit_tokens.max() > ids.size):
        raise ValueError("stored document is inconsistent")
    return TokenizedDocument(ids.astype(np.int64), unit_tokens.astype(np.int64), unit_chars.astype(np.int64))
