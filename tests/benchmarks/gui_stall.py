"""Benchmark: the longest GUI event-loop stall while a long PDF is opened, scrolled and scanned (not a test).

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/benchmarks/gui_stall.py [--pages 1200] [--model tiny]
    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/benchmarks/gui_stall.py --scenario index --model bundled \
        [--index-seconds 60]

A 10 ms QTimer heartbeat runs on the GUI thread of the real main window; every gap between two beats
beyond 10 ms is time the event loop could not run. Printed per phase: the longest stall, the 99th
percentile gap and how many gaps exceeded 100 ms, plus the time to first page (open -> page 1 painted)
and to text ready (extraction finished). The file is opened once the window's start-up warm-up (the
PyMuPDF import, ~0.7 s, in the background) is done, as when a person picks a file; `infiniretri FILE`
pays that import on top.

The PDF (default 1,200 pages) is generated once with PyMuPDF from real text: the King James Genesis
shipped in resources/haystack and the plain-text documentation of Python's standard library (pydoc),
and kept in the cache folder given by --workdir.

--model: `tiny` (a 3-layer random Llama through the real retrieval pipeline, as the tests use),
`fake` (no torch: 20 ms per window), or `bundled` (SmolLM2-135M; a 1,000-page scan takes long on CPU,
use --pages to shorten).

--scenario index: open the PDF and let the window index it in the background (keyword index, then the
attention index window by window, as when a person opens a document) for --index-seconds while the view
moves to another page every half second; prints the stalls while the index build starts (model ready,
document tokenised) and while windows are indexed, and how far the build got.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QElapsedTimer, QEventLoop, QObject, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

LINES_PER_PAGE = 62
CHARS_PER_LINE = 96
STDLIB_MODULES = [
    "os", "sys", "re", "json", "pathlib", "collections", "itertools", "functools", "typing", "asyncio",
    "subprocess", "threading", "multiprocessing", "socket", "ssl", "http.client", "urllib.request",
    "email", "logging", "argparse", "datetime", "decimal", "fractions", "statistics", "random", "math",
    "sqlite3", "csv", "zipfile", "tarfile", "shutil", "tempfile", "unittest", "doctest", "inspect", "ast",
    "dis", "pickle", "copy", "enum", "dataclasses", "contextlib", "abc", "io", "codecs", "string",
    "textwrap", "difflib", "heapq", "bisect", "array", "struct", "hashlib", "hmac", "secrets", "uuid",
    "xml.etree.ElementTree", "html.parser", "configparser", "tomllib", "locale", "gettext", "calendar",
    "time", "selectors", "signal", "mmap", "ctypes", "concurrent.futures", "queue", "sched", "weakref",
    "gc", "types", "operator", "pprint", "reprlib", "trace", "tracemalloc", "timeit", "cProfile", "pdb",
    "venv", "zipimport", "importlib", "pkgutil", "platform", "errno", "glob", "fnmatch", "filecmp",
    "stat", "fileinput", "netrc", "plistlib", "base64", "binascii", "quopri", "mailbox", "mimetypes",
    "smtplib", "imaplib", "ftplib", "poplib", "wsgiref", "xmlrpc.client", "ipaddress", "turtle", "cmd",
    "shlex", "tkinter", "curses", "lzma", "bz2", "gzip", "zlib", "graphlib", "numbers", "cmath",
]


# ----------------------------------------------------------------------------------------- the PDF


def real_text(min_chars: int) -> str:
    """Genesis (KJV) followed by pydoc's plain-text documentation of many stdlib modules."""
    import importlib
    import pydoc

    parts = [(ROOT / "resources" / "haystack" / "genesis.txt").read_text(encoding="utf-8")]
    total = len(parts[0])
    for name in STDLIB_MODULES:
        if total >= min_chars:
            break
        try:
            module = importlib.import_module(name)
            doc = pydoc.render_doc(module, renderer=pydoc.plaintext)
        except Exception:
            continue
        parts.append(doc)
        total += len(doc)
    while total < min_chars:  # not expected: repeat what there is
        parts.append(parts[len(parts) % max(1, len(parts) - 1)])
        total += len(parts[-1])
    return "\n\n".join(parts)


def build_pdf(path: Path, pages: int) -> Path:
    import pymupdf

    lines: list[str] = []
    for paragraph in real_text(pages * LINES_PER_PAGE * 70).splitlines():
        lines.extend(textwrap.wrap(paragraph, CHARS_PER_LINE) or [""])
    doc = pymupdf.open()
    for number in range(pages):
        page = doc.new_page(width=595, height=842)
        chunk = lines[number * LINES_PER_PAGE:(number + 1) * LINES_PER_PAGE]
        page.insert_text((40, 50), "\n".join(chunk), fontsize=9, fontname="cour", lineheight=1.35)
        page.insert_text((290, 820), str(number + 1), fontsize=9)
    doc.save(str(path), garbage=1, deflate=True)
    doc.close()
    return path


# ----------------------------------------------------------------------------------------- stalls


class StallTracer:
    """With --trace: when the GUI thread is late by more than `threshold` ms, keep what the other
    threads were running (Python stacks), to find who holds the GIL."""

    def __init__(self, beat: Heartbeat, threshold: float = 60.0) -> None:
        import collections
        import threading

        self.beat, self.threshold = beat, threshold
        self.stacks: collections.Counter = collections.Counter()
        self.gui = threading.get_ident()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import threading
        import traceback

        while self.running:
            time.sleep(0.005)
            late = self.beat.clock.nsecsElapsed() / 1e6 - self.beat.last
            if late < self.threshold:
                continue
            for ident, frame in sys._current_frames().items():
                if ident in (self.gui, threading.get_ident()):
                    continue
                where = "".join(traceback.format_stack(frame, limit=4))
                self.stacks[f"[{self.beat.phase}] " + where] += 1

    def report(self) -> None:
        self.running = False
        print(f"threads seen while the GUI was late by > {self.threshold:.0f} ms (5 ms samples):")
        for stack, count in self.stacks.most_common(8):
            print(f"--- {count} samples\n{stack}")


class Heartbeat(QObject):
    """Records the gaps between 10 ms timer beats on the GUI thread, per named phase."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = QElapsedTimer()
        self.timer = QTimer(self)
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._beat)
        self.phase = "idle"
        self.gaps: dict[str, list[float]] = {}
        self.last = 0.0

    def start(self) -> None:
        self.clock.start()
        self.last = 0.0
        self.timer.start()

    def _beat(self) -> None:
        now = self.clock.nsecsElapsed() / 1e6
        self.gaps.setdefault(self.phase, []).append(now - self.last)
        self.last = now

    def enter(self, phase: str) -> None:
        self.phase = phase

    def report(self, phase: str) -> str:
        gaps = self.gaps.get(phase, [0.0])
        worst = max(gaps)
        p99 = statistics.quantiles(gaps, n=100)[98] if len(gaps) > 100 else worst
        over = sum(1 for g in gaps if g > 100)
        return f"{phase:<10} max stall {worst:7.1f} ms   p99 gap {p99:6.1f} ms   gaps >100 ms: {over}   beats: {len(gaps)}"


def wait_for(app: QApplication, condition, timeout: float) -> float:
    """Run the real event loop (no sleeping on the GUI thread) until condition() holds; seconds taken."""
    started = time.perf_counter()
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(5)

    def check() -> None:
        if condition():
            loop.quit()
        elif time.perf_counter() - started > timeout:
            loop.exit(1)

    poll.timeout.connect(check)
    poll.start()
    if not condition() and loop.exec() == 1:
        raise SystemExit(f"timed out after {timeout:.0f} s")
    poll.stop()
    return time.perf_counter() - started


class Scroller(QObject):
    """Moves the view to another page every `interval` ms, like a user dragging the scrollbar."""

    def __init__(self, view, pages: int, step: int, interval: int = 30) -> None:
        super().__init__()
        self.view, self.pages, self.step, self.page = view, pages, step, 0
        self.timer = QTimer(self)
        self.timer.setInterval(interval)
        self.timer.timeout.connect(self._next)
        self.moves = 0

    def _next(self) -> None:
        self.page = (self.page + self.step) % self.pages
        self.view.go_to_page(self.page)
        self.moves += 1


# ----------------------------------------------------------------------------------------- models


def make_engine(kind: str):
    from app.ui.workers import Engine

    if kind == "bundled":
        from app.retrieval.models import load_model

        model = load_model("bundled", "cpu")
        return Engine(load_model=lambda spec, device, on_progress=None, cancel=None: model)
    if kind == "tiny":
        from tests.conftest import build_tiny_model

        model = build_tiny_model()
        return Engine(load_model=lambda spec, device, on_progress=None, cancel=None: model)
    from tests.test_gui_helpers import FakeCore

    core = FakeCore(window_chars=4000, delay=0.02)
    return core.engine()


# ----------------------------------------------------------------------------------------- run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=1200)
    parser.add_argument("--model", choices=["tiny", "fake", "bundled"], default="tiny")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "infiniretri-bench")
    parser.add_argument("--question", default="What did God call the firmament?")
    parser.add_argument("--trace", action="store_true", help="show what other threads ran during stalls")
    parser.add_argument("--scenario", choices=["ask", "index"], default="ask")
    parser.add_argument("--index-seconds", type=float, default=60.0, help="index scenario: how long to index")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    pdf = args.workdir / f"real-text-{args.pages}.pdf"
    if not pdf.exists():
        started = time.perf_counter()
        build_pdf(pdf, args.pages)
        print(f"built {pdf} ({pdf.stat().st_size / 2**20:.1f} MiB) in {time.perf_counter() - started:.1f} s")

    shutil.rmtree(args.workdir / "home", ignore_errors=True)  # cold: no document cache, no settings
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        os.environ[name] = str(args.workdir / "home" / name.lower())
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(args.workdir / "home" / "qs"))
    from app.history import HistoryStore
    from app.ui.main import create_main_window, make_application

    make_application()
    engine = make_engine(args.model)
    app, window = create_main_window(engine=engine, history=HistoryStore(args.workdir / "home" / "history.sqlite3"))
    window.resize(1280, 860)
    app.processEvents()
    view = window.area.page_view
    beat = Heartbeat()
    beat.start()
    tracer = StallTracer(beat) if args.trace else None
    wait_for(app, lambda: beat.clock.elapsed() > 300 and not window.runner.busy, 30)  # start-up warm-up done

    # open: time to first page and to text ready (cold: no document cache)
    beat.enter("open")
    window.open_file(pdf)
    first_page = wait_for(app, lambda: view.page_count > 0 and view.is_rendered(0), 120)
    text_ready = wait_for(app, lambda: window.document is not None, 900) + first_page
    print(f"PDF: {args.pages} pages; time to first page {first_page * 1000:.0f} ms; text ready after {text_ready:.1f} s"
          f" ({len(window.document.text):,} chars, {len(window.document.sentences):,} sentences)")
    app.processEvents()
    if args.scenario == "index":
        index_scenario(app, window, beat, args)
        finish(app, window, beat, tracer, ("open", "index-start", "index"))
        return

    # scroll through pages as fast as a user flinging the scrollbar
    beat.enter("scroll")
    scroller = Scroller(view, args.pages, max(1, args.pages // 200))
    scroller.timer.start()
    wait_for(app, lambda: scroller.moves >= 200, 60)
    scroller.timer.stop()

    # ask: tokenise, scan every window (strip fills live), generate; scroll meanwhile
    beat.enter("ask")
    finished = []
    window.answerFinished.connect(finished.append)
    failed = []
    window.jobFailed.connect(failed.append)
    started = time.perf_counter()
    window.ask(args.question)
    scroller = Scroller(view, args.pages, 7, interval=500)
    scroller.timer.start()
    wait_for(app, lambda: bool(finished or failed), 3600)
    scroller.timer.stop()
    if failed:
        raise SystemExit(f"failed: {failed[0].message}\n{failed[0].details}")
    outcome = finished[0]
    print(f"scan: {len(outcome.result.windows):,} windows, {len(outcome.result.passages)} passages in "
          f"{time.perf_counter() - started:.1f} s with {outcome.model_name} ({args.model})")

    beat.enter("jump")
    for i in range(min(20, len(window.passages))):
        window.go_to_passage(i)
        wait_for(app, lambda i=i: view.is_rendered(max(0, view.current_page())), 10)
    finish(app, window, beat, tracer, ("open", "scroll", "ask", "jump"))


def index_scenario(app: QApplication, window, beat: Heartbeat, args: argparse.Namespace) -> None:
    """Let the window index the open document for `args.index_seconds`, moving the view meanwhile."""
    indexing = window.indexing
    view = window.area.page_view
    beat.enter("index-start")
    started = time.perf_counter()
    wait_for(app, lambda: indexing.state.phase in ("running", "complete", "failed"), 600)
    print(f"indexing: first window after {time.perf_counter() - started:.1f} s (tokenising included)")
    beat.enter("index")
    indexing_started = time.perf_counter()
    scroller = Scroller(view, args.pages, 7, interval=500)
    scroller.timer.start()
    finished = indexing.state.phase
    try:
        wait_for(app, lambda: indexing.state.phase in ("complete", "failed"), args.index_seconds)
        finished = indexing.state.phase
    except SystemExit:  # the time is up: the usual case for a long document
        pass
    scroller.timer.stop()
    state = indexing.state
    seconds = time.perf_counter() - indexing_started
    print(f"indexed {state.done:,} of {state.total:,} windows in {seconds:.0f} s ({finished}; "
          f"{state.tokens_per_second:,.0f} tokens/s; indicator: {window.status.index.label.text()!r})")
    indexing.stop()


def finish(app: QApplication, window, beat: Heartbeat, tracer: StallTracer | None, phases: tuple[str, ...]) -> None:
    beat.timer.stop()
    print("GUI event-loop stalls (10 ms heartbeat):")
    for phase in phases:
        print("  " + beat.report(phase))
    worst = max(max(beat.gaps.get(p, [0.0])) for p in phases)
    print(f"longest stall overall: {worst:.1f} ms (target < 100 ms)")
    if tracer is not None:
        tracer.report()
    window.close()
    window.wait_for_workers(30000)  # a stopped index build ends after the window in progress
    window.deleteLater()
    beat.deleteLater()
    app.processEvents()


if __name__ == "__main__":
    main()
