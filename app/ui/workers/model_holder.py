"""One loaded model, shared by the questions of a session, with loads a waiting job can walk away from. No Qt.

A load runs in its own thread. A job waiting for it looks at its cancel token every few hundredths
of a second, so it can report "cancelled" at once even while the load is inside a step that cannot
be interrupted (reading or converting weights). When no job waits any more, the load is abandoned:
it is asked to stop between steps, and whatever it returns late is dropped. Another question for the
same model joins a load in progress instead of starting a second one. A background job that is paused
for a question (`pause`) stops waiting but leaves the load running, so the question joins it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.retrieval.types import Cancelled, CancelToken, Progress
from app.ui.workers.engine import Engine

POLL_SECONDS = 0.02


class WaitPaused(Exception):
    """The waiting job was paused (a question needs the model); the load goes on without it."""


@dataclass(frozen=True)
class ModelChoice:
    spec: str = "bundled"
    device: str = "auto"


@dataclass
class _Load:
    """A load in progress and the jobs waiting for it."""

    choice: ModelChoice
    abandoned: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    listeners: list[Callable[[Progress], None]] = field(default_factory=list)
    last: Progress | None = None  # the latest report, for a job that joins the load later
    model: Any = None
    error: BaseException | None = None
    thread: threading.Thread | None = None

    def report(self, progress: Progress) -> None:
        self.last = progress
        for listener in list(self.listeners):
            listener(progress)


class ModelHolder:
    """Loads the model once and reuses it; a different choice (spec or device) loads anew."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._choice: ModelChoice | None = None
        self._model: Any = None
        self._pending: _Load | None = None
        self._threads: list[threading.Thread] = []

    def get(
        self,
        engine: Engine,
        choice: ModelChoice,
        on_progress: Callable[[Progress], None],
        cancel: CancelToken,
        pause: Callable[[], bool] | None = None,
    ) -> tuple[Any, bool]:
        """The model for `choice` and whether it was loaded for this call (False: reused).

        Raises `Cancelled` within about `POLL_SECONDS` of `cancel` being set, whatever the load does, and
        `WaitPaused` as soon as `pause()` turns true (the load then goes on for whoever asks next).
        """
        with self._lock:
            if self._model is not None and self._choice == choice:
                return self._model, False
            load = self._join_or_start(engine, choice, on_progress)
        if load.last is not None:
            on_progress(load.last)  # a job joining a load in progress learns what it is doing
        try:
            while not load.done.wait(POLL_SECONDS):
                if cancel.cancelled:
                    raise Cancelled("model load cancelled")
                if pause is not None and pause():
                    raise WaitPaused("paused while the model loads")
        except Cancelled:
            self._leave(load, on_progress)
            raise
        except WaitPaused:
            self._leave(load, on_progress, abandon=False)
            raise
        self._leave(load, on_progress)
        if load.error is not None:
            raise load.error
        return load.model, True

    def _join_or_start(
        self, engine: Engine, choice: ModelChoice, on_progress: Callable[[Progress], None]
    ) -> _Load:
        load = self._pending
        if load is not None and load.choice == choice and not load.abandoned.is_set():
            load.listeners.append(on_progress)
            return load
        if load is not None:
            load.abandoned.set()
        self._model, self._choice = None, None  # release the old model before loading the next
        load = _Load(choice, listeners=[on_progress])
        load.thread = threading.Thread(target=self._run, args=(engine, load), name="model-load", daemon=True)
        self._pending = load
        self._threads = [t for t in self._threads if t.is_alive()] + [load.thread]
        load.thread.start()
        return load

    def _leave(self, load: _Load, on_progress: Callable[[Progress], None], abandon: bool = True) -> None:
        with self._lock:
            if on_progress in load.listeners:
                load.listeners.remove(on_progress)
            if abandon and not load.listeners and not load.done.is_set():
                load.abandoned.set()  # nobody waits: stop between steps, drop the result
                if self._pending is load:
                    self._pending = None

    def _run(self, engine: Engine, load: _Load) -> None:
        try:
            model = engine.load_model(load.choice.spec, load.choice.device, load.report, load.abandoned.is_set)
        except BaseException as exc:  # handed to the waiting jobs
            load.error = exc
        else:
            load.model = model
        with self._lock:
            if self._pending is load:
                self._pending = None
            if load.abandoned.is_set():
                load.model = None  # the late result is dropped
            elif load.error is None:
                self._model, self._choice = load.model, load.choice
            load.done.set()

    def forget(self) -> None:
        """Drop the loaded model and abandon a load in progress (the next question loads anew)."""
        with self._lock:
            if self._pending is not None:
                self._pending.abandoned.set()
                self._pending = None
            self._model, self._choice = None, None

    @property
    def loaded(self) -> Any:
        return self._model

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for load threads (also abandoned ones) to end; True if they did."""
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)
