"""The jobs that index in the background: the open document's attention index (model pool; a question
pauses it and a later job resumes it), its keyword index (documents pool), and once per machine, as the app
starts, the word vectors of the whole vocabulary (model pool; a question stops it)."""

from __future__ import annotations

import threading
import time
from typing import Any

from app.retrieval.types import Progress, RetrievalSettings
from app.ui.workers.engine import Engine
from app.ui.workers.jobs import Job
from app.ui.workers.messages import IndexOutcome, ModelLoaded
from app.ui.workers.model_holder import ModelChoice, ModelHolder, WaitPaused

PROGRESS_INTERVAL = 0.25  # seconds between progress reports (the last one always goes)


class IndexJob(Job):
    """Get the model (loading it if needed), then build or resume the document's attention index.

    `preempt()` pauses: the build stops after the window in progress, keeps what is done and the job
    succeeds with `IndexOutcome(paused=True)`. `cancel()` stops it the same way, reported as cancelled.
    """

    title = "Could not index the document"
    background = True

    def __init__(
        self, engine: Engine, holder: ModelHolder, choice: ModelChoice, document: Any, settings: RetrievalSettings
    ) -> None:
        super().__init__()
        self.engine, self.holder, self.choice = engine, holder, choice
        self.document, self.settings = document, settings
        self._pause = threading.Event()
        self._last_report = 0.0

    def preempt(self) -> None:
        """A question needs the model: stop after the window in progress, keeping what is done."""
        self._pause.set()

    @property
    def paused(self) -> bool:
        return self._pause.is_set()

    def work(self) -> IndexOutcome:
        try:
            model, fresh = self.holder.get(self.engine, self.choice, self._progress, self.token, self._pause.is_set)
        except WaitPaused:
            return IndexOutcome(None, paused=True)
        if fresh:
            self.signals.post("modelLoaded", ModelLoaded.of(model, self.choice.spec))
        self.token.raise_if_cancelled()
        if self._pause.is_set():
            return IndexOutcome(None, paused=True)
        report = self.engine.build_index(
            self.document.text,
            self.document.sentences,
            model,
            settings=self.settings,
            on_progress=self._progress,
            cancel=self.token,
            should_pause=self._pause.is_set,
        )
        return IndexOutcome(report, paused=not report.complete and self._pause.is_set())

    def _progress(self, progress: Progress) -> None:
        """Forward at most one report every PROGRESS_INTERVAL (a window can take milliseconds)."""
        now = time.monotonic()
        last = progress.total > 0 and progress.done >= progress.total
        if not last and now - self._last_report < PROGRESS_INTERVAL:
            return
        self._last_report = now
        self.signals.post("progress", progress)


class LexicalIndexJob(Job):
    """Build (or load) the document's keyword index, so the first question does not wait for it."""

    title = "Could not build the keyword index"

    def __init__(self, engine: Engine, document: Any) -> None:
        super().__init__()
        self.engine, self.document = engine, document

    def work(self) -> None:
        self.engine.lexical_index(self.document.text, self.document.sentences)


class WordVectorsJob(Job):
    """Compute the word vectors not stored yet (about 16 s once per machine), so that the first question on
    the first document opened does not wait for its document's; succeeds with how many it computed.

    `preempt()` stops it after the batch in progress, keeping what is done: the next indexing of a document
    goes on with the rest.
    """

    title = "Could not prepare the word vectors"
    background = True

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self._stop = threading.Event()

    def preempt(self) -> None:
        self._stop.set()

    def work(self) -> int:
        try:
            return self.engine.prepare_vocabulary(self._check, lambda p: self.emit_progress(p, PROGRESS_INTERVAL))
        except _Stopped:
            return 0

    def _check(self) -> None:
        self.token.raise_if_cancelled()
        if self._stop.is_set():
            raise _Stopped


class _Stopped(Exception):
    """Raised between batches when a question needs the model pool."""
