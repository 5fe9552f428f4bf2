"""Compressed documents: Debian and other systems ship manuals as `policy.pdf.gz` or `README.txt.xz`. Such a
file is unpacked once into the cache, keyed by its bytes, and then read like any other file."""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app import disk_cache
from app.documents.errors import (
    DocumentCancelled,
    EmptyDocumentError,
    UnreadableFileError,
    UnsupportedFileError,
)
from app.hashing import HashCancelled, file_hash

# The signature of each format (its first bytes), the opener and the file name suffixes it takes away.
FORMATS: dict[str, tuple[re.Pattern[bytes], Callable[..., Any], tuple[str, ...]]] = {
    "gzip": (re.compile(b"\x1f\x8b\x08"), gzip.open, (".gz", ".gzip")),
    "bzip2": (re.compile(b"BZh[1-9]1AY&SY"), bz2.open, (".bz2",)),
    "xz": (re.compile(b"\xfd7zXZ\x00"), lzma.open, (".xz",)),
}
MAX_UNPACKED_BYTES = 4 * 1024**3  # a larger unpacked file is refused (a compression bomb, or no document)
CACHE_LIMIT_BYTES = 2 * 1024**3  # unpacked copies beyond this, least recently used first, are deleted
CHUNK_BYTES = 1024**2


def compression_of(head: bytes) -> str | None:
    """The compression format whose signature `head` (a file's first bytes) starts with, or None."""
    return next((name for name, (magic, _, _) in FORMATS.items() if magic.match(head)), None)


def inner_name(path: Path, compression: str) -> str:
    """The name of the file inside: `policy.pdf.gz` holds `policy.pdf`."""
    suffixes = FORMATS[compression][2]
    name = path.name
    stem = next((name[: -len(s)] for s in suffixes if name.lower().endswith(s) and len(name) > len(s)), "")
    return stem or f"{path.stem or 'document'}.unpacked"


def unpacked(path: Path, compression: str, cancel: Callable[[], bool] | None = None,
             root: Path | None = None) -> Path:
    """The unpacked copy of the compressed file `path`, made now unless the cache holds it.

    Raises UnreadableFileError for a damaged file, UnsupportedFileError when the content is too large,
    DocumentCancelled when `cancel()` turns true.
    """
    root = root or _default_root()
    try:
        key = file_hash(path, digest_size=16, prefix=f"unpacked|{compression}|".encode(), cancel=cancel)
    except HashCancelled as exc:
        raise DocumentCancelled() from exc
    except OSError as exc:
        raise UnreadableFileError(f"{path} cannot be read ({exc.strerror or exc}).") from exc
    folder = root / key
    target = folder / inner_name(path, compression)
    if target.is_file():
        disk_cache.mark_used(folder)
        return target
    folder.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")  # two processes may unpack at once
    try:
        _unpack(path, compression, partial, cancel)
        os.replace(partial, target)
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()
    disk_cache.mark_used(folder)
    disk_cache.tidy(root, CACHE_LIMIT_BYTES, keep=[folder])
    return target


def _unpack(path: Path, compression: str, out: Path, cancel: Callable[[], bool] | None) -> None:
    opener = FORMATS[compression][1]
    written = 0
    try:
        with opener(path, "rb") as source, open(out, "wb") as sink:
            while chunk := source.read(CHUNK_BYTES):
                if cancel is not None and cancel():
                    raise DocumentCancelled()
                written += len(chunk)
                if written > MAX_UNPACKED_BYTES:
                    raise UnsupportedFileError(
                        f"{path.name} unpacks to more than {MAX_UNPACKED_BYTES // 1024**3} GiB: too large to read."
                    )
                sink.write(chunk)
    except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:
        raise UnreadableFileError(_damaged(path, compression, exc)) from exc
    if written == 0:
        raise EmptyDocumentError(f"{path.name} is a {compression} file with nothing inside.")


def _damaged(path: Path, compression: str, exc: Any) -> str:
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"{path.name} could not be unpacked ({exc.strerror or exc})."
    return f"{path.name} is a damaged {compression} file and cannot be unpacked ({exc})."


def _default_root() -> Path:
    from app.paths import cache_dir

    return cache_dir() / "unpacked"
