"""Indexing the open document in the background: its keyword index at once (documents pool) and its
attention index window by window (model pool), shown on the heat strip and by the status bar's indicator.

A question pauses the build (the runner preempts background jobs) and a new job resumes it when the
question ends; opening another document cancels it; Stop Indexing cancels it too, and the next opening of
the document resumes it. A failure is said in the status bar, never in a dialog, and questions go on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from app.retrieval.types import Progress
from app.ui.app_settings import AppSettings
from app.ui.controllers.documents import OpenDocument
from app.ui.document_area import DocumentArea
from app.ui.index_indicator import IndexState
from app.ui.status_bar import StatusPanel, describe
from app.ui.workers import (
    Engine,
    FailureKind,
    IndexJob,
    IndexOutcome,
    JobFailure,
    JobRunner,
    LexicalIndexJob,
    ModelHolder,
    ModelLoaded,
    WordVectorsJob,
)


def failure_notice(failure: JobFailure) -> str:
    """One sentence for the status bar (and the indicator's tooltip) on why indexing stopped."""
    if failure.kind is FailureKind.STORAGE:
        return f"The attention index could not be saved: {failure.message}"
    if failure.kind is FailureKind.INDEX_BUSY:
        return "Another InfiniRetri window is indexing this document; this one uses what is indexed so far."
    if failure.kind is FailureKind.MODEL:
        return f"Indexing stopped: the model could not be loaded. {failure.message}"
    return f"Indexing stopped: {failure.message}"


class IndexingController(QObject):
    stateChanged = Signal(object)  # IndexState
    completed = Signal(object)  # IndexOutcome: the open document is fully indexed
    failed = Signal(object)  # JobFailure of the attention index or the keyword index

    def __init__(
        self,
        runner: JobRunner,
        engine: Engine,
        holder: ModelHolder,
        area: DocumentArea,
        status: StatusPanel,
        settings: Callable[[], AppSettings],
        question_running: Callable[[], bool],
        model_loaded: Callable[[ModelLoaded], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner, self.engine, self.holder = runner, engine, holder
        self.area, self.status = area, status
        self.settings, self.question_running, self.model_loaded = settings, question_running, model_loaded
        self.document: OpenDocument | None = None
        self.job: IndexJob | None = None
        self.lexical_job: LexicalIndexJob | None = None
        self.state = IndexState()

    @property
    def running(self) -> bool:
        """A build is under way (or waits to resume after a question)."""
        return self.state.can_stop

    # what the window tells it ---------------------------------------------------------------------
    def prepare_word_vectors(self) -> None:
        """As the app starts (unless background indexing is off): the word vectors of the whole vocabulary,
        once per machine, so the first question on the first document is answered sooner."""
        if not self.settings().index_on_open:
            return
        job = WordVectorsJob(self.engine)
        job.signals.progress.connect(self._on_word_vectors_progress)
        job.signals.succeeded.connect(self._on_word_vectors)
        job.signals.failed.connect(lambda failure: self.status.show_message(
            f"The word vectors could not be prepared ({failure.message}); questions still work."))
        self.runner.start_model_job(job)

    def start(self, document: OpenDocument) -> None:
        """A document opened: build its keyword index, and its attention index unless that is off."""
        self.close_document()
        self.document = document
        self.lexical_job = LexicalIndexJob(self.engine, document.document)
        self.lexical_job.signals.failed.connect(self._on_lexical_failed)
        self.runner.start_document_job(self.lexical_job)
        self._begin()

    def close_document(self) -> None:
        """Another document opens (or none): cancel and silence the builds of this one."""
        for job in (self.job, self.lexical_job):
            if job is not None:
                job.detach()
        self.job, self.lexical_job, self.document = None, None, None
        self._set(IndexState())

    def stop(self) -> None:
        """Stop Indexing: the build stops after the window in progress and keeps what is done."""
        if not self.running:
            return
        if self.job is not None:
            self.job.cancel()
        self._set(replace(self.state, phase="stopped", eta_seconds=None))

    def question_changed(self) -> None:
        """A question started (the runner pauses the build) or ended (the build resumes)."""
        if self.question_running():
            if self.job is not None and self.state.phase in ("starting", "running"):
                self._set(replace(self.state, phase="paused", eta_seconds=None))
        else:
            QTimer.singleShot(0, self.resume)

    def resume(self) -> None:
        """Start the paused build again once no question runs; it continues where it stopped."""
        if self.document is None or self.job is not None or self.state.phase != "paused":
            return
        if not self.question_running():
            self._start_index()

    def settings_changed(self, index_changed: bool) -> None:
        """New settings: another model or window size means another index, built anew for the open document."""
        if self.document is None:
            return
        if index_changed:
            if self.job is not None:
                self.job.detach()
                self.job = None
            self.area.strip.set_indexed_until(0)
            self._begin()
        elif self.state.phase == "off" and self.settings().index_on_open:
            self._start_index()

    # jobs -----------------------------------------------------------------------------------------
    def _begin(self) -> None:
        if self.settings().index_on_open:
            self._set(IndexState("starting"))
            self._start_index()
        else:
            self._set(IndexState("off"))

    def _start_index(self) -> None:
        assert self.document is not None
        settings = self.settings()
        job = IndexJob(self.engine, self.holder, settings.model_choice(), self.document.document, settings.retrieval())
        job.signals.progress.connect(self._on_progress)
        job.signals.modelLoaded.connect(self.model_loaded)
        job.signals.succeeded.connect(self._on_outcome)
        job.signals.failed.connect(self._on_failed)
        job.signals.cancelled.connect(lambda: self._set(replace(self.state, phase="stopped", eta_seconds=None)))
        for signal in (job.signals.succeeded, job.signals.failed, job.signals.cancelled):
            signal.connect(lambda *_, j=job: self._forget(j))
        self.job = job
        self._set(replace(self.state, phase="running" if self.state.total else "starting"))
        self.runner.start_model_job(job)

    def _forget(self, job: IndexJob) -> None:
        if job is self.job:
            self.job = None

    def _on_progress(self, progress: Progress) -> None:
        if self.state.phase not in ("starting", "running"):
            return  # paused or stopped: the last reports of the window in progress change nothing
        if progress.stage in ("embedding", "deep embedding"):
            step = "deep" if progress.stage == "deep embedding" else "sentences"
            self._set(IndexState("running", progress.done, progress.total, progress.eta_seconds, step=step))
            return
        if progress.stage != "indexing":
            self._set(replace(self.state, phase="starting", message=describe(progress)))
            return
        self._set(IndexState("running", progress.done, progress.total, progress.eta_seconds,
                             progress.tokens_per_second))
        if progress.window is not None:
            self.area.strip.set_indexed_until(progress.window.end)

    def _on_outcome(self, outcome: IndexOutcome) -> None:
        report: Any = outcome.report
        if outcome.complete:
            self._set(IndexState("complete", report.windows, report.windows, index_bytes=int(report.index_bytes)))
            if self.document is not None:
                self.area.strip.set_indexed_until(len(self.document.document.text), complete=True)
            self.completed.emit(outcome)
            return
        done = report.windows_done if report is not None else self.state.done
        total = report.windows if report is not None else self.state.total
        phase = "paused" if outcome.paused and self.state.phase != "stopped" else "stopped"
        self._set(IndexState(phase, done, total))
        if phase == "paused":
            QTimer.singleShot(0, self.resume)

    def _on_failed(self, failure: JobFailure) -> None:
        notice = failure_notice(failure)
        self._set(replace(self.state, phase="failed", eta_seconds=None, message=notice))
        self.status.show_message(notice)
        self.failed.emit(failure)

    def _on_lexical_failed(self, failure: JobFailure) -> None:
        self.status.show_message(f"The keyword index could not be built: {failure.message}")
        self.failed.emit(failure)

    def _on_word_vectors_progress(self, progress: Progress) -> None:
        if self.document is None and progress.total:
            percent = 100 * progress.done // progress.total
            self.status.show_message(f"{progress.message}: {percent}%")

    def _on_word_vectors(self, computed: int) -> None:
        if computed and self.document is None:
            self.status.show_message("The word vectors are ready: first answers come sooner.")

    def _set(self, state: IndexState) -> None:
        self.state = state
        self.status.index.show_state(state)
        self.stateChanged.emit(state)
