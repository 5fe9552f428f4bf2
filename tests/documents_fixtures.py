"""Builders of small test PDFs (and other files) with PyMuPDF, shared by the document and GUI tests."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pymupdf

PAGE_SIZE = (595.0, 842.0)  # A4 in points
MARGIN = 56.0
FONT_SIZE = 11.0


def make_pdf(path: Path, pages: list[str], title: str = "") -> Path:
    """A PDF with one page per string, each wrapped into the page's text box ("" gives a blank page)."""
    doc = pymupdf.open()
    for text in pages:
        page = doc.new_page(width=PAGE_SIZE[0], height=PAGE_SIZE[1])
        if text:
            _fill_box(page, pymupdf.Rect(MARGIN, MARGIN, PAGE_SIZE[0] - MARGIN, PAGE_SIZE[1] - MARGIN), text)
    if title:
        doc.set_metadata({"title": title})
    return _save(doc, path)


def make_two_column_pdf(path: Path, heading: str, left: str, right: str) -> Path:
    """One page: a full-width heading over two columns of wrapped text."""
    doc = pymupdf.open()
    page = doc.new_page(width=PAGE_SIZE[0], height=PAGE_SIZE[1])
    page.insert_text((MARGIN, MARGIN + 16), heading, fontsize=16, fontname="hebo")
    mid = PAGE_SIZE[0] / 2
    top = MARGIN + 40
    bottom = PAGE_SIZE[1] - MARGIN
    _fill_box(page, pymupdf.Rect(MARGIN, top, mid - 12, bottom), left)
    _fill_box(page, pymupdf.Rect(mid + 12, top, PAGE_SIZE[0] - MARGIN, bottom), right)
    return _save(doc, path)


def make_lines_pdf(path: Path, pages: list[list[str]], leading: float = 14.0) -> Path:
    """Pages of explicit lines at fixed positions (to control hyphenation and line breaks exactly)."""
    doc = pymupdf.open()
    for lines in pages:
        page = doc.new_page(width=PAGE_SIZE[0], height=PAGE_SIZE[1])
        _put_lines(page, lines, MARGIN + 20, leading)
    return _save(doc, path)


def make_manual_pdf(path: Path, bodies: list[list[str]], heads: list[str], leading: float = 14.0) -> Path:
    """Pages like a printed manual's: a running head (`heads[i]`, "" for none) level with the page number at
    the top, well above the body, and the body's lines at fixed positions below it."""
    doc = pymupdf.open()
    for number, (lines, head) in enumerate(zip(bodies, heads), start=1):
        page = doc.new_page(width=PAGE_SIZE[0], height=PAGE_SIZE[1])
        if head:
            page.insert_text((MARGIN, MARGIN), head, fontsize=FONT_SIZE, fontname="helv")
            page.insert_text((PAGE_SIZE[0] - MARGIN - 20, MARGIN), str(number), fontsize=FONT_SIZE, fontname="helv")
        _put_lines(page, lines, MARGIN + 40, leading)
    return _save(doc, path)


def _put_lines(page: pymupdf.Page, lines: list[str], top: float, leading: float) -> None:
    """Each line at the left margin, `leading` points below the one before ("" leaves its place empty)."""
    for i, line in enumerate(lines):
        if line:
            page.insert_text((MARGIN, top + i * leading), line, fontsize=FONT_SIZE, fontname="helv")


def make_encrypted_pdf(path: Path, pages: list[str], password: str) -> Path:
    """Like make_pdf, but AES-256 encrypted with `password` as user and owner password."""
    plain = make_pdf(path.with_suffix(".plain.pdf"), pages)
    doc = pymupdf.open(plain)
    doc.save(str(path), encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw=password, owner_pw=password)
    doc.close()
    plain.unlink()
    return path


def make_image_only_pdf(path: Path, pages: int = 2) -> Path:
    """A 'scanned' PDF: each page holds only a picture of text, no text layer."""
    source = pymupdf.open()
    src_page = source.new_page(width=300, height=100)
    src_page.insert_text((20, 50), "Scanned words in a picture.", fontsize=14)
    pixmap = src_page.get_pixmap(dpi=72)
    png = pixmap.tobytes("png")
    doc = pymupdf.open()
    for _ in range(pages):
        page = doc.new_page(width=PAGE_SIZE[0], height=PAGE_SIZE[1])
        page.insert_image(pymupdf.Rect(MARGIN, MARGIN, MARGIN + 300, MARGIN + 100), stream=png)
    return _save(doc, path)


def make_labelled_pdf(path: Path, pages: list[str], roman_pages: int) -> Path:
    """make_pdf with page labels: i, ii, ... for the first `roman_pages` pages, then 1, 2, ..."""
    make_pdf(path, pages)
    doc = pymupdf.open(path)
    doc.set_page_labels(
        [
            {"startpage": 0, "prefix": "", "style": "r", "firstpagenum": 1},
            {"startpage": roman_pages, "prefix": "", "style": "D", "firstpagenum": 1},
        ]
    )
    doc.saveIncr()
    doc.close()
    return path


def make_truncated_pdf(path: Path, pages: list[str], keep: float = 0.5) -> Path:
    """make_pdf, then cut the file to the first `keep` fraction of its bytes."""
    make_pdf(path, pages)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _fill_box(page: pymupdf.Page, rect: pymupdf.Rect, text: str) -> None:
    overflow = page.insert_textbox(rect, text, fontsize=FONT_SIZE, fontname="helv")
    if overflow < 0:
        raise ValueError(f"text does not fit on the page ({overflow:.0f} points short)")


def _save(doc: pymupdf.Document, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path), garbage=3, deflate=True)
    doc.close()
    return path


def pdf_bytes(objects: list[str]) -> bytes:
    """A PDF file from its objects' bodies (object 1 must be the catalog), with a correct xref table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def make_zero_page_pdf(path: Path) -> Path:
    """A well-formed PDF whose page tree is empty (PyMuPDF refuses to write one)."""
    path.write_bytes(pdf_bytes(["<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [] /Count 0 >>"]))
    return path


def make_many_pages_pdf(path: Path, pages: int, line: str = "One page of many, with one short sentence.") -> Path:
    """A PDF of `pages` small pages sharing one content stream: written in a second, whatever the count."""
    stream = f"BT /F1 10 Tf 20 150 Td ({line}) Tj ET"
    first_page = 5
    kids = " ".join(f"{first_page + i} 0 R" for i in range(pages))
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
    ]
    page = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"
    objects += [page] * pages
    path.write_bytes(pdf_bytes(objects))
    return path


@contextlib.contextmanager
def unprivileged() -> Iterator[None]:
    """Run as the user `nobody` while inside (when running as root), so that file permissions apply."""
    if os.name != "posix" or os.geteuid() != 0:
        yield
        return
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
