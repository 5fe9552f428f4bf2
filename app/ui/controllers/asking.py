"""Asking: one question at a time in the model pool, with the heat strip filling in, the answer streaming,
progress in the status bar, cancel, and errors. A new question silences the one before."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Signal

from app.retrieval.types import Progress, RetrievalSettings
from app.ui.answer_panel import AnswerPanel
from app.ui.controllers.documents import OpenDocument
from app.ui.controllers.job_slot import JobSlotController
from app.ui.document_area import DocumentArea
from app.ui.method_notes import method_note, method_summary
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


class AskController(JobSlotController):
    answered = Signal(object)  # AskOutcome
    failed = Signal(object)  # JobFailure
    cancelled = Signal()
    modelLoaded = Signal(object)  # ModelLoaded

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
        self._started = 0.0
        self._mode = ""  # the mode asked for: "auto" or "full"

    def ask(self, document: OpenDocument, question: str, choice: ModelChoice, settings: RetrievalSettings) -> None:
        """Start answering `question` about `document` (the question before is silenced)."""
        self.detach()
        job = AskJob(self.engine, self.holder, choice, document.document, question, settings)
        job.signals.progress.connect(self._on_progress)
        job.signals.modelLoaded.connect(self.note_model_loaded)
        job.signals.token.connect(self.panel.append_token)
        job.signals.succeeded.connect(self._on_answer)
        job.signals.failed.connect(self._on_failed)
        job.signals.cancelled.connect(self._on_cancelled)
        self._started = time.monotonic()
        self._mode = settings.mode
        self.panel.start_answer()
        self.area.begin_run()
        self.status.show_message("Starting…")
        self._hold(job)
        self.runner.start_model_job(job)

    def note_model_loaded(self, loaded: ModelLoaded) -> None:
        """A job loaded the model (this one or the background indexing)."""
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
        self.panel.set_answer_source(str(result.stats.get("answer_source", "model")),
                                     str(result.stats.get("quoted_because", "unhelpful")))
        seconds = time.monotonic() - self._started
        self.status.done(
            f"Answered in {seconds:.1f} s · {len(result.passages)} passages · {method_summary(result.stats)}"
        )
        self.panel.set_method(method_note(result.stats, self._mode))
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
