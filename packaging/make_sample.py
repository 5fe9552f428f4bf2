"""Build resources/samples/sample.pdf: the books of Ruth, Esther and Jonah (KJV, public domain).

The text comes from Debian's `bible-kjv-text` package (`apt-get install bible-kjv`); the PDF is committed,
so this script is only needed to rebuild it.
"""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import pymupdf

BOOKS = [("Ruth", "Ruth1:1-Ruth4:22"), ("Esther", "Esth1:1-Esth10:3"), ("Jonah", "Jonah1:1-Jonah4:11")]
OUT = Path(__file__).resolve().parent.parent / "resources" / "samples" / "sample.pdf"


def chapters(spec: str) -> list[tuple[str, str]]:
    raw = subprocess.run(["bible", spec], capture_output=True, text=True, check=True).stdout
    out = []
    for block in re.split(r"\n(?=\w+ \d+\n)", raw.strip()):
        head, *lines = block.strip().split("\n")
        body = " ".join(line.strip() for line in lines)
        verses = [v.strip() for v in re.split(r"\s*\b\d+\s+(?=[A-Z])", body) if v.strip()]
        out.append((head.strip(), " ".join(verses)))
    return out


def book_html() -> str:
    parts = ["<h1>Three Short Books</h1><p><i>Ruth, Esther and Jonah, from the King James Version "
             "(public domain). The sample document of InfiniRetri Desktop.</i></p>"]
    for title, spec in BOOKS:
        parts.append(f"<h1>The Book of {title}</h1>")
        for head, text in chapters(spec):
            parts.append(f"<h2>{html.escape(head)}</h2><p>{html.escape(text)}</p>")
    return "".join(parts)


def main() -> int:
    story = pymupdf.Story(html=book_html(), user_css="body{font-family:serif;font-size:11pt;} p{text-align:justify;}")
    writer = pymupdf.DocumentWriter(str(OUT))
    page_rect = pymupdf.paper_rect("a5")
    area = page_rect + (48, 56, -48, -56)
    more = True
    while more:
        device = writer.begin_page(page_rect)
        more, _ = story.place(area)
        story.draw(device)
        writer.end_page()
    writer.close()
    doc = pymupdf.open(OUT)
    doc.set_metadata({"title": "Three Short Books (Ruth, Esther, Jonah)", "author": "King James Version"})
    doc.saveIncr()
    print(f"{OUT}: {doc.page_count} pages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
