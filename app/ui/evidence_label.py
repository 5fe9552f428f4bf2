"""Under the answer: the best evidence sentence with its page, one click (or Enter) from its highlight."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QLabel, QWidget

from app.documents.navigation import without_leaders

EVIDENCE_CHARS = 320


def evidence_text(location: str, sentence: str) -> str:
    """'Best evidence, p. 212: “…”' (the sentence on one line, without dot leaders, shortened when long)."""
    quote = without_leaders(" ".join(sentence.split()))
    if len(quote) > EVIDENCE_CHARS:
        quote = quote[: EVIDENCE_CHARS - 1] + "…"
    where = f", {location[:1].lower()}{location[1:]}" if location else ""
    return f"Best evidence{where}: “{quote}”"


class EvidenceLabel(QLabel):
    """A label that acts as a link: a click, Enter or Space emits `activated`."""

    activated = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("evidenceLabel")
        self.setWordWrap(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.setToolTip("Show this sentence in the document")
        self.hide()

    def show_evidence(self, location: str, sentence: str) -> None:
        self.setText(evidence_text(location, sentence))
        self.show()

    def clear_evidence(self) -> None:
        self.clear()
        self.hide()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.activated.emit()
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.activated.emit()
            return
        super().keyPressEvent(event)
