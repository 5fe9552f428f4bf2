"""Opening documents: a background load with page 1 previewed at once, the password prompt, progress,
cancel and errors. At most one load runs; opening another file silences the previous one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.ui.controllers.job_slot import JobSlotController
from app.ui.document_area import DocumentArea
from app.ui.status_bar import StatusPanel
from app.ui.workers import DocumentLoaded, Engine, FailureKind, JobFailure, JobRunner, LoadDocumentJob

MAX_WARNINGS = 5  # listed in the notice; the rest are counted
PasswordPrompt = Callable[[str, bool], "str | None"]  # (file name, wrong password?) -> password or None


@dataclass(frozen=True)
class OpenDocument:
    """The document on screen and what identifies it."""

    document: Any  # app.documents.Document
    key: str  # content hash, the history's key
    path: Path
    password: str | None = None


class DocumentController(JobSlotController):
    opening = Signal(object)  # Path: a load started, the previous document is gone
    probed = Signal(object)  # app.documents.DocumentInfo of the file being opened
    opened = Signal(object)  # OpenDocument
    failed = Signal(object)  # JobFailure, for the window to show (password problems are handled here)
    warned = Signal(str)  # the document opened, but parts of it could not be read

    def __init__(
        self,
        runner: JobRunner,
        engine: Engine,
        area: DocumentArea,
        status: StatusPanel,
        ask_password: PasswordPrompt,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner, self.engine, self.area, self.status = runner, engine, area, status
        self.ask_password = ask_password
        self.current: OpenDocument | None = None
        self.path: Path | None = None  # the file being opened or open
        self.password: str | None = None

    def open_file(self, path: str | Path, password: str | None = None, ocr: bool = False) -> None:
        """Load a document in the background; a load in progress is silenced."""
        self.detach()
        self.path, self.password, self.current = Path(path), password, None
        self.area.show_message(f"Opening {self.path.name}…")
        self.opening.emit(self.path)
        job = LoadDocumentJob(self.engine, self.path, password, ocr)
        job.signals.probed.connect(self._on_probed)
        job.signals.progress.connect(self.status.show_progress)
        job.signals.succeeded.connect(self._on_loaded)
        job.signals.failed.connect(self._on_failed)
        job.signals.cancelled.connect(self._on_cancelled)
        self._hold(job)
        self.runner.start_document_job(job)
        self.status.show_message(f"Opening {self.path.name}{' with text recognition' if ocr else ''}…")

    def _on_probed(self, info: Any) -> None:
        if getattr(info, "needs_password", False) and not self.password:
            return  # the password dialog comes first
        self.probed.emit(info)
        readable = getattr(info, "path", None) or self.path  # a compressed file's unpacked copy
        if getattr(info, "kind", "") == "pdf" and readable is not None:
            self.area.preview_pdf(readable, int(getattr(info, "page_count", 1) or 1), self.password)

    def _on_loaded(self, loaded: DocumentLoaded) -> None:
        assert self.path is not None
        self.current = OpenDocument(loaded.document, loaded.key, self.path, self.password)
        self.area.show_document(loaded.document, self.password)
        pages = len(loaded.document.pages)
        what = f"{pages:,} pages" if pages else f"{len(loaded.document.text):,} characters"
        warnings = list(getattr(loaded.document, "warnings", []))
        problems = " (with problems)" if warnings else ""
        self.status.done(f"Opened {self.path.name}: {what} in {loaded.seconds:.1f} s{problems}")
        self.opened.emit(self.current)
        if warnings:
            self.warned.emit(_listed(warnings))

    def _on_failed(self, failure: JobFailure) -> None:
        name = self.path.name if self.path else "the file"
        if failure.kind in (FailureKind.PASSWORD_NEEDED, FailureKind.WRONG_PASSWORD) and self.path is not None:
            password = self.ask_password(name, failure.kind is FailureKind.WRONG_PASSWORD)
            if password:
                self.open_file(self.path, password)
                return
        self.area.show_message(f"Could not open {name}.\n\n{failure.message}")
        self.status.done(f"Could not open {name}")
        self.failed.emit(failure)

    def _on_cancelled(self) -> None:
        name = self.path.name if self.path else "the file"
        self.area.show_message(f"Opening {name} was cancelled.")
        self.status.done("Opening cancelled")


def _listed(warnings: list[str]) -> str:
    """The first few warnings, one a line, and how many more there are."""
    lines = warnings[:MAX_WARNINGS]
    if len(warnings) > MAX_WARNINGS:
        lines.append(f"… and {len(warnings) - MAX_WARNINGS} more.")
    return "\n".join(lines)
