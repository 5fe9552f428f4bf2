"""Jobs of the documents pool: open a document (probe, extract, hash) and warm the document layer up."""

from __future__ import annotations

import time
from pathlib import Path

from app.retrieval.types import Progress
from app.ui.workers.engine import Engine
from app.ui.workers.jobs import Job
from app.ui.workers.messages import DocumentLoaded, FailureKind, classify


class LoadDocumentJob(Job):
    """Probe the file (so page 1 can show at once), then extract it with progress, then hash it."""

    title = "Could not open the document"

    def __init__(self, engine: Engine, path: Path, password: str | None = None, ocr: bool = False) -> None:
        super().__init__()
        self.engine = engine
        self.path = Path(path)
        self.password = password
        self.ocr = ocr

    def work(self) -> DocumentLoaded:
        began = time.monotonic()
        try:
            self.signals.post("probed", self.engine.probe_document(self.path))
        except Exception as exc:  # the full load below reports the real problem
            if classify(exc) in (FailureKind.PASSWORD_NEEDED, FailureKind.WRONG_PASSWORD):
                raise
        cancelled = lambda: self.token.cancelled  # noqa: E731
        document = self.engine.load_document(
            self.path, password=self.password, on_progress=self._on_pages, cancel=cancelled, ocr=self.ocr
        )
        self.token.raise_if_cancelled()
        key = self.engine.document_key(self.path, cancelled)
        return DocumentLoaded(document, key, time.monotonic() - began)

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
