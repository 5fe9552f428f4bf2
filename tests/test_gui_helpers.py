"""Shared fixtures and fakes for the GUI tests (imported by tests/test_gui*.py; holds no tests)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from app.retrieval.types import AnswerResult, CancelToken, Passage, Progress, WindowScore
from tests.documents_fixtures import make_pdf

COLOURS = ["red", "green", "blue", "violet", "amber", "teal", "indigo", "olive", "coral", "silver"]


def page_texts(pages: int = 8) -> list[str]:
    """Distinct sentences per page; page i says which colour box i has."""
    return [
        f"This is page {i + 1} of the inventory. The colour of box {i + 1} is {COLOURS[i % len(COLOURS)]}. "
        f"Crate {i + 1} weighs {10 + 7 * i} kilograms. Nothing else is stored on shelf {i + 1}."
        for i in range(pages)
    ]


@pytest.fixture
def isolated(tmp_path, monkeypatch, qapp):
    """Settings, data and caches in tmp_path; application names set as run_gui sets them."""
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    config = str(tmp_path / "qsettings")
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, config)
    from app.ui.main import make_application

    make_application()
    QSettings().clear()
    return tmp_path


@pytest.fixture
def sample_pdf(isolated) -> Path:
    return make_pdf(isolated / "inventory.pdf", page_texts(8))


@dataclass
class FakeModel:
    name: str = "fake-model"
    device: str = "cpu"
    num_layers: int = 2
    scoring_layer: int = 1


@dataclass(frozen=True)
class FakeIndexReport:
    """What the core's IndexReport carries, without importing torch."""

    folder: Path
    complete: bool
    windows_done: int
    windows: int
    document_tokens: int
    seconds: float
    tokens_indexed_now: int
    index_bytes: int


@dataclass
class FakeCore:
    """Stands in for load_model/answer/build_index: windows of fixed size, passages = sentences with a
    question word; the index build remembers per text how many windows are done (so it resumes)."""

    window_chars: int = 200
    delay: float = 0.0
    fail_with: Exception | None = None
    model_loads: int = 0
    calls: int = 0
    threads: set = field(default_factory=set)
    index_delay: float = 0.0  # seconds per indexed window
    eta_per_window: float = 6.0  # what the build reports as time left per remaining window
    index_fail_with: Exception | None = None
    indexed: dict = field(default_factory=dict)  # text -> windows done
    index_runs: list = field(default_factory=list)  # (first window, windows done, how it ended) per build
    lexical_calls: int = 0
    stats: dict = field(default_factory=dict)  # added to every answer's stats
    vector_batches: int = 0  # batches of word vectors the app's start finds missing (0: all stored)
    vector_delay: float = 0.0  # seconds per batch
    vector_runs: list = field(default_factory=list)  # (batches done, how it ended) per preparation
    deep_steps: int = 0  # steps of deep embeddings read after the windows (0: no deep model)
    deep_done: dict = field(default_factory=dict)  # text -> deep steps done

    def load_model(self, spec: str, device: str, on_progress: Callable | None = None, cancel=None) -> FakeModel:
        self.model_loads += 1
        if on_progress:
            on_progress(Progress("loading", 0, 0, message=f"fake {spec}"))
        if self.fail_with is not None:
            raise self.fail_with
        return FakeModel(device="cpu" if device == "auto" else device)

    def answer(self, text, sentences, question, model, settings=None, on_progress=None, on_token=None,
               cancel: CancelToken | None = None) -> AnswerResult:
        self.calls += 1
        self.threads.add(threading.get_ident())
        windows = self._scan(text, question, on_progress, cancel)
        words = {w.strip("?.,").lower() for w in question.split() if len(w) > 3}
        passages = [
            Passage(s.start, s.end, 0.9 - 0.1 * (i % 5), text[s.start:s.end])
            for i, s in enumerate(sentences)
            if words & {w.strip("?.,").lower() for w in text[s.start:s.end].split()}
        ][:12]
        if on_progress:
            on_progress(Progress("generating", 0, 4))
        answer = "The answer is in the highlighted passages."
        for piece in answer.split(" "):
            if cancel is not None:
                cancel.raise_if_cancelled()
            if on_token:
                on_token(piece + " ")
        return AnswerResult(answer, passages, windows, {"windows": len(windows), **self.stats})

    def build_index(self, text, sentences, model, settings=None, on_progress=None, cancel=None,
                    should_pause=None) -> FakeIndexReport:
        total = max(1, -(-len(text) // self.window_chars))
        first = done = self.indexed.get(text, 0)
        ended = "complete"
        try:
            while done < total:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                if should_pause is not None and should_pause():
                    ended = "paused"
                    break
                if self.index_fail_with is not None:
                    raise self.index_fail_with
                time.sleep(self.index_delay)
                done += 1
                self.indexed[text] = done
                window = WindowScore(done - 1, (done - 1) * self.window_chars, min(len(text), done * self.window_chars),
                                     0.0)
                if on_progress:
                    on_progress(Progress("indexing", done, total, 1000.0, (total - done) * self.eta_per_window, window,
                                         "Indexing the document"))
            if done >= total:
                ended = self._read_closely(text, on_progress, should_pause) or ended
        except BaseException as exc:
            ended = type(exc).__name__
            raise
        finally:
            self.index_runs.append((first, done, ended))
        complete = done >= total and self.deep_done.get(text, 0) >= self.deep_steps
        return FakeIndexReport(Path("fake-index"), complete, done, total, len(text) // 4, 0.1,
                               (done - first) * 50, done * 40_000)

    def _read_closely(self, text, on_progress, should_pause) -> str:
        """The deep embeddings' steps after the windows; "paused" when asked to stop between two."""
        while self.deep_done.get(text, 0) < self.deep_steps:
            if should_pause is not None and should_pause():
                return "paused"
            time.sleep(self.index_delay)
            self.deep_done[text] = self.deep_done.get(text, 0) + 1
            if on_progress:
                on_progress(Progress("deep embedding", self.deep_done[text], self.deep_steps, 20.0,
                                     (self.deep_steps - self.deep_done[text]) * 60.0, None, "Reading closely"))
        return ""

    def index_status(self, text, sentences, model, settings=None) -> tuple[int, int, bool]:
        total = max(1, -(-len(text) // self.window_chars))
        done = self.indexed.get(text, 0)
        return done * 50, total * 50, done >= total

    def prepare_vocabulary(self, check, on_progress=None) -> int:
        done, ended = 0, "complete"
        try:
            while done < self.vector_batches:
                check()
                if on_progress:
                    on_progress(Progress("vectors", done, self.vector_batches, message="Preparing the word vectors"))
                time.sleep(self.vector_delay)
                done += 1
        except BaseException as exc:
            ended = type(exc).__name__
            raise
        finally:
            self.vector_batches -= done
            self.vector_runs.append((done, ended))
        return done * 1024

    def lexical_index(self, text, sentences) -> object:
        self.lexical_calls += 1
        return object()

    def _scan(self, text, question, on_progress, cancel) -> list[WindowScore]:
        total = max(1, -(-len(text) // self.window_chars))
        windows = []
        for i in range(total):
            if cancel is not None:
                cancel.raise_if_cancelled()
            if self.delay:
                time.sleep(self.delay)
            start, end = i * self.window_chars, min(len(text), (i + 1) * self.window_chars)
            score = 1.0 if any(w.lower() in text[start:end].lower() for w in question.split()[-1:]) else 0.1
            window = WindowScore(i, start, end, score)
            windows.append(window)
            if on_progress:
                on_progress(Progress("retrieving", i + 1, total, 500.0, (total - i - 1) * self.delay, window))
        return windows

    def engine(self, **overrides):
        from app.ui.workers import Engine

        calls = {"load_model": self.load_model, "answer": self.answer, "build_index": self.build_index,
                 "index_status": self.index_status, "lexical_index": self.lexical_index,
                 "prepare_vocabulary": self.prepare_vocabulary}
        return Engine(**{**calls, **overrides})


@pytest.fixture
def fake_core() -> FakeCore:
    return FakeCore()


def make_window(qtbot, engine, tmp_path: Path):
    from app.history import HistoryStore
    from app.ui.main_window import MainWindow

    window = MainWindow(engine=engine, history=HistoryStore(tmp_path / "history.sqlite3"))
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    qtbot.waitExposed(window)
    return window


def open_and_wait(qtbot, window, path: Path, timeout: int = 30000):
    with qtbot.waitSignal(window.documentLoaded, timeout=timeout):
        window.open_file(path)
    return window.document


def ask_and_wait(qtbot, window, question: str, timeout: int = 60000):
    with qtbot.waitSignal(window.answerFinished, timeout=timeout) as blocker:
        window.panel.set_question(question)
        window.panel.request_ask()
    return blocker.args[0]
