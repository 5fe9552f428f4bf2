"""Entry points: load_document (text, pages, sentences, provenance; cached) and probe_document (cheap)."""

from __future__ import annotations

import os
import stat as stat_module
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from app.documents import cache
from app.documents.compressed import compression_of, unpacked
from app.documents.document import Document
from app.documents.errors import (
    DocumentCancelled,
    DocumentChangedError,
    EmptyDocumentError,
    EncryptedDocumentError,
    UnreadableFileError,
)
from app.documents.pdf_loader import close_pdf, load_pdf, open_pdf, pdf_title
from app.documents.sentences import DEFAULT_MAX_CHARS, split_sentences
from app.documents.text_loader import load_text
from app.hashing import HashCancelled

EXTRACTOR_VERSION = "5"  # bump when extraction or segmentation changes, to invalidate cached results
Kind = Literal["pdf", "text"]
_HEAD = 1024


@dataclass(frozen=True)
class DocumentInfo:
    """What can be known about a file without extracting its text."""

    kind: Kind
    page_count: int  # 0 for text files
    title: str
    needs_password: bool = False
    path: Path | None = None  # the file read: the one given, or its unpacked copy when it was compressed


def probe_document(path: str | os.PathLike[str]) -> DocumentInfo:
    """Kind, page count and title, fast: a PDF is opened but no text is extracted."""
    p, kind, _ = _readable(Path(path).expanduser())
    if kind == "text":
        return DocumentInfo("text", 0, p.stem, path=p)
    try:
        doc = open_pdf(p)
    except EncryptedDocumentError:
        return DocumentInfo("pdf", 0, p.stem, needs_password=True, path=p)
    try:
        return DocumentInfo("pdf", doc.page_count, pdf_title(doc, p), path=p)
    finally:
        close_pdf(doc)


def load_document(
    path: str | os.PathLike[str],
    password: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    use_cache: bool = True,
    ocr: bool = False,
) -> Document:
    """Load a PDF or text file with its sentences; raises a DocumentError subclass on bad input.

    on_progress(pages_done, pages_total) is called after each PDF page; cancel() returning True
    aborts with DocumentCancelled. `ocr` recognises image-only PDF pages when Tesseract is installed.
    Results are cached by content hash, except for password-protected files. A compressed file (gzip, bzip2,
    xz) is unpacked into the cache first; the Document's `path` is then the unpacked copy.
    """
    p, kind, stat = _readable(Path(path).expanduser(), cancel)
    key = None
    if use_cache and password is None:
        key = _cache_key(p, f"{kind}|ocr={ocr}|{EXTRACTOR_VERSION}|{DEFAULT_MAX_CHARS}", cancel)
        cached = _from_cache(key, p, stat, on_progress)
        if cached is not None:
            return cached
    document = _extract(p, kind, stat, password, on_progress, cancel, ocr)
    if cancel is not None and cancel():
        raise DocumentCancelled()
    document.sentences = split_sentences(document.text, cancel=cancel)
    if key is not None:
        cache.save(key, document)
    return document


def _cache_key(path: Path, salt: str, cancel: Callable[[], bool] | None) -> str:
    try:
        return cache.file_key(path, salt, cancel)
    except HashCancelled as exc:
        raise DocumentCancelled() from exc
    except FileNotFoundError as exc:
        raise DocumentChangedError(f"{path.name} disappeared while it was being read.") from exc
    except OSError as exc:
        raise UnreadableFileError(f"{path} cannot be read ({exc.strerror or exc}).") from exc


def _readable(path: Path, cancel: Callable[[], bool] | None = None) -> tuple[Path, Kind, os.stat_result]:
    """The file to read (`path`, or its unpacked copy when it is compressed), its kind and stat."""
    kind, stat, head = _check_readable(path)
    compression = compression_of(head)
    if compression is None:
        return path, kind, stat
    inner = unpacked(path, compression, cancel)
    kind, stat, _ = _check_readable(inner)
    return inner, kind, stat


def _check_readable(path: Path) -> tuple[Kind, os.stat_result, bytes]:
    """The file's kind (by content, then extension), stat and first bytes; raises for missing, unreadable,
    empty.

    Only regular files are opened: a fifo or a device could block the reader forever.
    """
    try:
        stat = os.stat(path)
    except FileNotFoundError as exc:
        raise UnreadableFileError(f"{path} does not exist.") from exc
    except PermissionError as exc:
        raise UnreadableFileError(f"You are not allowed to read {path}.") from exc
    except OSError as exc:
        raise UnreadableFileError(f"{path} cannot be read ({exc.strerror or exc}).") from exc
    if stat_module.S_ISDIR(stat.st_mode):
        raise UnreadableFileError(f"{path} is a folder, not a file.")
    if not stat_module.S_ISREG(stat.st_mode):
        raise UnreadableFileError(f"{path} is not a regular file (it is a pipe, socket or device).")
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD)
    except FileNotFoundError as exc:
        raise UnreadableFileError(f"{path} does not exist.") from exc
    except PermissionError as exc:
        raise UnreadableFileError(f"You are not allowed to read {path}.") from exc
    except OSError as exc:
        raise UnreadableFileError(f"{path} cannot be read ({exc.strerror or exc}).") from exc
    if not head:
        raise EmptyDocumentError(f"{path.name} is empty (0 bytes).")
    kind: Kind = "pdf" if head.lstrip().startswith(b"%PDF-") or path.suffix.lower() == ".pdf" else "text"
    return kind, stat, head


def _from_cache(
    key: str, path: Path, stat: os.stat_result, on_progress: Callable[[int, int], None] | None
) -> Document | None:
    document = cache.load(key)
    if document is None:
        return None
    document.path = path
    document.file_size, document.file_mtime_ns = stat.st_size, stat.st_mtime_ns
    if document.is_stale():  # changed while it was being hashed
        return None
    if on_progress is not None:
        total = len(document.pages) or 1
        on_progress(total, total)
    return document


def _extract(
    path: Path,
    kind: Kind,
    stat: os.stat_result,
    password: str | None,
    on_progress: Callable[[int, int], None] | None,
    cancel: Callable[[], bool] | None,
    ocr: bool,
) -> Document:
    if kind == "pdf":
        return load_pdf(path, password, on_progress, cancel, ocr)
    try:
        data = path.read_bytes()
        after = os.stat(path)
    except FileNotFoundError as exc:
        raise DocumentChangedError(f"{path.name} disappeared while it was being read.") from exc
    except OSError as exc:
        raise UnreadableFileError(f"{path} cannot be read ({exc.strerror or exc}).") from exc
    if len(data) != stat.st_size or (after.st_size, after.st_mtime_ns) != (stat.st_size, stat.st_mtime_ns):
        raise DocumentChangedError(f"{path.name} changed on disk while it was being read. Open it again.")
    document = load_text(path, data, stat)
    if on_progress is not None:
        on_progress(1, 1)
    return document
