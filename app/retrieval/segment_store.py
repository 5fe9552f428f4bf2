"""Append-only arrays on disk, written in checksummed segments, resumable, and only ever used whole: the
storage of the attention index (keys per token) and of the sentence embeddings (a vector per sentence).

A store is a folder under the cache::

    <key>.partial/   a build in progress: manifest.json, lock, the store's extra files, seg-00000.npy, ...
    <key>/           a complete store: meta.json (with every file's checksum), the extra files, seg-*.npy

A builder appends rows (one array row per token, or per sentence) in steps (windows, batches of sentences).
Each segment is written to a temporary file, synced and renamed into place, then listed in the manifest
(itself replaced atomically), so a kill at any moment leaves a manifest that lists only whole segments: the
next build resumes after the last listed step. When every step is in, the builder writes meta.json and
renames the folder to ``<key>``; an older complete store stays usable until that rename replaces it.
Opening checks the checksums once per process, so a zero-filled or truncated file is never used.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from filelock import FileLock, Timeout

from app.hashing import file_hash

STORE_VERSION = 1
DISK_MARGIN_BYTES = 64 * 1024**2  # never fill the disk to the last byte
SEGMENT_BYTES = 12 * 1024**2  # per segment file: what a kill can cost at most (about half a minute of work)
META = "meta.json"
MANIFEST = "manifest.json"
LOCK = "lock"
PARTIAL = ".partial"
_VERIFIED: dict[str, tuple[int, int]] = {}  # file path -> (size, mtime_ns) whose checksum matched


class IndexStorageError(Exception):
    """A store could not be written (disk full, read-only cache); the message is for people."""


class StoreBusyError(Exception):
    """Another builder (another thread or process) is writing this store right now."""


@dataclass(frozen=True)
class Segment:
    """One file of rows: rows [row_start, row_end) written by steps [step_start, step_end)."""

    file: str
    step_start: int
    step_end: int
    row_start: int
    row_end: int
    checksum: str

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class Store:
    """A readable store: complete, or the whole segments of a build in progress."""

    folder: Path
    meta: dict[str, Any]
    segments: list[Segment]
    complete: bool
    _arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def rows_done(self) -> int:
        """Rows covered from the first one on (segments are contiguous)."""
        return self.segments[-1].row_end if self.segments else 0

    @property
    def steps_done(self) -> int:
        return self.segments[-1].step_end if self.segments else 0

    @property
    def size_bytes(self) -> int:
        return folder_bytes(self.folder)

    def extra(self, name: str) -> Path:
        """One of the store's extra files (checked with the rest)."""
        return self.folder / name

    def array(self, segment: Segment) -> np.ndarray:
        """A segment's rows, memory-mapped copy-on-write (torch can wrap them; the file is never written)."""
        if segment.file not in self._arrays:
            self._arrays[segment.file] = np.load(self.folder / segment.file, mmap_mode="c")
        return self._arrays[segment.file]

    def chunks(self, chunk_rows: int) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, rows) pieces of at most `chunk_rows` rows, in order."""
        for segment in self.segments:
            rows = self.array(segment)
            for offset in range(0, rows.shape[0], chunk_rows):
                yield segment.row_start + offset, rows[offset : offset + chunk_rows]

    def rows(self) -> np.ndarray:
        """All rows in one array (for small stores such as sentence embeddings)."""
        arrays = [self.array(s) for s in self.segments]
        return np.concatenate(arrays) if arrays else np.zeros((0,))


# --------------------------------------------------------------------------------------------- reading


def open_store(folder: Path) -> Store | None:
    """The complete store in `folder` if every file is there and matches its checksum; a damaged one is
    deleted (the next build writes it again)."""
    try:
        meta = _read_json(folder / META)
        if meta is None:
            return None
        store = _store_from(folder, meta, complete=True)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        shutil.rmtree(folder, ignore_errors=True)
        return None
    _mark_used(folder / META)
    return store


def open_partial(folder: Path) -> Store | None:
    """The whole segments of the build in progress for `folder` (None when there are none)."""
    partial = partial_folder(folder)
    try:
        manifest = _read_json(partial / MANIFEST)
        if manifest is None or not manifest.get("segments"):
            return None
        return _store_from(partial, manifest, complete=False)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        return None


def partial_folder(folder: Path) -> Path:
    return folder.with_name(folder.name + PARTIAL)


def _store_from(folder: Path, meta: dict[str, Any], complete: bool) -> Store:
    if meta.get("store_version") != STORE_VERSION or (complete and not meta.get("complete")):
        raise ValueError("not a complete store of this version")
    for name, checksum in meta["files"].items():
        _verify(folder / name, checksum)
    segments = [Segment(**s) for s in meta["segments"]]
    expected = 0
    for segment in segments:
        if segment.row_start != expected:
            raise ValueError("segments are not contiguous")
        _verify(folder / segment.file, segment.checksum)
        expected = segment.row_end
    if complete and (expected != meta["rows"] or (segments and segments[-1].step_end != meta["steps"])):
        raise ValueError("the store does not hold all its rows")
    store = Store(folder, meta, segments, complete)
    for segment in segments:
        if store.array(segment).shape[0] != segment.row_end - segment.row_start:
            raise ValueError("segment has the wrong number of rows")
    return store


def _verify(path: Path, checksum: str) -> None:
    """Raise ValueError unless the file's checksum matches (checked once per process and file state)."""
    stat = path.stat()
    state = (stat.st_size, stat.st_mtime_ns)
    if _VERIFIED.get(str(path)) == state:
        return
    if file_hash(path) != checksum:
        raise ValueError(f"{path.name} does not match its checksum")
    _VERIFIED[str(path)] = state


# --------------------------------------------------------------------------------------------- writing

ExtraWriter = Callable[[BinaryIO], object]


class SegmentBuilder:
    """Appends rows to the build folder of a store, resuming where an earlier build stopped.

    `steps` and `rows` are what the complete store holds; `meta` says what it was built from (a build
    resumes only where all of it is the same); `extras` write the store's other files once, at the start.
    Use as a context manager: leaving it writes what is buffered and releases the lock, so partial
    progress survives a cancel or an error. `finish()` turns a complete build into the store.
    """

    def __init__(
        self, folder: Path, steps: int, rows: int, meta: dict[str, Any], bytes_per_row: int,
        extras: dict[str, ExtraWriter] | None = None, cache_limit_bytes: int | None = None,
    ) -> None:
        self.folder = folder
        self.partial = partial_folder(folder)
        self.steps, self.rows = steps, rows
        self.meta = dict(meta, store_version=STORE_VERSION, steps=steps, rows=rows)
        self.bytes_per_row = bytes_per_row
        self.extras = extras or {}
        self.cache_limit_bytes = cache_limit_bytes
        self.segment_rows = max(1, SEGMENT_BYTES // max(bytes_per_row, 1))
        self.partial.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(self.partial / LOCK))
        try:
            self._lock.acquire(timeout=0)
        except Timeout as exc:
            raise StoreBusyError(f"{self.partial} is being written by another build") from exc
        self.segments: list[Segment] = []
        self._pending: list[np.ndarray] = []
        self._pending_steps: tuple[int, int] | None = None
        try:
            self._resume_or_start()
        except BaseException:
            self._lock.release()
            raise

    # progress -------------------------------------------------------------------------------------
    @property
    def steps_done(self) -> int:
        """Steps whose rows are written or buffered, from the first step on."""
        if self._pending_steps is not None:
            return self._pending_steps[1]
        return self.segments[-1].step_end if self.segments else 0

    @property
    def rows_done(self) -> int:
        written = self.segments[-1].row_end if self.segments else 0
        return written + sum(k.shape[0] for k in self._pending)

    @property
    def complete(self) -> bool:
        return self.steps_done >= self.steps

    # writing --------------------------------------------------------------------------------------
    def add(self, step: int, rows: np.ndarray) -> bool:
        """Take the rows of `step` if it is the next one wanted; returns whether they were taken."""
        if step != self.steps_done:
            return False
        self._pending.append(np.ascontiguousarray(rows))
        start = self._pending_steps[0] if self._pending_steps else step
        self._pending_steps = (start, step + 1)
        if sum(k.shape[0] for k in self._pending) >= self.segment_rows:
            self.flush()
        return True

    def flush(self) -> None:
        """Write the buffered steps as one segment and list it in the manifest."""
        if not self._pending or self._pending_steps is None:
            return
        rows = np.concatenate(self._pending)
        row_start = self.segments[-1].row_end if self.segments else 0
        name = f"seg-{len(self.segments):05d}.npy"
        self._ensure_space(rows.nbytes)
        checksum = self._write_atomic(name, lambda handle: np.save(handle, rows))
        step_start, step_end = self._pending_steps
        self.segments.append(Segment(name, step_start, step_end, row_start, row_start + rows.shape[0], checksum))
        self._pending, self._pending_steps = [], None
        self._write_manifest()

    def finish(self) -> Path | None:
        """When every step is in: write meta.json and move the build into place; returns the store's folder."""
        self.flush()
        if not self.complete or self.rows_done != self.rows:
            return None
        meta = self._manifest(complete=True)
        self._write_atomic(META, lambda handle: handle.write(json.dumps(meta).encode()))
        self._release()
        _replace_folder(self.partial, self.folder)
        (self.folder / LOCK).unlink(missing_ok=True)
        if self.cache_limit_bytes is not None:
            prune_stores(self.folder.parent, self.cache_limit_bytes, keep=self.folder)
        return self.folder

    def close(self) -> None:
        """Keep what is done (buffered steps are written) and release the build folder."""
        try:
            if self.partial.is_dir():
                self.flush()
        finally:
            self._release()

    def __enter__(self) -> SegmentBuilder:
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
        self._ensure_space(self.rows * self.bytes_per_row)
        self.meta["files"] = {name: self._write_atomic(name, write) for name, write in self.extras.items()}
        self._write_manifest()

    def _can_resume(self, manifest: dict[str, Any]) -> bool:
        """A manifest of the same build whose files are all there and whole."""
        if not all(manifest.get(k) == v for k, v in self.meta.items()):
            return False
        try:
            for name, checksum in manifest["files"].items():
                _verify(self.partial / name, checksum)
            for segment in manifest["segments"]:
                _verify(self.partial / segment["file"], segment["checksum"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return False
        self.meta["files"] = manifest["files"]
        return True

    def _drop_unlisted_files(self) -> None:
        """Segments written after the last manifest (a kill between the two) are not part of the build."""
        listed = {s.file for s in self.segments} | set(self.meta["files"]) | {MANIFEST, LOCK}
        for item in self.partial.iterdir():
            if item.name not in listed:
                _remove(item)

    def _manifest(self, complete: bool) -> dict[str, Any]:
        return dict(self.meta, complete=complete, segments=[s.to_json() for s in self.segments])

    def _write_manifest(self) -> None:
        manifest = self._manifest(complete=False)
        self._write_atomic(MANIFEST, lambda handle: handle.write(json.dumps(manifest).encode()))

    def _write_atomic(self, name: str, write: ExtraWriter) -> str:
        """Write a file through a synced temporary and rename it into place; returns its checksum."""
        target = self.partial / name
        temporary = target.with_name(target.name + ".tmp")
        try:
            with temporary.open("wb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            checksum = file_hash(temporary)
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
                f"Not enough free disk space to save the document's index: it needs {needed / 1e6:,.0f} MB more, "
                f"and {free / 1e6:,.0f} MB are free in {self.partial.parent}. Free some space; answers still work, "
                "only less well and less quickly."
            )


def _storage_error(exc: OSError, folder: Path) -> IndexStorageError:
    reason = "the disk is full" if exc.errno == 28 else (exc.strerror or str(exc))
    return IndexStorageError(f"The document's index could not be saved in {folder.parent}: {reason}.")


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


def prune_stores(root: Path, limit_bytes: int, keep: Path | None = None) -> list[Path]:
    """Delete the least recently used stores under `root` until they fit in `limit_bytes`; never `keep`,
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
    """Bytes of the files in a store's folder; 0 when there is none."""
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) if folder.is_dir() else 0


def _mark_used(marker: Path) -> None:
    """Touch the store's metadata so that pruning keeps recently used stores longest."""
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
