"""What the document views highlight: retained passages (coloured by score) and find matches."""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QElapsedTimer, QObject, QTimer, Signal

Rect = tuple[float, float, float, float]


@dataclass(frozen=True)
class Highlight:
    """A span of the document text; ``rects`` are (page index, rectangle in points) for PDFs."""

    start: int
    end: int
    score: float
    passage: int = -1  # index in the passage list; -1 for a find match
    rects: tuple[tuple[int, Rect], ...] = ()

    @property
    def first_page(self) -> int | None:
        return self.rects[0][0] if self.rects else None


class Flash(QObject):
    """Pulses a highlight for a moment after a jump; views repaint on ``tick``."""

    tick = Signal()
    DURATION_MS = 1400
    PERIOD_MS = 450

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.target: Highlight | None = None
        self._clock = QElapsedTimer()
        self._timer = QTimer(self)
        self._timer.setInterval(40)
        self._timer.timeout.connect(self._step)

    def start(self, target: Highlight) -> None:
        self.target = target
        self._clock.start()
        self._timer.start()
        self.tick.emit()

    @property
    def active(self) -> bool:
        return self.target is not None

    def intensity(self) -> float:
        """0..1, pulsing while the flash lasts."""
        if self.target is None:
            return 0.0
        t = self._clock.elapsed()
        return 0.5 * (1.0 + math.cos(2.0 * math.pi * t / self.PERIOD_MS))

    def _step(self) -> None:
        if self._clock.elapsed() >= self.DURATION_MS:
            self._timer.stop()
            self.target = None
        self.tick.emit()
