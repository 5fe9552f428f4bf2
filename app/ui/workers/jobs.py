"""Qt glue: run core work off the GUI thread as jobs whose signals always arrive on the GUI thread.

The core is callback based: it reports progress through ``on_progress``/``on_token`` callbacks, is
stopped through a ``CancelToken`` and returns a value or raises. So each piece of work is a
:class:`Job`, a ``QRunnable`` paired with a :class:`JobSignals` bridge object:

* Jobs run in a ``QThreadPool``: one single-thread pool for the model (loading, retrieval and
  generation share one model and must never overlap) and one for documents (a file can load while a
  question is being answered). A question preempts a *background* model job (see
  :meth:`JobRunner.start_model_job`) and runs before any that wait.
* Callbacks in the worker thread emit a private signal with an explicit ``QueuedConnection`` into the
  bridge, which lives in the GUI thread and re-emits typed public signals there. So every public signal
  is delivered on the GUI thread, and ``detach()`` makes a superseded job silent at once: late progress
  of a cancelled run never paints over a new run.
* Exceptions never escape: cancellation becomes ``cancelled``; anything else becomes ``failed`` with a
  :class:`~app.ui.workers.messages.JobFailure`.
* ``cancel()`` is honoured within about a second whatever the core does: if the worker has not
  reported by then, the job reports ``cancelled`` itself and drops whatever the worker returns later.

superqt's ``thread_worker`` was considered: it fits generator-style code; wrapping this callback core
into it would need the same bridge plus generator plumbing, and it has no single-thread pools.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, QTimer, Signal, Slot

from app.retrieval.types import CancelToken, Progress
from app.ui.workers.messages import failure_from, is_cancellation

CANCEL_GRACE_MS = 800  # after cancel(), a worker that has not stopped by then is left behind
_NO_PAYLOAD = object()  # marks events of argument-less signals (a result may well be None)
_OUTCOMES = {"succeeded", "failed", "cancelled"}
_RETIRED_POOLS: list[QThreadPool] = []  # pools of closed windows: destroying a busy pool would block


class JobSignals(QObject):
    """The GUI-thread side of a job. Public signals below are always emitted on the GUI thread.

    Exactly one of ``succeeded``, ``failed`` and ``cancelled`` arrives (none once detached), and
    ``finished`` always arrives last, when the worker has returned.
    """

    started = Signal()
    probed = Signal(object)  # app.documents.DocumentInfo
    progress = Signal(object)  # app.retrieval.types.Progress
    modelLoaded = Signal(object)  # ModelLoaded
    token = Signal(str)
    succeeded = Signal(object)  # the job's result (DocumentLoaded, AskOutcome, ...)
    failed = Signal(object)  # JobFailure
    cancelled = Signal()
    finished = Signal()

    _event = Signal(str, object)  # emitted from the worker thread

    def __init__(self) -> None:
        super().__init__()
        self.detached = False
        self.outcome_sent = False
        self._event.connect(self._relay, Qt.ConnectionType.QueuedConnection)

    @Slot(str, object)
    def _relay(self, kind: str, payload: object) -> None:
        if kind == "finished":
            self.finished.emit()
            return
        if self.detached or (kind in _OUTCOMES and self.outcome_sent):
            return
        if kind in _OUTCOMES:
            self.outcome_sent = True
        signal = getattr(self, kind)
        if payload is _NO_PAYLOAD:
            signal.emit()
        else:
            signal.emit(payload)

    def post(self, kind: str, payload: object = _NO_PAYLOAD) -> None:
        """Send an event from any thread; it arrives on the GUI thread. Once the bridge is gone (its window
        closed and Qt deleted it while the worker went on) the event is dropped: nobody is listening."""
        try:
            self._event.emit(kind, payload)
        except RuntimeError:  # "Signal source has been deleted"
            self.detached = True

    def give_up(self) -> None:
        """GUI thread: report ``cancelled`` now and drop what the worker sends later."""
        if self.detached or self.outcome_sent:
            return
        self.outcome_sent = True
        self.detached = True
        self.cancelled.emit()


class Job(QRunnable):
    """One unit of core work. Subclasses implement :meth:`work`, which returns the result."""

    title = "Error"
    background = False  # a long job a question may preempt (see JobRunner.start_model_job)

    def __init__(self) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.signals = JobSignals()
        self.token = CancelToken()
        self._last_progress = 0.0

    # GUI thread -----------------------------------------------------------------------------------
    def cancel(self) -> None:
        """Ask the worker to stop; ``cancelled`` arrives within about a second in any case."""
        if self.token.cancelled:
            return
        self.token.cancel()
        QTimer.singleShot(CANCEL_GRACE_MS, self.signals, self.signals.give_up)

    def detach(self) -> None:
        """Cancel and silence: nothing but ``finished`` arrives from this job any more."""
        self.token.cancel()
        self.signals.detached = True

    def preempt(self) -> None:
        """A question needs the model: stop (a resumable background job may override this to pause)."""
        self.cancel()

    @property
    def done(self) -> bool:
        """The outcome has been delivered (or the job was silenced)."""
        return self.signals.outcome_sent or self.signals.detached

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
        if is_cancellation(exc) or self.token.cancelled:
            self.signals.post("cancelled")
        else:
            self.signals.post("failed", failure_from(exc, self.title))

    def emit_progress(self, progress: Progress, min_interval: float = 0.0) -> None:
        """Forward a progress report; with ``min_interval`` reports are thinned (last one always passes)."""
        now = time.monotonic()
        last = progress.total > 0 and progress.done >= progress.total
        if min_interval and not last and progress.window is None and now - self._last_progress < min_interval:
            return
        self._last_progress = now
        self.signals.post("progress", progress)


class JobRunner(QObject):
    """Starts jobs in the right pool and keeps them alive until they have finished."""

    FOREGROUND, BACKGROUND = 1, 0  # pool priorities: a question runs before waiting background jobs

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model_pool = QThreadPool()
        self.model_pool.setMaxThreadCount(1)
        self.document_pool = QThreadPool()
        self.document_pool.setMaxThreadCount(1)
        self._live: set[Job] = set()

    def start(self, job: Job, pool: QThreadPool, priority: int = FOREGROUND) -> Job:
        self._live.add(job)
        job.signals.finished.connect(lambda: self._live.discard(job))
        pool.start(job, priority)
        return job

    def start_model_job(self, job: Job) -> Job:
        """Queue a job that uses the model. A foreground job preempts running background jobs; it is queued
        first, so that a waiting background job cannot take the thread the preempted one gives up."""
        if job.background:
            return self.start(job, self.model_pool, self.BACKGROUND)
        preempted = [other for other in self._live if other.background and not other.done]
        self.start(job, self.model_pool, self.FOREGROUND)
        for other in preempted:
            other.preempt()
        return job

    def start_document_job(self, job: Job) -> Job:
        return self.start(job, self.document_pool)

    @property
    def busy(self) -> bool:
        return bool(self._live)

    def shutdown(self) -> None:
        """Silence and cancel every job without waiting (closing the window must never block).

        The pools are kept alive for the rest of the process: destroying a pool waits for its jobs.
        """
        for job in list(self._live):
            job.detach()
        for pool in (self.model_pool, self.document_pool):
            if pool not in _RETIRED_POOLS:
                _RETIRED_POOLS.append(pool)

    def wait(self, timeout_ms: int) -> bool:
        """Wait up to `timeout_ms` for the workers to return; True when they all have."""
        deadline = time.monotonic() + timeout_ms / 1000
        for pool in (self.model_pool, self.document_pool):
            if not pool.waitForDone(max(0, int((deadline - time.monotonic()) * 1000))):
                return False
        return True
