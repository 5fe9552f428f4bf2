"""On-disk cache of extracted documents, keyed by a hash of the file's bytes.

One `.npz` file per document in `cache_dir()/documents/`: text, pages, sentences and glyph map. A
cache file that cannot be read or does not make sense is deleted and ignored, never trusted. Files
beyond `CACHE_LIMIT_BYTES` are deleted least recently used first, and the `.tmp` files of killed saves
are removed once stale.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from app import disk_cache
from app.documents.document import Document, PageInfo, Sentence
from app.documents.provenance import GlyphMap
from app.hashing import file_hash

FORMAT_VERSION = 1
CACHE_LIMIT_BYTES = 2 * 1024**3


def file_key(path: Path, salt: str, cancel: Callable[[], bool] | None = None) -> str:
    """Hash of the file's bytes and `salt` (what else the cached result depends on).

    Raises OSError when the file cannot be read, `app.hashing.HashCancelled` when `cancel()` is true.
    """
    return file_hash(path, digest_size=20, prefix=f"{FORMAT_VERSION}|{salt}|".encode(), cancel=cancel)


def default_dir() -> Path:
    from app.paths import cache_dir

    return cache_dir() / "documents"


def load(key: str, directory: Path | None = None) -> Document | None:
    """The cached Document for `key` (path and file stamps unset), or None."""
    path = (directory or default_dir()) / f"{key}.npz"
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            document = _document_from(dict(data))
    except Exception:  # a damaged or foreign cache file is rebuilt, never trusted
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    disk_cache.mark_used(path)
    return document


def save(key: str, document: Document, directory: Path | None = None) -> None:
    """Store `document` under `key`, then prune the cache; failures (disk full, read-only cache) are ignored."""
    directory = directory or default_dir()
    target = directory / f"{key}.npz"
    tmp = ""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **_arrays_of(document))
        os.replace(tmp, target)
    except OSError:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return
    disk_cache.tidy(directory, CACHE_LIMIT_BYTES, keep=[target])


def _arrays_of(doc: Document) -> dict[str, Any]:
    meta = {
        "kind": doc.kind,
        "title": doc.title,
        "encoding": doc.encoding,
        "warnings": doc.warnings,
        "labels": [p.label for p in doc.pages],
    }
    arrays: dict[str, Any] = {
        "meta": np.frombuffer(json.dumps(meta).encode(), np.uint8),
        "text": np.frombuffer(doc.text.encode("utf-8", "surrogatepass"), np.uint8),
        "pages": np.array([[p.width, p.height, p.text_start, p.text_end] for p in doc.pages], np.float64),
        "sentences": np.array([[s.start, s.end] for s in doc.sentences], np.int64).reshape(-1, 2),
    }
    glyphs = doc.char_boxes
    if isinstance(glyphs, GlyphMap):
        arrays |= {
            "g_starts": glyphs.starts,
            "g_ends": glyphs.ends,
            "g_pages": glyphs.pages,
            "g_lines": glyphs.lines,
            "g_boxes": glyphs.boxes,
        }
    return arrays


def _document_from(data: dict[str, Any]) -> Document:
    meta = json.loads(data["meta"].tobytes().decode())
    text = data["text"].tobytes().decode("utf-8", "surrogatepass")
    pages = [
        PageInfo(i, str(label), float(w), float(h), int(s), int(e))
        for i, (label, (w, h, s, e)) in enumerate(
            zip(meta["labels"], data["pages"].reshape(-1, 4), strict=True)
        )
    ]
    sentences = [Sentence(int(s), int(e)) for s, e in data["sentences"].tolist()]
    glyphs = _glyphs_from(data)
    _validate(text, pages, sentences, glyphs, meta["kind"])
    return Document(
        path=None,
        kind=meta["kind"],
        text=text,
        pages=pages,
        sentences=sentences,
        title=meta["title"],
        char_boxes=glyphs,
        encoding=meta["encoding"],
        warnings=list(meta["warnings"]),
    )


def _glyphs_from(data: dict[str, Any]) -> GlyphMap | None:
    if "g_starts" not in data:
        return None
    glyphs = GlyphMap(
        starts=data["g_starts"].astype(np.int64),
        ends=data["g_ends"].astype(np.int64),
        pages=data["g_pages"].astype(np.int32),
        lines=data["g_lines"].astype(np.int32),
        boxes=data["g_boxes"].astype(np.float32).reshape(-1, 4),
    )
    n = len(glyphs)
    if not all(len(a) == n for a in (glyphs.ends, glyphs.pages, glyphs.lines, glyphs.boxes)):
        raise ValueError("glyph arrays of different lengths")
    return glyphs


def _validate(
    text: str, pages: list[PageInfo], sentences: list[Sentence], glyphs: GlyphMap | None, kind: str
) -> None:
    """Raise ValueError unless the cached pieces fit together."""
    if kind not in ("pdf", "text") or (kind == "pdf") != (glyphs is not None):
        raise ValueError("bad kind")
    n = len(text)
    if any(not 0 <= p.text_start <= p.text_end <= n for p in pages):
        raise ValueError("page outside text")
    if sentences and not (sentences[0].start >= 0 and sentences[-1].end <= n):
        raise ValueError("sentence outside text")
    if glyphs is not None and len(glyphs) and (int(glyphs.ends.max()) > n or int(glyphs.starts.min()) < 0):
        raise ValueError("glyph outside text")
