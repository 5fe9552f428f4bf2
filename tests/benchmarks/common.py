"""Shared helpers of the retrieval benchmarks (nih.py, baselines.py): real-text haystacks of a given
length in model tokens, needle placement, passage checks and memory sampling. Not a test."""

from __future__ import annotations

import ctypes
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.paths import cache_dir  # noqa: E402
from app.retrieval.needles import haystack_text, insert_needle, repeat_to_length  # noqa: E402
from app.retrieval.types import Passage  # noqa: E402

KJV_RANGE = "Gen1:1-Rev22:21"
_VERSE = re.compile(r"^\s*\d+\s+")
_HEADING = re.compile(r"^(?:[1-3] )?[A-Z][A-Za-z ]+ \d+$")
_SUFFIX = {"k": 1_000, "m": 1_000_000}


@dataclass(frozen=True)
class Case:
    """One question about a document: the needle sentences it depends on and the value an answer must hold."""

    name: str
    sentences: tuple[str, ...]
    question: str
    value: str


@dataclass
class Haystack:
    """A document with needles inserted; `spans` maps each needle sentence to its character span."""

    text: str
    tokens: int
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)


def parse_lengths(spec: str) -> list[int]:
    """'8k,16k,1m' -> [8000, 16000, 1000000] (k = 1,000 tokens, m = 1,000,000)."""
    lengths = []
    for item in spec.split(","):
        item = item.strip().lower()
        if not item:
            continue
        scale = _SUFFIX.get(item[-1], 1)
        lengths.append(int(float(item.rstrip("km")) * scale))
    return lengths


def parse_floats(spec: str) -> list[float]:
    return [float(x) for x in spec.split(",") if x.strip()]


def label(tokens: int) -> str:
    """8000 -> '8k', 1000000 -> '1m'."""
    if tokens >= 1_000_000 and tokens % 1_000_000 == 0:
        return f"{tokens // 1_000_000}m"
    return f"{tokens // 1000}k" if tokens % 1000 == 0 else str(tokens)


def kjv_text() -> str:
    """The whole King James Bible from Debian's bible-kjv-text, verse numbers removed, one paragraph per
    chapter (as resources/haystack/README.md describes); cached. Falls back to the bundled Genesis."""
    cached = cache_dir() / "benchmarks" / "kjv.txt"
    if cached.is_file():
        return cached.read_text(encoding="utf-8")
    if not shutil.which("bible"):
        print("note: `bible` (bible-kjv) not installed; long haystacks repeat KJV Genesis", file=sys.stderr)
        return haystack_text()
    raw = subprocess.run(["bible", KJV_RANGE], capture_output=True, text=True, check=True).stdout
    text = clean_bible_output(raw)
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(text, encoding="utf-8")
    return text


def clean_bible_output(raw: str) -> str:
    """`bible` prints 'Book N' headings and numbered, wrapped verses: keep headings, join each chapter."""
    chapters: list[str] = []
    verses: list[str] = []
    previous = ""
    for line in raw.splitlines():
        stripped = line.strip()
        after_blank, previous = not previous, stripped
        if not stripped:
            continue
        if after_blank and _HEADING.match(line):
            if verses:
                chapters.append(" ".join(verses))
                verses = []
            chapters.append(stripped)
        else:
            verses.append(_VERSE.sub("", line).strip())
    if verses:
        chapters.append(" ".join(verses))
    return "\n\n".join(chapters) + "\n"


def count_tokens(tokenizer: Any, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def cut_to_tokens(tokenizer: Any, source: str, tokens: int) -> str:
    """A prefix of `source` (repeated if too short) of about `tokens` tokens, ending at a sentence end."""
    sample = source[:200_000]
    chars_per_token = len(sample) / max(count_tokens(tokenizer, sample), 1)
    text = ""
    for _ in range(3):  # rescale twice from the measured count: within about 1%
        chars = int(tokens * chars_per_token)
        text = repeat_to_length(source, chars) if chars > len(source) else _sentence_prefix(source, chars)
        measured = count_tokens(tokenizer, text)
        if abs(measured - tokens) <= tokens * 0.01:
            break
        chars_per_token *= tokens / max(measured, 1)
    return text


def _sentence_prefix(text: str, chars: int) -> str:
    head = text[:chars]
    cut = head.rfind(". ")
    return head[: cut + 1] if cut > 0 else head


def build_haystack(
    tokenizer: Any, source: str, tokens: int, placements: Sequence[tuple[str, float]]
) -> Haystack:
    """Real text of about `tokens` tokens with each (sentence, depth) inserted at a sentence boundary."""
    text = cut_to_tokens(tokenizer, source, tokens)
    for sentence, depth in sorted(placements, key=lambda p: -p[1]):  # deepest first: offsets stay valid
        text, _ = insert_needle(text, sentence, depth)
    spans = {}
    for sentence, _depth in placements:
        start = text.index(sentence)
        spans[sentence] = (start, start + len(sentence))
    return Haystack(text, count_tokens(tokenizer, text), spans)


def retained(passages: Sequence[Passage], span: tuple[int, int]) -> bool:
    """Does any passage overlap the character span?"""
    return any(p.start < span[1] and span[0] < p.end for p in passages)


def all_retained(passages: Sequence[Passage], haystack: Haystack, case: Case) -> bool:
    return all(retained(passages, haystack.spans[s]) for s in case.sentences)


def correct(answer: str, case: Case) -> bool:
    return case.value.lower() in answer.lower()


def normalise(text: str) -> str:
    return " ".join(text.split()).lower()


def rss_bytes() -> int:
    """Current resident set size (psutil when installed, else /proc)."""
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * resource.getpagesize()


def max_rss_bytes() -> int:
    """The process's peak RSS so far (getrusage; kilobytes on Linux)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def release_free_memory() -> None:
    """Hand freed heap back to the OS (glibc), so one row's garbage does not count against the next."""
    with suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


@dataclass
class MemoryWindow:
    start: int = 0
    peak: int = 0
    end: int = 0

    @property
    def growth(self) -> int:
        return self.end - self.start


@contextmanager
def sample_memory(interval: float = 0.05) -> Iterator[MemoryWindow]:
    """Sample RSS in a thread while the block runs: the block's own peak, start and end RSS."""
    release_free_memory()
    window = MemoryWindow(start=rss_bytes())
    window.peak = window.start
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(interval):
            window.peak = max(window.peak, rss_bytes())

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield window
    finally:
        stop.set()
        thread.join()
        window.end = rss_bytes()
        window.peak = max(window.peak, window.end)


def mib(value: int) -> str:
    return f"{value / 2**20:.0f}"


@contextmanager
def timer() -> Iterator[list[float]]:
    """`with timer() as t: ...` then t[0] holds the elapsed seconds."""
    box = [0.0]
    started = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - started


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A Markdown table (it pastes into README.md as it is)."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
    sys.stdout.flush()
