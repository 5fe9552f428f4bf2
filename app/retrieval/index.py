"""The per-document attention index: the scoring layer's rotated keys of every document token, kept on
disk after a full pass so that a follow-up question can be scored against the whole document at once.

Keys are stored float16, (tokens, key heads, head dim): 384 bytes a token for SmolLM2-135M. Each window's
keys are rotated as if the window started at position 0; a follow-up question's queries are rotated as if
they came right after a full window, so query-key distances match what the full pass saw.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from app.paths import cache_dir
from app.retrieval.attention import (
    capture_layer_inputs,
    decoder_layers,
    project,
    question_attention,
    rotary_at,
    rotate,
)
from app.retrieval.prompt import PromptParts
from app.retrieval.units import SpanLike, TokenizedDocument

INDEX_VERSION = 2
CACHE_LIMIT_BYTES = 4 * 1024**3  # indexes beyond this, least recently used first, are deleted
META = "meta.json"
KEYS = "keys.npy"
DOCUMENT = "document.npz"  # the tokenised document, so that a follow-up need not tokenise again


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def spans_hash(sentences: Sequence[SpanLike]) -> str:
    spans = np.asarray([(s.start, s.end) for s in sentences], dtype=np.int64)
    return hashlib.blake2b(spans.tobytes(), digest_size=6).hexdigest()


def index_folder(
    text: str, sentences: Sequence[SpanLike], fingerprint: str, layer: int, window_tokens: int
) -> Path:
    """Where the index of this text, sentence split, model, layer and window size lives; any change
    gives a new folder."""
    name = f"{text_hash(text)}{spans_hash(sentences)}-{fingerprint}-L{layer}-W{window_tokens}-v{INDEX_VERSION}"
    return cache_dir() / "indexes" / name


def window_keys(model: Any, layer: int, hidden: torch.Tensor) -> np.ndarray:
    """Keys of `hidden` (1, n, dim) rotated at positions 0..n-1, as float16 (n, key heads, head dim)."""
    with torch.inference_mode():
        keys = project(model, layer, hidden, "k")
        positions = torch.arange(hidden.shape[1], device=hidden.device)
        cos, sin = rotary_at(model, positions, hidden)
        rotated = rotate(model, layer, keys, cos, sin)
    return rotated[0].transpose(0, 1).to(torch.float16).cpu().numpy()


class IndexWriter:
    """Receives each window's keys during a full pass and writes them to disk as they come."""

    def __init__(self, folder: Path, document: TokenizedDocument) -> None:
        self.folder = folder
        self.document = document
        self.num_tokens = document.num_tokens
        self.keys: np.memmap | None = None
        self.written = 0
        shutil.rmtree(folder, ignore_errors=True)

    def add(self, token_start: int, keys: np.ndarray) -> None:
        if self.keys is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            shape = (self.num_tokens, *keys.shape[1:])
            self.keys = np.lib.format.open_memmap(self.folder / KEYS, mode="w+", dtype=np.float16, shape=shape)
        self.keys[token_start : token_start + keys.shape[0]] = keys
        self.written += keys.shape[0]

    def finish(self, meta: dict[str, Any]) -> None:
        """Flush the keys and write the metadata last: an index without meta.json is never used."""
        if self.keys is None or self.written != self.num_tokens:
            self.abort()
            return
        self.keys.flush()
        self.keys = None
        doc = self.document
        np.savez(self.folder / DOCUMENT, ids=doc.ids.astype(np.int32), unit_tokens=doc.unit_tokens,
                 unit_chars=doc.unit_chars)
        meta = dict(meta, version=INDEX_VERSION, num_tokens=self.num_tokens)
        (self.folder / META).write_text(json.dumps(meta))
        prune_indexes(self.folder.parent, CACHE_LIMIT_BYTES, keep=self.folder)

    def abort(self) -> None:
        self.keys = None
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class AttentionIndex:
    folder: Path
    keys: np.ndarray  # memory-mapped (tokens, key heads, head dim) float16
    document: TokenizedDocument
    meta: dict[str, Any]

    @property
    def size_bytes(self) -> int:
        return folder_bytes(self.folder)


def open_index(folder: Path) -> AttentionIndex | None:
    """The index in `folder` if it is complete and consistent; a corrupt or partial one is removed."""
    if not (folder / META).is_file():
        return None
    try:
        meta = json.loads((folder / META).read_text())
        keys = np.load(folder / KEYS, mmap_mode="c")  # copy-on-write: torch can wrap it, the file is never written
        document = _load_document(folder / DOCUMENT)
        num_tokens = meta.get("num_tokens")
        if meta.get("version") != INDEX_VERSION or keys.shape[0] != num_tokens or document.num_tokens != num_tokens:
            raise ValueError("index does not match its document")
        _mark_used(folder)
        return AttentionIndex(folder, keys, document, meta)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        shutil.rmtree(folder, ignore_errors=True)
        return None


def prune_indexes(root: Path, limit_bytes: int, keep: Path | None = None) -> list[Path]:
    """Delete the least recently used indexes under `root` until they fit in `limit_bytes`; never `keep`."""
    folders = [f for f in root.iterdir() if f.is_dir()] if root.is_dir() else []
    sizes = {f: folder_bytes(f) for f in folders}
    total = sum(sizes.values())
    removed: list[Path] = []
    for folder in sorted(folders, key=_last_used):
        if total <= limit_bytes:
            break
        if folder != keep:
            shutil.rmtree(folder, ignore_errors=True)
            total -= sizes[folder]
            removed.append(folder)
    return removed


def _mark_used(folder: Path) -> None:
    """Touch the index's metadata so that prune_indexes keeps recently used indexes longest."""
    with contextlib.suppress(OSError):  # a read-only cache still serves the index
        os.utime(folder / META)


def folder_bytes(folder: Path) -> int:
    """Bytes of the files in an index folder; 0 when there is none."""
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) if folder.is_dir() else 0


def _last_used(folder: Path) -> float:
    marker = folder / META
    return marker.stat().st_mtime if marker.is_file() else 0.0  # unfinished ones go first


def _load_document(path: Path) -> TokenizedDocument:
    with np.load(path) as stored:
        ids, unit_tokens, unit_chars = stored["ids"], stored["unit_tokens"], stored["unit_chars"]
    if unit_tokens.ndim != 2 or unit_tokens.shape != unit_chars.shape or (unit_tokens.size and unit_tokens.max() > ids.size):
        raise ValueError("stored document is inconsistent")
    return TokenizedDocument(ids.astype(np.int64), unit_tokens.astype(np.int64), unit_chars.astype(np.int64))


def question_queries(
    model: Any, layer: int, prompt: PromptParts, window_tokens: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The question read alone: its rotated queries (1, heads, rows, dim) and row weights (rows,).
    Queries are rotated as if the question came right after a full window."""
    ids = torch.tensor([prompt.prefix_ids + prompt.suffix_ids], device=model.device)
    start = len(prompt.prefix_ids) + prompt.question_offset
    captured = capture_layer_inputs(model, ids, [layer])[layer]
    attention = question_attention(model, layer, captured, start)
    weights = attention[:, start:].sum(dim=1)
    hidden = captured[0][:, start:]
    with torch.inference_mode():
        positions = torch.arange(hidden.shape[1], device=hidden.device) + window_tokens
        cos, sin = rotary_at(model, positions, hidden)
        queries = rotate(model, layer, project(model, layer, hidden, "q"), cos, sin)
    return queries.float(), weights.float()


def score_document(
    model: Any, layer: int, index: AttentionIndex, queries: torch.Tensor, weights: torch.Tensor, chunk: int = 16384
) -> np.ndarray:
    """Question-weighted attention of the question to every indexed token, softmax over the whole document.

    Two streaming passes over the memory-mapped keys (the first finds each head and row's normaliser),
    so memory stays bounded by one chunk whatever the document's length.
    """
    grouped = _grouped_queries(model, layer, queries, index.keys.shape[1])
    total = index.keys.shape[0]
    running_max = torch.full(grouped.shape[:2], float("-inf"))
    running_sum = torch.zeros(grouped.shape[:2])
    for start in range(0, total, chunk):
        logits = _chunk_logits(index, grouped, start, chunk)
        new_max = torch.maximum(running_max, logits.amax(dim=-1))
        running_sum = running_sum * torch.exp(running_max - new_max) + torch.exp(logits - new_max[..., None]).sum(-1)
        running_max = new_max
    log_norm = (running_max + torch.log(running_sum))[..., None]
    row_weights = weights.float().cpu().repeat(grouped.shape[1] // weights.shape[0])  # (groups * rows,)
    scores = np.zeros(total, dtype=np.float32)
    for start in range(0, total, chunk):
        probs = _chunk_logits(index, grouped, start, chunk).sub_(log_norm).exp_()
        scores[start : start + probs.shape[-1]] = torch.einsum("r,krt->t", row_weights, probs).numpy()
    return scores


def _grouped_queries(model: Any, layer: int, queries: torch.Tensor, key_heads: int) -> torch.Tensor:
    """(1, heads, rows, dim) queries as (key heads, heads per key head * rows, dim), pre-scaled."""
    attn = decoder_layers(model)[layer].self_attn
    _, heads, rows, dim = queries.shape
    scaling = float(getattr(attn, "scaling", dim**-0.5))
    grouped = queries[0].float().cpu().reshape(key_heads, heads // key_heads * rows, dim)
    return (grouped * scaling).contiguous()


def _chunk_logits(index: AttentionIndex, grouped: torch.Tensor, start: int, chunk: int) -> torch.Tensor:
    keys = torch.from_numpy(index.keys[start : start + chunk]).float()  # (n, key heads, dim)
    return torch.matmul(grouped, keys.permute(1, 2, 0))  # (key heads, groups * rows, n)
