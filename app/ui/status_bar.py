"""Status bar: message, progress bar, tokens per second, time left, the indexing indicator, model and device."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QWidget

from app.retrieval.types import Progress
from app.ui.index_indicator import IndexIndicator

STAGE_TEXT = {
    "extracting": "Reading pages",
    "loading": "Loading the model",
    "calibrating": "Calibrating the model",
    "tokenizing": "Tokenizing",
    "retrieving": "Scanning windows",
    "indexing": "Indexing the document",
    "generating": "Writing the answer",
}


def format_eta(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return ""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min left"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s left"
    return f"{seconds} s left"


def describe(progress: Progress) -> str:
    text = STAGE_TEXT.get(progress.stage, progress.stage.capitalize())
    if progress.stage == "retrieving" and progress.message:  # e.g. the indexed fast path's own steps
        text = progress.message.rstrip("…")
    if progress.total > 0 and progress.done > 0 and progress.stage in ("retrieving", "extracting", "indexing"):
        unit = "page" if progress.stage == "extracting" else "window"
        text += f": {unit} {progress.done:,} of {progress.total:,}"
    if progress.message and progress.stage in ("loading", "calibrating"):
        text += f" — {progress.message}"
    return text + "…"


class StatusPanel(QStatusBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message = QLabel("Ready")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.rate = QLabel()
        self.eta = QLabel()
        self.model = QLabel()
        self.index = IndexIndicator()
        self.addWidget(self.message, 1)
        for widget in (self.progress, self.rate, self.eta, self.index, self.model):
            self.addPermanentWidget(widget)

    def show_message(self, text: str) -> None:
        self.message.setText(text)

    def show_progress(self, progress: Progress) -> None:
        self.message.setText(describe(progress))
        self.progress.show()
        if progress.total > 0:
            self.progress.setRange(0, progress.total)
            self.progress.setValue(min(progress.done, progress.total))
        else:
            self.progress.setRange(0, 0)  # busy indicator
        rate = progress.tokens_per_second
        self.rate.setText(f"{rate:,.0f} tokens/s" if rate > 0 else "")
        self.eta.setText(format_eta(progress.eta_seconds))

    def done(self, text: str) -> None:
        self.message.setText(text)
        self.progress.hide()
        self.eta.setText("")

    def set_model(self, text: str) -> None:
        self.model.setText(text)
