"""Qt glue: run the core (document extraction, model loading, retrieval, generation) off the GUI thread.

Design
------
The core is callback based: it reports progress through ``on_progress``/``on_token`` callbacks, is
stopped through a ``CancelToken`` (or a ``cancel()`` callable) and returns a value or raises. So each
piece of work is a :class:`Job`, a ``QRunnable`` paired with a :class:`JobSignals` bridge object:

* The job runs in a ``QThreadPool``: one single-thread pool for the model (loading, retrieval and
  generation share one model and must never overlap) and one for documents (a file can load while a
  question is being answered). Threads are reused, and a new question simply queues behind a
  cancelled one, which returns within about one window.
* Callbacks in the worker thread emit a private signal with an explicit ``QueuedConnection`` into the
  bridge, which lives in the GUI thread and re-emits public signals there. So every public signal is
  delivered on the GUI thread, whatever the receiver is (a lambda included), and ``detach()`` makes a
  superseded job silent at once: late progress of a cancelled run can never paint over a new run.
* Exceptions never escape: ``Cancelled``/``DocumentCancelled`` become ``cancelled``; anything else
  becomes ``failed`` with a :class:`JobFailure` whose ``message`` is readable by a person.

superqt's ``thread_worker`` was considered: it fits generator style code; wrapping this callback core
into it would need the same bridge plus generator plumbing, and its workers cannot carry extra signals
without subclassing. Plain ``QThread`` per job would create a thread per question.

The core functions are injected through :class:`Engine` (defaults import the real core lazily), so
tests can drive the whole GUI with a fake or tiny model.
"""

from __future__ import annotations

import ctypes
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from app.retrieval.types import AnswerResult, Cancelled, CancelToken, Progress, RetrievalSettings

# --------------------------------------------------------------------------------------------- PySide6 guard

# PySide6 6.12.0 hands out None (from every void method) and True (from Signal.emit) without taking a
# reference. On Python 3.12+ those objects are immortal and nothing happens; on 3.11 each call takes one
# reference away and the app dies after a few minutes with "Fatal Python error: none_dealloc" (or
# bool_dealloc). PySide6 6.11 is not affected. When the leak is measured here, the three singletons
# get a reference count no session can use up, which is what Python 3.12 does for them anyway.


class _Probe(QObject):
    ping = Signal()


def pyside_leaks_singletons() -> bool:
    probe = _Probe()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(16):
        probe.setObjectName("probe")
        probe.ping.emit()
    return sys.getrefcount(None) <= none_before - 16 or sys.getrefcount(True) <= true_before - 16


_guard_applied = False


def guard_against_pyside_refcount_leak() -> bool:
    """Make None/True/False effectively immortal if this PySide6 leaks references to them (once).

    Returns whether the guard is in place. Called when this module is imported, which every part of
    the GUI does before it does any work.
    """
    global _guard_applied
    if _guard_applied:
        return True
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython" or not pyside_leaks_singletons():
        return False
    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value += 1 << 40  # ob_refcnt, the first field
    _guard_applied = True
    return True


guard_against_pyside_refcount_leak()


# --------------------------------------------------------------------------------------------- engine


def _load_document(*args: Any, **kwargs: Any) -> Any:
    from app.documents import load_document

    return load_document(*args, **kwargs)


def _probe_document(path: Path) -> Any:
    from app.documents import probe_document

    return probe_document(path)


def _load_model(spec: str, device: str, on_progress: Callable[[Progress], None] | None) -> Any:
    from app.retrieval.models import load_model

    return load_model(spec, device=device, on_progress=on_progress)


def _answer(*args: Any, **kwargs: Any) -> AnswerResult:
    from app.retrieval.pipeline import answer

    return answer(*args, **kwargs)


def _warm_up() -> None:
    import app.documents  # noqa: F401 - PyMuPDF's import alone takes ~0.7 s


def _document_key(path: Path) -> str:
    from app.history import document_key

    return document_key(path)


@dataclass
class Engine:
    """The core calls the GUI uses; replace any of them in tests."""

    load_document: Callable[..., Any] = _load_document
    probe_document: Callable[[Path], Any] = _probe_document
    load_model: Callable[[str, str, Callable[[Progress], None] | None], Any] = _load_model
    answer: Callable[..., AnswerResult] = _answer
    document_key: Callable[[Path], str] = _document_key
    warm_up: Callable[[], None] = _warm_up


# --------------------------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class JobFailure:
    """What went wrong, for a dialog: ``message`` is for people, ``details`` is the traceback."""

    title: str
    message: str
    exception: BaseException
    details: str = ""

    def is_a(self, class_name: str) -> bool:
        """True when the exception is (a subclass of) the core error with this class name."""
        return any(cls.__name__ == class_name for cls in type(self.exception).__mro__)


_CANCEL_NAMES = {"Cancelled", "DocumentCancelled"}


def _is_cancel(exc: BaseException) -> bool:
    return isinstance(exc, Cancelled) or any(cls.__name__ in _CANCEL_NAMES for cls in type(exc).__mro__)


def _readable(exc: BaseException) -> str:
    """Core errors carry user-readable messages; anything else gets its type name added."""
    core_error = any(cls.__name__ in {"DocumentError", "ModelLoadError"} for cls in type(exc).__mro__)
    text = str(exc).strip()
    if core_error and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --------------------------------------------------------------------------------------------- jobs


_NO_PAYLOAD = object()  # marks events of argument-less signals (a result may well be None)


class JobSignals(QObject):
    """The GUI-thread side of a job. Public signals below are always emitted on the GUI thread."""

    started = Signal()
    probed = Signal(object)  # DocumentInfo
    progress = Signal(object)  # Progress
    token = Signal(str)
    succeeded = Signal(object)
    failed = Signal(object)  # JobFailure
    cancelled = Signal()
    finished = Signal()  # always, last, even when detached

    _event = Signal(str, object)  # emitted from the worker thread

    def __init__(self) -> None:
        super().__init__()
        self.detached = False
        self._event.connect(self._relay, Qt.ConnectionType.QueuedConnection)

    @Slot(str, object)
    def _relay(self, kind: str, payload: object) -> None:
        if kind == "finished":
            self.finished.emit()
            return
        if self.detached:
            return
        signal = getattr(self, kind)
        if payload is _NO_PAYLOAD:
            signal.emit()
        else:
            signal.emit(payload)

    def post(self, kind: str, payload: object = _NO_PAYLOAD) -> None:
        """Send an event from any thread; it arrives on the GUI thread."""
        self._event.emit(kind, payload)


class Job(QRunnable):
    """One unit of core work. Subclasses implement :meth:`work`, which returns the result."""

    title = "Error"

    def __init__(self) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.signals = JobSignals()
        self.token = CancelToken()
        self._last_progress = 0.0

    # GUI thread -----------------------------------------------------------------------------------
    def cancel(self) -> None:
        self.token.cancel()

    def detach(self) -> None:
        """Cancel and silence: nothing but ``finished`` arrives from this job any more."""
        self.token.cancel()
        self.signals.detached = True

    # worker thread --------------------------------------------------------------------------------
    def run(self) -> None:
        self.signals.post("started")
        try:
            self.token.raise_if_cancelled()
            result = self.work()
            self.token.raise_if_cancelled()
        except BaseException as exc:  # every failure must reach the GUI as a signal
            self._report(exc)
        else:
            self.signals.post("succeeded", result)
        finally:
            self.signals.post("finished")

    def work(self) -> Any:
        raise NotImplementedError

    def _report(self, exc: BaseException) -> None:
        if _is_cancel(exc):
            self.signals.post("cancelled")
            return
        details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.signals.post("failed", JobFailure(self.title, _readable(exc), exc, details))

    def emit_progress(self, progress: Progress, min_interval: float = 0.0) -> None:
        """Forward a progress report; with ``min_interval`` reports are thinned (last one always passes)."""
        now = time.monotonic()
        last = progress.total > 0 and progress.done >= progress.total
        if min_interval and not last and progress.window is None and now - self._last_progress < min_interval:
            return
        self._last_progress = now
        self.signals.post("progress", progress)


# --------------------------------------------------------------------------------------------- documents


@dataclass
class LoadedDocument:
    document: Any  # app.documents.Document
    key: str  # content hash for the history
    seconds: float


class LoadDocumentJob(Job):
    """Probe the file (so page 1 can show at once), then extract it with progress."""

    title = "Could not open the document"

    def __init__(self, engine: Engine, path: Path, password: str | None = None) -> None:
        super().__init__()
        self.engine = engine
        self.path = Path(path)
        self.password = password

    def work(self) -> LoadedDocument:
        began = time.monotonic()
        try:
            self.signals.post("probed", self.engine.probe_document(self.path))
        except Exception as exc:  # the full load below reports the real problem
            if type(exc).__name__ == "EncryptedDocumentError":
                raise
        document = self.engine.load_document(
            self.path, password=self.password, on_progress=self._on_pages, cancel=lambda: self.token.cancelled
        )
        key = self.engine.document_key(self.path)
        return LoadedDocument(document, key, time.monotonic() - began)

    def _on_pages(self, done: int, total: int) -> None:
        self.emit_progress(Progress("extracting", done, total, message="Reading pages"), min_interval=0.05)


class WarmUpJob(Job):
    """Import the document layer in the background while the window is idle (first open is faster)."""

    title = "Could not start"

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine

    def work(self) -> None:
        self.engine.warm_up()


# --------------------------------------------------------------------------------------------- models


@dataclass(frozen=True)
class ModelChoice:
    spec: str = "bundled"
    device: str = "auto"


class ModelHolder:
    """Loads the model once and reuses it; a different choice (spec or device) loads anew."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._choice: ModelChoice | None = None
        self._model: Any = None

    def get(self, engine: Engine, choice: ModelChoice, on_progress: Callable[[Progress], None]) -> Any:
        with self._lock:
            if self._model is not None and self._choice == choice:
                return self._model
            self._model = None  # release the old one before loading the next
            self._choice = None
            model = engine.load_model(choice.spec, choice.device, on_progress)
            self._model, self._choice = model, choice
            return model

    def forget(self) -> None:
        """Drop the loaded model (no lock: never blocks the GUI behind a load in progress)."""
        self._model, self._choice = None, None

    @property
    def loaded(self) -> Any:
        return self._model


@dataclass
class AskOutcome:
    """A finished answer, with each passage's rectangles on the pages precomputed off the GUI thread."""

    question: str
    result: AnswerResult
    rects: list[list[tuple[int, tuple[float, float, float, float]]]] = field(default_factory=list)
    model_name: str = ""
    device: str = ""


def passage_rects(document: Any, result: AnswerResult) -> list[list[tuple[int, tuple[float, float, float, float]]]]:
    if getattr(document, "kind", "text") != "pdf":
        return [[] for _ in result.passages]
    return [list(document.rects_for(p.start, p.end)) for p in result.passages]


class AskJob(Job):
    """Load the model if needed, then retrieve and generate, streaming progress and tokens."""

    title = "Could not answer the question"

    def __init__(
        self,
        engine: Engine,
        holder: ModelHolder,
        choice: ModelChoice,
        document: Any,
        question: str,
        settings: RetrievalSettings,
    ) -> None:
        super().__init__()
        self.engine, self.holder, self.choice = engine, holder, choice
        self.document, self.question, self.settings = document, question, settings

    def work(self) -> AskOutcome:
        model = self.holder.get(self.engine, self.choice, lambda p: self.emit_progress(p, min_interval=0.05))
        self.signals.post("progress", Progress("loaded", 1, 1, message=_model_label(model, self.choice)))
        self.token.raise_if_cancelled()
        result = self.engine.answer(
            self.document.text,
            self.document.sentences,
            self.question,
            model,
            settings=self.settings,
            on_progress=self.emit_progress,
            on_token=lambda piece: self.signals.post("token", piece),
            cancel=self.token,
        )
        self.token.raise_if_cancelled()
        rects = passage_rects(self.document, result)
        return AskOutcome(self.question, result, rects, _model_name(model, self.choice), _device(model))


class LoadModelJob(Job):
    """Warm the model up ahead of the first question (e.g. after the settings changed)."""

    title = "Could not load the model"

    def __init__(self, engine: Engine, holder: ModelHolder, choice: ModelChoice) -> None:
        super().__init__()
        self.engine, self.holder, self.choice = engine, holder, choice

    def work(self) -> Any:
        return self.holder.get(self.engine, self.choice, lambda p: self.emit_progress(p, min_interval=0.05))


def _model_name(model: Any, choice: ModelChoice) -> str:
    return str(getattr(model, "name", "") or choice.spec)


def _device(model: Any) -> str:
    return str(getattr(model, "device", "") or "")


def _model_label(model: Any, choice: ModelChoice) -> str:
    device = _device(model)
    return f"{_model_name(model, choice)} on {device}" if device else _model_name(model, choice)


# --------------------------------------------------------------------------------------------- runner


class JobRunner(QObject):
    """Starts jobs in the right pool and keeps them alive until they have finished."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model_pool = QThreadPool(self)
        self.model_pool.setMaxThreadCount(1)
        self.document_pool = QThreadPool(self)
        self.document_pool.setMaxThreadCount(1)
        self._live: set[Job] = set()

    def start(self, job: Job, pool: QThreadPool) -> Job:
        self._live.add(job)
        job.signals.finished.connect(lambda: self._live.discard(job))
        pool.start(job)
        return job

    def start_model_job(self, job: Job) -> Job:
        return self.start(job, self.model_pool)

    def start_document_job(self, job: Job) -> Job:
        return self.start(job, self.document_pool)

    @property
    def busy(self) -> bool:
        return bool(self._live)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Cancel everything and wait for the pools to drain (on close)."""
        for job in list(self._live):
            job.detach()
        ok = self.model_pool.waitForDone(timeout_ms)
        return self.document_pool.waitForDone(timeout_ms) and ok
