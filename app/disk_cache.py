"""Size-limited cache folders: the least recently used entries beyond a limit are deleted, and the
leftovers of interrupted writes (`*.tmp` files, `*.partial` folders) are removed once stale. No Qt.

An entry is a file or a folder directly under the cache root. Its last use is its modification time,
or that of a marker file inside a folder; `mark_used` touches it when the entry is read.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

LEFTOVER_SUFFIXES = (".tmp", ".partial")
STALE_SECONDS = 3600.0  # a leftover younger than this may still be written by another process


def entry_bytes(path: Path) -> int:
    """Bytes of a file, or of all files under a folder; 0 when it is gone."""
    try:
        if path.is_file():
            return path.stat().st_size
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    except OSError:
        return 0


def last_used(path: Path, marker: str | None = None) -> float:
    """When the entry was last used; a folder without its marker counts as never used."""
    target = path / marker if marker and path.is_dir() else path
    try:
        return target.stat().st_mtime
    except OSError:
        return 0.0


def mark_used(path: Path, marker: str | None = None) -> None:
    """Touch the entry (or its marker) so that pruning keeps it longest; a read-only cache is fine."""
    target = path / marker if marker and path.is_dir() else path
    with contextlib.suppress(OSError):
        os.utime(target)


def remove(path: Path) -> None:
    """Delete a file or a folder; what cannot be deleted stays."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def is_leftover(path: Path) -> bool:
    return path.name.endswith(LEFTOVER_SUFFIXES)


def remove_leftovers(root: Path, older_than: float = STALE_SECONDS, now: float | None = None) -> list[Path]:
    """Delete `*.tmp`/`*.partial` entries under `root` not modified for `older_than` seconds."""
    now = time.time() if now is None else now
    removed = []
    for path in _entries(root):
        if is_leftover(path) and now - last_used(path) >= older_than:
            remove(path)
            removed.append(path)
    return removed


def prune(root: Path, limit_bytes: int, keep: Iterable[Path] = (), marker: str | None = None) -> list[Path]:
    """Delete the least recently used entries under `root` until the rest fit in `limit_bytes`.

    Entries in `keep` and leftovers of writes (see `remove_leftovers`) are never deleted here.
    """
    kept = {Path(p) for p in keep}
    entries = [p for p in _entries(root) if not is_leftover(p)]
    sizes = {p: entry_bytes(p) for p in entries}
    total = sum(sizes.values())
    removed = []
    for path in sorted(entries, key=lambda p: last_used(p, marker)):
        if total <= limit_bytes:
            break
        if path in kept:
            continue
        remove(path)
        total -= sizes[path]
        removed.append(path)
    return removed


def tidy(root: Path, limit_bytes: int, keep: Iterable[Path] = (), marker: str | None = None) -> list[Path]:
    """Stale leftovers first, then least recently used entries beyond the limit; never raises."""
    try:
        return remove_leftovers(root) + prune(root, limit_bytes, keep, marker)
    except OSError:
        return []


def _entries(root: Path) -> list[Path]:
    try:
        return list(root.iterdir())
    except OSError:
        return []
