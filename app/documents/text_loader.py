"""Plain text files: encoding detection (BOM, UTF-8, then charset-normalizer) and binary rejection."""

from __future__ import annotations

import codecs
import os
import re
from pathlib import Path

import charset_normalizer

from app.documents.document import Document
from app.documents.errors import EmptyDocumentError, UnsupportedFileError

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\ufffd]")
MAX_CONTROL_RATIO = 0.02
SAMPLE_CHARS = 65536
WESTERN_MARGIN = 0.1  # chaos (0..1) that cp1252 may lose to the best guess and still be preferred


def decode_text(data: bytes, name: str = "The file") -> tuple[str, str]:
    """(text with newlines normalised to "\\n", encoding name); raises UnsupportedFileError for binary data."""
    text, encoding = _decode(data, name)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _looks_binary(text):
        raise UnsupportedFileError(f"{name} does not look like text (it contains binary data).")
    return text, encoding


def _decode(data: bytes, name: str) -> tuple[str, str]:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError:
                break
    utf16 = _utf16_without_bom(data)
    if utf16 is not None:
        return utf16
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if b"\x00" in data[:SAMPLE_CHARS]:
        raise UnsupportedFileError(f"{name} does not look like text (it contains binary data).")
    matches = list(charset_normalizer.from_bytes(data))
    if not matches:
        raise UnsupportedFileError(f"{name} does not look like text: its encoding could not be recognised.")
    best = _prefer_western(matches)
    return str(best), best.encoding


def _utf16_without_bom(data: bytes) -> tuple[str, str] | None:
    """UTF-16 text written without a byte order mark: NULs on one side of most byte pairs (ASCII-range
    text), none on the other. Returns (text, encoding) or None."""
    sample = data[: SAMPLE_CHARS * 2]
    if len(data) % 2 or len(sample) < 4:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    pairs = len(sample) // 2
    for encoding, nuls, others in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if nuls >= 0.3 * pairs and others <= 0.01 * pairs:
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError:
                return None
    return None


def _prefer_western(matches: list[charset_normalizer.CharsetMatch]) -> charset_normalizer.CharsetMatch:
    """The detector's best guess, unless Windows-1252 (the most common legacy encoding) is nearly as good.

    On short texts the detector often cannot tell Western from Baltic or Central European code pages.
    """
    best = matches[0]
    for match in matches:
        if "cp1252" in match.could_be_from_charset and match.chaos <= best.chaos + WESTERN_MARGIN:
            return match
    return best


def _looks_binary(text: str) -> bool:
    """Many control characters (NUL, escape codes, replacement marks) in a sample of the text."""
    sample = text[:SAMPLE_CHARS]
    if not sample:
        return False
    return len(_CONTROL.findall(sample)) > MAX_CONTROL_RATIO * len(sample) or "\x00" in sample


def load_text(path: Path, data: bytes, stat: os.stat_result) -> Document:
    """A text file already read into `data` as a Document (sentences are left to the caller)."""
    text, encoding = decode_text(data, path.name)
    if not text.strip():
        raise EmptyDocumentError(f"{path.name} is empty: it contains no text.")
    return Document(
        path=path,
        kind="text",
        text=text,
        title=path.stem,
        encoding=encoding,
        file_size=stat.st_size,
        file_mtime_ns=stat.st_mtime_ns,
    )
