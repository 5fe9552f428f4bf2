"""Benchmark of the documents layer on a long real PDF (not a test).

    .venv/bin/python tests/benchmarks/extract.py [PDF] [--repeat N]

Prints time to first page (probe + render page 1), full extraction time, pages/s, peak memory and
cached reopen time. `--repeat N` concatenates the PDF N times first, to measure a 2,000-page book.
The default PDF is the gnuplot manual of Debian's gnuplot-doc (gunzipped to a temporary file if needed).
"""

from __future__ import annotations

import argparse
import gzip
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import pymupdf

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.documents import cache, load_document, probe_document  # noqa: E402
from app.documents.provenance import GlyphMap  # noqa: E402

CANDIDATES = [
    Path("/usr/share/doc/gnuplot-doc/gnuplot.pdf"),
    Path("/usr/share/doc/gnuplot-doc/gnuplot.pdf.gz"),
    Path("/usr/share/doc/gnuplot/gnuplot.pdf"),
    Path("/usr/share/doc/gnuplot/gnuplot.pdf.gz"),
]


def find_default() -> Path:
    for path in CANDIDATES:
        if path.exists():
            return path
    raise SystemExit("No default PDF found: install gnuplot-doc or pass a PDF path.")


def prepare(source: Path, repeat: int, workdir: Path) -> Path:
    """A plain PDF in `workdir`: gunzipped if needed, concatenated `repeat` times."""
    path = workdir / "bench.pdf"
    if source.suffix == ".gz":
        with gzip.open(source, "rb") as src, open(path, "wb") as dst:
            shutil.copyfileobj(src, dst)
    else:
        shutil.copyfile(source, path)
    if repeat > 1:
        single = pymupdf.open(path)
        joined = pymupdf.open()
        for _ in range(repeat):
            joined.insert_pdf(single)
        big = workdir / "bench-repeated.pdf"
        joined.save(big, garbage=1)
        joined.close()
        single.close()
        path = big
    return path


def time_to_first_page(path: Path) -> tuple[float, int]:
    started = time.perf_counter()
    info = probe_document(path)
    doc = pymupdf.open(path)
    doc[0].get_pixmap(dpi=96)
    doc.close()
    return time.perf_counter() - started, info.page_count


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("pdf", nargs="?", type=Path)
    parser.add_argument("--repeat", type=int, default=1, help="concatenate the PDF this many times")
    args = parser.parse_args()
    source = args.pdf or find_default()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        cache_dir = workdir / "cache"
        cache.default_dir = lambda: cache_dir  # keep the user's cache out of it
        path = prepare(source, args.repeat, workdir)
        print(f"file: {source} x{args.repeat} -> {path.stat().st_size / 2**20:.1f} MiB")

        first_page, pages = time_to_first_page(path)
        print(f"pages: {pages}")
        print(f"time to first page (probe + render page 1): {first_page * 1000:.0f} ms")

        rss_before = rss_mib()
        started = time.perf_counter()
        doc = load_document(path, use_cache=False)
        elapsed = time.perf_counter() - started
        print(f"full extraction + sentences: {elapsed:.2f} s  ({pages / elapsed:.0f} pages/s)")
        print(f"  text: {len(doc.text):,} chars, sentences: {len(doc.sentences):,}")
        glyphs = doc.char_boxes
        if isinstance(glyphs, GlyphMap):
            print(f"  glyph map: {len(glyphs):,} words, {glyphs.nbytes / 2**20:.1f} MiB")
        print(f"  peak RSS: {rss_mib():.0f} MiB (was {rss_before:.0f} MiB before extraction)")
        del doc

        tracemalloc.start()
        load_document(path, use_cache=False)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"  peak Python allocations during extraction (tracemalloc): {peak / 2**20:.0f} MiB")

        started = time.perf_counter()
        load_document(path)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        cached = load_document(path)
        warm = time.perf_counter() - started
        size = sum(f.stat().st_size for f in cache_dir.glob("*.npz"))
        print(f"first load with cache write: {cold:.2f} s; cached reopen: {warm * 1000:.0f} ms")
        print(f"  cache file: {size / 2**20:.1f} MiB; reopened {len(cached.sentences):,} sentences")


if __name__ == "__main__":
    main()
