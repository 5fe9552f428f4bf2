"""The attention index on disk: written in checksummed segments, resumable, and only ever used whole.

Layout under ``cache_dir()/indexes``::

    <key>.partial/   a build in progress: manifest.json, lock, document.npz, keys-00000.npy, ...
    <key>/           a complete index: meta.json (with every file's checksum), document.npz, keys-*.npy

A builder appends segments of keys (float16, tokens x key heads x head dim) to ``<key>.partial``. Each
segment is written to a temporary file, synced and renamed into place, then listed in the manifest (itself
replaced atomically), so a kill at any moment leaves a manifest that lists only whole segments: the next
build resumes after the last listed window. When every window is in, the builder writes meta.json and
renames the folder to ``<key>``; the old complete index, if any, stays usable until that rename replaces it.
``open_index`` checks the checksums once per process, so a zero-filled or truncated file is never used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from app.retrieval.units import TokenizedDocument

INDEX_VERSION = 3
CACHE_LIMIT_BYTES = 4 * 1024**3  # indexes beyond this, least recently used first, are deleted
DISK_MARGIN_BYTES = 64 * 1024**2  # never fill the disk to the last byte
SEGMENT_TOKENS = 32768  # tokens per keys file: what a kill can cost at most, about half a minute of work
META = "meta.json"
MANIFEST = "manifest.json"
DOCUMENT = "document.npz"
LOCK = "lock"
PARTIAL = ".partial"
_VERIFIED: dict[str, tuple[int, int]] = {}  # file path -> (size, mtime_ns) whose checksum matched


class IndexStorageError(Exception):
    """The index could not be written (disk full, read-only cache); the message is for people."""


class IndexBusyError(Exception):
    """Another builder (another window or process) is writing this index right now."""


@dataclass(frozen=True)
class Segment:
    """One file of keys: tokens [token_start, token_end) of windows [window_start, window_end)."""

    file: str
    window_start: int
    window_end: int
    token_start: int
    token_end: int
    checksum: str

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class AttentionIndex:
    """A readable index: complete, or the whole segments of a build in progress."""

    folder: Path
    document: TokenizedDocument
    meta: dict[str, Any]
    segments: list[Segment]
    complete: bool
    _keys: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def indexed_tokens(self) -> int:
        """Tokens covered from the document's start (segments are contiguous)."""
        return self.segments[-1].token_end if self.segments else 0

    @property
    def windows_done(self) -> int:
        return self.segments[-1].window_end if self.segments else 0

    @property
    def size_bytes(self) -> int:
        return folder_bytes(self.folder)

    def keys(self, segment: Segment) -> np.ndarray:
        """A segment's keys, memory-mapped copy-on-write (torch can wrap them; the file is never written)."""
        if segment.file not in self._keys:
            self._keys[segment.file] = np.load(self.folder / segment.file, mmap_mode="c")
        return self._keys[segment.file]

    def chunks(self, chunk_tokens: int) -> Iterator[tuple[int, np.ndarray]]:
        """(first token, keys) pieces of at most `chunk_tokens` tokens, in document order."""
        for segment in self.segments:
            keys = self.keys(segment)
            for offset in range(0, keys.shape[0], chunk_tokens):
                yield segment.token_start + offset, keys[offset : offset + chunk_tokens]


# --------------------------------------------------------------------------------------------- reading


def open_index(folder: Path) -> AttentionIndex | None:
    """The complete index in `folder` if every file is there and matches its checksum; a damaged one
    is deleted (the next build writes it again)."""
    try:
        meta = _read_json(folder / META)
        if meta is None:
            return None
        index = _index_from(folder, meta, complete=True)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        shutil.rmtree(folder, ignore_errors=True)
        return None
    _mark_used(folder / META)
    return index


def open_partial(folder: Path) -> AttentionIndex | None:
    """The whole segments of the build in progress for `folder` (None when there are none)."""
    partial = partial_folder(folder)
    try:
        manifest = _read_json(partial / MANIFEST)
        if manifest is None or not manifest.get("segments"):
            return None
        return _index_from(partial, manifest, complete=False)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        return None


def partial_folder(folder: Path) -> Path:
    return folder.with_name(folder.name + PARTIAL)


def _index_from(folder: Path, meta: dict[str, Any], complete: bool) -> AttentionIndex:
    if meta.get("version") != INDEX_VERSION or (complete and not meta.get("complete")):
        raise ValueError("not a complete index of this version")
    _verify(folder / DOCUMENT, meta["document_checksum"])
    document = load_document_arrays(folder / DOCUMENT)
    segments = [Segment(**s) for s in meta["segments"]]
    expected_start = 0
    for segment in segments:
        if segment.token_start != expected_start:
            raise ValueError("segments are not contiguous")
        _verify(folder / segment.file, segment.checksum)
        expected_start = segment.token_end
    if document.num_tokens != meta["num_tokens"] or (complete and expected_start != document.num_tokens):
        raise ValueError("index does not cover its document")
    index = AttentionIndex(folder, document, meta, segments, complete)
    for segment in segments:
        if index.keys(segment).shape[0] != segment.token_end - segment.token_start:
            raise ValueError("segment has the wrong number of tokens")
    return index


def _verify(path: Path, checksum: str) -> None:
    """Raise ValueError unless the file's checksum matches (checked once per process and file state)."""
    stat = path.stat()
    state = (stat.st_size, stat.st_mtime_ns)
    if _VERIFIED.get(str(path)) == state:
        return
    if file_checksum(path) != checksum:
        raise ValueError(f"{path.name} does not match its checksum")
    _VERIFIED[str(path)] = state


def file_checksum(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def load_document_arrays(path: Path) -> TokenizedDocument:
    with np.load(path) as stored:
        ids, unit_tokens, unit_chars = stored["ids"], stored["unit_tokens"], stored["unit_chars"]
    if unit_tokens.ndim != 2 or unit_tokens.shape != unit_chars.shape or (unit_tokens.size and unit_tokens.max() > ids.size):
        raise ValueError("stored document is inconsistent")
    return TokenizedDocument(ids.astype(np.int64), unit_tokens.astype(np.int64), unit_chars.astype(np.int64))


# --------------------------------------------------------------------------------------------- writing


class IndexBuilder:
    """Appends windows' keys to the build folder of an index, resuming where an earlier build stopped.

    Use as a context manager: leaving it writes what is buffered and releases the lock, so partial
    progress survives a cancel or an error. `finish()` turns a complete build into the index.
    """

    def __init__(
        self, folder: Path, document: TokenizedDocument, windows: int, meta: dict[str, Any],
        bytes_per_token: int, segment_tokens: int | None = None,
    ) -> None:
        self.folder = folder
        self.partial = partial_folder(folder)
        self.document = document
        self.windows = windows
        self.meta = dict(meta, version=INDEX_VERSION, num_tokens=document.num_tokens, windows=windows)
        self.bytes_per_token = bytes_per_token
        self.segment_tokens = segment_tokens or SEGMENT_TOKENS
        self.partial.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(self.partial / LOCK))
        try:
            self._lock.acquire(timeout=0)
        except Timeout as exc:
            raise IndexBusyError(f"{self.partial} is being written by another build") from exc
        self.segments: list[Segment] = []
        self._pending: list[np.ndarray] = []
        self._pending_windows: tuple[int, int] | None = None
        try:
            self._resume_or_start()
        except BaseException:
            self._lock.release()
            raise

    # progress -------------------------------------------------------------------------------------
    @property
    def windows_done(self) -> int:
        """Windows whose keys are written or buffered, from the first window on."""
        if self._pending_windows is not None:
            return self._pending_windows[1]
        return self.segments[-1].window_end if self.segments else 0

    @property
    def tokens_done(self) -> int:
        written = self.segments[-1].token_end if self.segments else 0
        return written + sum(k.shape[0] for k in self._pending)

    @property
    def complete(self) -> bool:
        return self.windows_done >= self.windows

    # writing --------------------------------------------------------------------------------------
    def add(self, window: int, keys: np.ndarray) -> bool:
        """Take the keys of `window` if it is the next one wanted; returns whether they were taken."""
        if window != self.windows_done:
            return False
        self._pending.append(np.ascontiguousarray(keys, dtype=np.float16))
        start = self._pending_windows[0] if self._pending_windows else window
        self._pending_windows = (start, window + 1)
        if sum(k.shape[0] for k in self._pending) >= self.segment_tokens:
            self.flush()
        return True

    def flush(self) -> None:
        """Write the buffered windows as one segment and list it in the manifest."""
        if not self._pending or self._pending_windows is None:
            return
        keys = np.concatenate(self._pending)
        token_start = self.segments[-1].token_end if self.segments else 0
        name = f"keys-{len(self.segments):05d}.npy"
        self._ensure_space(keys.nbytes)
        checksum = self._write_atomic(name, lambda handle: np.save(handle, keys))
        window_start, window_end = self._pending_windows
        self.segments.append(Segment(name, window_start, window_end, token_start, token_start + keys.shape[0], checksum))
        self._pending, self._pending_windows = [], None
        self._write_manifest()

    def finish(self) -> Path | None:
        """When every window is in: write meta.json and move the build into place; returns the index folder."""
        self.flush()
        if not self.complete or self.tokens_done != self.document.num_tokens:
            return None
        meta = self._manifest(complete=True)
        self._write_atomic(META, lambda handle: handle.write(json.dumps(meta).encode()))
        self._release()
        _replace_folder(self.partial, self.folder)
        (self.folder / LOCK).unlink(missing_ok=True)
        prune_indexes(self.folder.parent, CACHE_LIMIT_BYTES, keep=self.folder)
        return self.folder

    def close(self) -> None:
        """Keep what is done (buffered windows are written) and release the build folder."""
        try:
            if self.partial.is_dir():
                self.flush()
        finally:
            self._release()

    def __enter__(self) -> IndexBuilder:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(IndexStorageError, OSError):
            self.close()
        self._release()

    # internals ------------------------------------------------------------------------------------
    def _release(self) -> None:
        if self._lock.is_locked:
            self._lock.release()

    def _resume_or_start(self) -> None:
        manifest = _read_json(self.partial / MANIFEST)
        if manifest is not None and self._can_resume(manifest):
            self.segments = [Segment(**s) for s in manifest["segments"]]
            self._drop_unlisted_files()
            return
        for item in self.partial.iterdir():
            if item.name != LOCK:
                _remove(item)
        self._ensure_space(self.document.num_tokens * (self.bytes_per_token + 16))
        doc = self.document
        self.meta["document_checksum"] = self._write_atomic(
            DOCUMENT, lambda handle: np.savez(handle, ids=doc.ids.astype(np.int32), unit_tokens=doc.unit_tokens,
                                              unit_chars=doc.unit_chars),
        )
        self._write_manifest()

    def _can_resume(self, manifest: dict[str, Any]) -> bool:
        """A manifest of the same build whose files are all there and whole."""
        same = all(manifest.get(k) == v for k, v in self.meta.items() if k != "document_checksum")
        if not same:
            return False
        try:
            _verify(self.partial / DOCUMENT, manifest["document_checksum"])
            for segment in manifest["segments"]:
                _verify(self.partial / segment["file"], segment["checksum"])
        except (OSError, ValueError, KeyError, TypeError):
            return False
        self.meta["document_checksum"] = manifest["document_checksum"]
        return True

    def _drop_unlisted_files(self) -> None:
        """Segments written after the last manifest (a kill between the two) are not part of the build."""
        listed = {s.file for s in self.segments} | {MANIFEST, DOCUMENT, LOCK}
        for item in self.partial.iterdir():
            if item.name not in listed:
                _remove(item)

    def _manifest(self, complete: bool) -> dict[str, Any]:
        return dict(self.meta, complete=complete, segments=[s.to_json() for s in self.segments])

    def _write_manifest(self) -> None:
        manifest = self._manifest(complete=False)
        self._write_atomic(MANIFEST, lambda handle: handle.write(json.dumps(manifest).encode()))

    def _write_atomic(self, name: str, write: Any) -> str:
        """Write a file through a synced temporary and rename it into place; returns its checksum."""
        target = self.partial / name
        temporary = target.with_name(target.name + ".tmp")
        try:
            with temporary.open("wb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            checksum = file_checksum(temporary)
            os.replace(temporary, target)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise _storage_error(exc, self.partial) from exc
        _VERIFIED[str(target)] = (target.stat().st_size, target.stat().st_mtime_ns)
        return checksum

    def _ensure_space(self, needed: int) -> None:
        free = shutil.disk_usage(self.partial).free
        if free < needed + DISK_MARGIN_BYTES:
            raise IndexStorageError(
                f"Not enough free disk space to save the attention index: it needs {needed / 1e6:,.0f} MB more, "
                f"and {free / 1e6:,.0f} MB are free in {self.partial.parent}. Free some space; answers still work, "
                "only follow-up questions stay slower."
            )


def _storage_error(exc: OSError, folder: Path) -> IndexStorageError:
    reason = "the disk is full" if exc.errno == 28 else (exc.strerror or str(exc))
    return IndexStorageError(f"The attention index could not be saved in {folder.parent}: {reason}.")


def _replace_folder(source: Path, target: Path) -> None:
    """Move `source` to `target`; an existing `target` stays in place until the very last step."""
    if target.exists():
        retired = target.with_name(f"{target.name}.old-{os.getpid()}-{time.monotonic_ns()}")
        os.replace(target, retired)
        os.replace(source, target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(source, target)


# --------------------------------------------------------------------------------------------- cache


def prune_indexes(root: Path, limit_bytes: int, keep: Path | None = None) -> list[Path]:
    """Delete the least recently used indexes under `root` until they fit in `limit_bytes`; never `keep`,
    nor a build another process is writing. Leftovers of interrupted replacements go first."""
    folders = [f for f in root.iterdir() if f.is_dir()] if root.is_dir() else []
    removed = [f for f in folders if ".old-" in f.name]
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    folders = [f for f in folders if f not in removed]
    sizes = {f: folder_bytes(f) for f in folders}
    total = sum(sizes.values())
    for folder in sorted(folders, key=_last_used):
        if total <= limit_bytes:
            break
        if folder == keep or (folder.name.endswith(PARTIAL) and _is_locked(folder)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        total -= sizes[folder]
        removed.append(folder)
    return removed


def _is_locked(folder: Path) -> bool:
    lock = FileLock(str(folder / LOCK))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


def folder_bytes(folder: Path) -> int:
    """Bytes of the files in an index folder; 0 when there is none."""
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) if folder.is_dir() else 0


def _mark_used(marker: Path) -> None:
    """Touch the index's metadata so that prune_indexes keeps recently used indexes longest."""
    with contextlib.suppress(OSError):  # a read-only cache still serves the index
        os.utime(marker)


def _last_used(folder: Path) -> float:
    for name in (META, MANIFEST):
        marker = folder / name
        if marker.is_file():
            return marker.stat().st_mtime
    return 0.0


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path.name} is not an object")
    return data


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
