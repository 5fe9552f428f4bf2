"""Content hashes (BLAKE2b) of files and text, and a file hash remembered against size and mtime. No Qt.

One place for the keys of the app's caches and history: the history keys a document by `file_hash`,
the document cache by `file_hash` with a prefix, the attention indexes by `text_hash`, and a model's
fingerprint is `remembered_file_hash` (a full hash, computed once per version of the file).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

CHUNK_BYTES = 1 << 20


class HashCancelled(Exception):
    """`file_hash` was told to stop."""


def file_hash(
    path: str | os.PathLike[str],
    digest_size: int = 16,
    prefix: bytes = b"",
    cancel: Callable[[], bool] | None = None,
) -> str:
    """Hex BLAKE2b of `prefix` and the file's bytes, read in 1 MiB chunks; raises OSError, HashCancelled."""
    digest = hashlib.blake2b(prefix, digest_size=digest_size)
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            if cancel is not None and cancel():
                raise HashCancelled(str(path))
            digest.update(chunk)
    return digest.hexdigest()


def text_hash(text: str, digest_size: int = 12, extra: bytes = b"") -> str:
    """Hex BLAKE2b of the text's UTF-8 bytes (lone surrogates kept, so any `str` hashes), then `extra`."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=digest_size)
    digest.update(extra)
    return digest.hexdigest()


_STORE_LOCK = threading.Lock()


def remembered_file_hash(path: str | os.PathLike[str], store: Path, digest_size: int = 8) -> str:
    """`file_hash` of the file, computed once and remembered in the JSON file `store` against the
    file's size and modification time: a changed file (new size or mtime) is hashed again."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    stamp = [stat.st_size, stat.st_mtime_ns, digest_size]
    key = str(resolved)
    with _STORE_LOCK:
        known = _read_store(store)
        entry = known.get(key)
        if isinstance(entry, dict) and entry.get("stamp") == stamp and isinstance(entry.get("hash"), str):
            return str(entry["hash"])
    value = file_hash(resolved, digest_size)
    with _STORE_LOCK:
        known = {path: entry for path, entry in _read_store(store).items() if os.path.exists(path)}
        known[key] = {"stamp": stamp, "hash": value}
        _write_store(store, known)
    return value


def _read_store(store: Path) -> dict[str, object]:
    try:
        data = json.loads(store.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # missing or damaged: hashes are computed again
    return data if isinstance(data, dict) else {}


def _write_store(store: Path, known: dict[str, object]) -> None:
    """Write atomically; a read-only cache only costs hashing again next time."""
    tmp = ""
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(store)
        fd, tmp = tempfile.mkstemp(dir=store.parent, prefix=store.name, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(known, handle)
        os.replace(tmp, store)
    except OSError:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _remove_stale_temporaries(store: Path, older_than: float = 3600.0) -> None:
    """Temporary files of writes that were killed midway (the ones of a live write are younger)."""
    now = time.time()
    for leftover in store.parent.glob(store.name + "*.tmp"):
        with contextlib.suppress(OSError):
            if now - leftover.stat().st_mtime >= older_than:
                leftover.unlink()
