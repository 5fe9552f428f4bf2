"""Asking: one question at a time in the model pool, with the heat strip filling in, the answer streaming,
progress in the status bar, cancel, and errors. A new question silences the one before."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Signal

from app.retrieval.types import Progress, RetrievalSettings
from app.ui.answer_panel import AnswerPanel
from app.ui.controllers.documents import OpenDocument
from app.ui.document_area import DocumentArea
from app.ui.runtime import freeze_long_lived
from app.ui.status_bar import StatusPanel
from app.ui.workers import (
    AskJob,
    AskOutcome,
    Engine,
    FailureKind,
    JobFailure,
    JobRunner,
    ModelChoice,
    ModelHolder,
    ModelLoaded,
)


def method_summary(stats: dict) -> str:
    """A few words for the status bar on how the answer was found."""
    if stats.get("mode") == "indexed":
        return "fast follow-up from the attention index"
    return f"full pass over {stats.get('windows', 0):,} windows"


def method_note(stats: dict) -> str:
    """One sentence under the answer saying which method answered it."""
    if stats.get("mode") == "indexed":
        focus = int(stats.get("focus_tokens", 0))
        total = max(int(stats.get("document_tokens", 0)), 1)
        return (f"Fast follow-up: the whole document was scored against its attention index, then its best "
                f"{focus:,} tokens ({focus / total:.1%}) were read again in full. "
                "Question ▸ Ask with a Full Pass reads everything.")
    note = f"Full pass: all {stats.get('windows', 0):,} windows were read."
    if stats.get("index_bytes"):
        note += " The attention index is saved, so follow-up questions take seconds."
    return note


class AskController(QObject):
    answered = Signal(object)  # AskOutcome
    failed = Signal(object)  # JobFailure
    cancelled = Signal()
    modelLoaded = Signal(object)  # ModelLoaded
    busyChanged = Signal()

    def __init__(
        self,
        runner: JobRunner,
        engine: Engine,
        holder: ModelHolder,
        area: DocumentArea,
        panel: AnswerPanel,
        status: StatusPanel,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner, self.engine, self.holder = runner, engine, holder
        self.area, self.panel, self.status = area, panel, status
        self.job: AskJob | None = None
        self._started = 0.0

    @property
    def busy(self) -> bool:
        return self.job is not None

    def ask(self, document: OpenDocument, question: str, choice: ModelChoice, settings: RetrievalSettings) -> None:
        """Start answering `question` about `document` (the question before is silenced)."""
        self.detach()
        job = AskJob(self.engine, self.holder, choice, document.document, question, settings)
        job.signals.progress.connect(self._on_progress)
        job.signals.modelLoaded.connect(self._on_model_loaded)
        job.signals.token.connect(self.panel.append_token)
        job.signals.succeeded.connect(self._on_answer)
        job.signals.failed.connect(self._on_failed)
        job.signals.cancelled.connect(self._on_cancelled)
        for signal in (job.signals.succeeded, job.signals.failed, job.signals.cancelled):
            signal.connect(lambda *_, j=job: self._forget(j))
        self.job = job
        self._started = time.monotonic()
        self.panel.start_answer()
        self.area.begin_run()
        self.status.show_message("Starting…")
        self.runner.start_model_job(job)
        self.busyChanged.emit()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def detach(self) -> None:
        """Silence the question in progress, if any."""
        if self.job is not None:
            self.job.detach()
            self._forget(self.job)

    def _forget(self, job: AskJob) -> None:
        if job is self.job:
            self.job = None
            self.busyChanged.emit()

    def _on_model_loaded(self, loaded: ModelLoaded) -> None:
        self.status.set_model(loaded.label)
        freeze_long_lived()  # once per load: the model's objects live as long as it is loaded
        self.modelLoaded.emit(loaded)

    def _on_progress(self, progress: Progress) -> None:
        self.status.show_progress(progress)
        if progress.window is not None:
            self.area.add_window(progress.window, progress.total)

    def _on_answer(self, outcome: AskOutcome) -> None:
        result = outcome.result
        self.panel.set_answer(result.answer)
        seconds = time.monotonic() - self._started
        self.status.done(
            f"Answered in {seconds:.1f} s · {len(result.passages)} passages · {method_summary(result.stats)}"
        )
        self.panel.set_method(method_note(result.stats))
        self.status.set_model(f"{outcome.model_name} on {outcome.device}" if outcome.device else outcome.model_name)
        self.answered.emit(outcome)

    def _on_failed(self, failure: JobFailure) -> None:
        self.status.done("The question could not be answered")
        self.area.strip.set_expected(len(self.area.strip.windows))
        if failure.kind is FailureKind.MODEL:
            self.holder.forget()
        self.failed.emit(failure)

    def _on_cancelled(self) -> None:
        self.status.done("Cancelled")
        self.panel.show_status("Cancelled.")
        self.cancelled.emit()
