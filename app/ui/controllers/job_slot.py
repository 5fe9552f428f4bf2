"""What the document-opening and asking controllers share: one job at a time, cancelled or silenced on
request, and a `busyChanged` signal when it starts or ends."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.ui.workers import Job


class JobSlotController(QObject):
    """Holds at most one running job; subclasses start it and call `_hold` with it."""

    busyChanged = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.job: Job | None = None

    @property
    def busy(self) -> bool:
        return self.job is not None

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def detach(self) -> None:
        """Silence the job in progress, if any."""
        if self.job is not None:
            self.job.detach()
            self._forget(self.job)

    def _hold(self, job: Job) -> None:
        """Make `job` the one held (after the subclass has connected its own handlers); it is let go when
        it ends."""
        for signal in (job.signals.succeeded, job.signals.failed, job.signals.cancelled):
            signal.connect(lambda *_, j=job: self._forget(j))
        self.job = job
        self.busyChanged.emit()

    def _forget(self, job: Job) -> None:
        if job is self.job:
            self.job = None
            self.busyChanged.emit()
