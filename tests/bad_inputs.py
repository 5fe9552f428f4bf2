"""The bad-input corpus: files a person may try to open, each with what they must be told.

Shared by tests/test_bad_input.py (documents layer, command line, and the window). Holds no tests.
"""

from __future__ import annotations

import contextlib
import gzip
import lzma
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.documents import errors
from tests.documents_fixtures import (
    make_encrypted_pdf,
    make_image_only_pdf,
    make_many_pages_pdf,
    make_pdf,
    make_truncated_pdf,
    make_zero_page_pdf,
)

TEXT = "The colour of box 4 is violet. Crate 4 weighs 31 kilograms. Nothing else is stored on shelf 4.\n\n"
PAGES = [TEXT * 6, TEXT * 6, TEXT * 6]


@dataclass(frozen=True)
class Case:
    name: str  # test id
    what: str  # for the table: what the file is
    build: Callable[[Path], Path]
    says: str  # a piece of what the person is told
    error: type[errors.DocumentError] | None = None  # None: the file opens
    password: str | None = None
    interfere: str = ""  # "vanish" or "change": done to the file while it is being read
    unprivileged: bool = False  # read it as a user without permission
    big: bool = False  # takes many seconds: run once, in the window


def _write(name: str, data: bytes) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    return build


def _truncated(folder: Path) -> Path:
    return make_truncated_pdf(folder / "cut.pdf", PAGES, keep=0.6)


def _corrupt(folder: Path) -> Path:
    path = folder / "corrupt.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 16)
    return path


def _encrypted(folder: Path) -> Path:
    return make_encrypted_pdf(folder / "secret.pdf", PAGES, "hunter2")


def _folder(folder: Path) -> Path:
    path = folder / "a folder.pdf"
    path.mkdir()
    return path


def _fifo(folder: Path) -> Path:
    path = folder / "pipe.txt"
    os.mkfifo(path)
    return path


def _locked(folder: Path) -> Path:
    path = folder / "locked.txt"
    path.write_text(TEXT, encoding="utf-8")
    path.chmod(0)
    return path


def _symlink_loop(folder: Path) -> Path:
    path = folder / "loop.txt"
    path.symlink_to(path)
    return path


def _broken_link(folder: Path) -> Path:
    path = folder / "gone.pdf"
    path.symlink_to(folder / "nowhere.pdf")
    return path


def _hundred_megabytes(folder: Path) -> Path:
    from app.retrieval.needles import haystack_text

    path = folder / "huge.txt"
    block = haystack_text().encode("utf-8")
    with path.open("wb") as handle:
        for _ in range(-(-100_000_000 // len(block))):
            handle.write(block)
    return path


def _text_pdf(folder: Path) -> Path:
    return make_pdf(folder / "vanishing.pdf", PAGES)


def _text_file(folder: Path) -> Path:
    path = folder / "changing.txt"
    path.write_text(TEXT * 20, encoding="utf-8")
    return path


def _gzipped_pdf(folder: Path) -> Path:
    plain = make_pdf(folder / "manual.pdf", PAGES)
    path = folder / "manual.pdf.gz"
    path.write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    return path


def _cut_gzip(folder: Path) -> Path:
    path = folder / "cut.txt.gz"
    packed = gzip.compress(LATIN.encode("utf-8") + TEXT.encode("utf-8"))
    path.write_bytes(packed[: len(packed) // 2])
    return path


LATIN = "Le café était très animé. Les élèves déjà présents parlaient à voix haute de l'été dernier. " * 8

CASES = [
    Case("truncated-pdf", "PDF cut to 60% of its bytes", _truncated, "damaged (perhaps truncated)"),
    Case("corrupt-pdf", "PDF header, then junk", _corrupt, "is damaged", errors.CorruptDocumentError),
    Case("encrypted-no-password", "encrypted PDF, no password given", _encrypted, "protected by a password",
         errors.EncryptedDocumentError),
    Case("encrypted-wrong-password", "encrypted PDF, wrong password", _encrypted, "password for secret.pdf is not "
         "correct", errors.EncryptedDocumentError, password="wrong"),
    Case("image-only-pdf", "scanned PDF (images, no text layer)", lambda f: make_image_only_pdf(f / "scan.pdf"),
         "no text layer", errors.NoTextLayerError),
    Case("blank-pdf", "PDF of blank pages", lambda f: make_pdf(f / "blank.pdf", ["", ""]), "pages are blank",
         errors.EmptyDocumentError),
    Case("zero-page-pdf", "PDF with zero pages", lambda f: make_zero_page_pdf(f / "zero.pdf"), "has no pages",
         errors.EmptyDocumentError),
    Case("empty-txt", "0-byte .txt file", _write("empty.txt", b""), "empty (0 bytes)", errors.EmptyDocumentError),
    Case("empty-pdf", "0-byte .pdf file", _write("empty.pdf", b""), "empty (0 bytes)", errors.EmptyDocumentError),
    Case("blank-txt", "text file of spaces and newlines", _write("blank.txt", b" \n\n\t \n"), "contains no text",
         errors.EmptyDocumentError),
    Case("binary-txt", "binary junk named .txt", _write("junk.txt", bytes(range(256)) * 64), "does not look like text",
         errors.UnsupportedFileError),
    Case("utf16-bom", "UTF-16 text with a byte order mark", _write("utf16.txt", TEXT.encode("utf-16")), "Opened"),
    Case("utf16-no-bom", "UTF-16-LE text without a byte order mark", _write("utf16le.txt", TEXT.encode("utf-16-le")),
         "Opened"),
    Case("latin1", "Latin-1 (Windows-1252) text", _write("latin1.txt", LATIN.encode("cp1252")), "Opened"),
    Case("gzip-pdf", "PDF compressed with gzip (as Debian ships manuals)", _gzipped_pdf, "Opened"),
    Case("xz-latin1", "Latin-1 text compressed with xz", _write("notes.txt.xz", lzma.compress(LATIN.encode("cp1252"))),
         "Opened"),
    Case("damaged-gzip", "gzip file cut short", _cut_gzip, "damaged gzip file", errors.UnreadableFileError),
    Case("empty-gzip", "gzip file of nothing", _write("empty.txt.gz", gzip.compress(b"")), "with nothing inside",
         errors.EmptyDocumentError),
    Case("vanishes-pdf", "PDF deleted while it is read", _text_pdf, "disappeared while it was being read",
         errors.DocumentChangedError, interfere="vanish"),
    Case("changes-pdf", "PDF rewritten while it is read", _text_pdf, "changed on disk while it was being read",
         errors.DocumentChangedError, interfere="change"),
    Case("vanishes-txt", "text file deleted while it is read", _text_file, "disappeared while it was being read",
         errors.DocumentChangedError, interfere="vanish"),
    Case("changes-txt", "text file appended to while it is read", _text_file, "changed on disk while it was being "
         "read", errors.DocumentChangedError, interfere="change"),
    Case("directory", "a folder", _folder, "is a folder, not a file", errors.UnreadableFileError),
    Case("fifo", "a named pipe (fifo)", _fifo, "not a regular file", errors.UnreadableFileError),
    Case("no-permission", "file without read permission", _locked, "not allowed to read",
         errors.UnreadableFileError, unprivileged=True),
    Case("missing", "path that does not exist", lambda f: f / "missing.pdf", "does not exist",
         errors.UnreadableFileError),
    Case("broken-symlink", "symbolic link to nothing", _broken_link, "does not exist", errors.UnreadableFileError),
    Case("symlink-loop", "symbolic link to itself", _symlink_loop, "cannot be read", errors.UnreadableFileError),
    Case("100-mb-text", "100 MB text file (25 million tokens)", _hundred_megabytes, "Opened", big=True),
    Case("20000-pages", "PDF with 20,000 pages", lambda f: make_many_pages_pdf(f / "many.pdf", 20_000), "Opened",
         big=True),
]


@contextlib.contextmanager
def interference(case: Case, path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Delete or rewrite the file while the loader reads it (after it was checked and hashed)."""
    if not case.interfere:
        yield
        return
    if path.suffix == ".pdf":
        from app.documents import pdf_loader

        real_page = pdf_loader.build_page_text
        done = []

        def page_then_interfere(*args, **kwargs):
            if not done:
                done.append(True)
                if case.interfere == "vanish":
                    path.unlink()
                else:
                    make_pdf(path, ["A different document now.", "With other pages, longer than before."])
            return real_page(*args, **kwargs)

        monkeypatch.setattr(pdf_loader, "build_page_text", page_then_interfere)
    else:
        real_read = Path.read_bytes

        def read_with_interference(self: Path) -> bytes:
            if self != path:
                return real_read(self)
            if case.interfere == "vanish":
                path.unlink()
                return real_read(self)
            data = real_read(self)
            with path.open("ab") as handle:
                handle.write(b"Appended while it was read.\n")
            return data

        monkeypatch.setattr(Path, "read_bytes", read_with_interference)
    yield


def clear_up(path: Path) -> None:
    """Undo what would stop pytest from removing the case's folder."""
    with contextlib.suppress(OSError):
        if path.exists() and not path.is_symlink():
            path.chmod(0o644)
