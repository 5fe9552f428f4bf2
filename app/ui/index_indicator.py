"""The status bar's indexing indicator: how far the open document's attention index is built, with a
button to stop the build. `describe` turns an `IndexState` into the words shown (no Qt there)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from app.ui.icons import icon

PHASES = ("idle", "starting", "running", "paused", "stopped", "complete", "failed", "off")
ASKING_MEANWHILE = "Questions can be asked meanwhile: they pause indexing, which resumes after the answer."
RESUMES_NEXT_TIME = "A stopped build resumes where it stopped the next time this document is opened."
WITHOUT_INDEX = "Questions are answered meanwhile from keyword search and meaning, as far as they are built."


@dataclass(frozen=True)
class IndexState:
    """Where the open document's index build stands."""

    phase: str = "idle"  # one of PHASES; "idle": no document
    done: int = 0  # windows indexed
    total: int = 0  # windows in the document (0: not known yet)
    eta_seconds: float | None = None
    tokens_per_second: float = 0.0
    index_bytes: int = 0
    message: str = ""  # "starting": what happens first; "failed": what went wrong
    # what `done` and `total` count: "sentences" (batches, embeddings first), "windows" (the attention index)
    # or "deep" (batches of the deep embeddings, last)
    step: str = "windows"

    @property
    def percent(self) -> int | None:
        """Whole percent indexed (100 only when complete); None while the size is not known."""
        if self.phase == "complete":
            return 100
        if self.total <= 0:
            return None
        return min(99, int(100 * self.done / self.total))

    @property
    def can_stop(self) -> bool:
        return self.phase in ("starting", "running", "paused")


def rough_eta(seconds: float | None) -> str:
    """'about 3 min left': rounded, for a background task."""
    if seconds is None or seconds < 0:
        return ""
    if seconds < 50:
        return "less than a minute left"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min left"
    return f"about {minutes // 60} h {minutes % 60:02d} min left"


def describe(state: IndexState) -> tuple[str, str]:
    """(text, tooltip) of the indicator."""
    percent = state.percent
    share = f" {percent}%" if percent is not None else ""
    if state.phase == "starting":
        return "Indexing…", f"{state.message or 'Preparing the attention index.'} {ASKING_MEANWHILE}"
    if state.phase == "running" and state.step == "sentences":
        eta = rough_eta(state.eta_seconds)
        tip = ("Reading every sentence for its meaning (sentence embeddings, used to find passages worded "
               f"differently from the question), then building the attention index. {ASKING_MEANWHILE} "
               f"Question ▸ Stop Indexing stops it. {RESUMES_NEXT_TIME}")
        return f"Indexing sentences{share}" + (f" · {eta}" if eta else ""), tip
    if state.phase == "running" and state.step == "deep":
        eta = rough_eta(state.eta_seconds)
        tip = ("The attention index is complete. Now every sentence is read again by a larger model "
               "(all-mpnet-base-v2), which finds passages worded differently from the question more often; until "
               f"it is done, questions use the quick reading. {ASKING_MEANWHILE} Question ▸ Stop Indexing stops "
               f"it. {RESUMES_NEXT_TIME}")
        return f"Reading closely{share}" + (f" · {eta}" if eta else ""), tip
    if state.phase == "running":
        eta = rough_eta(state.eta_seconds)
        rate = f", {state.tokens_per_second:,.0f} tokens/s" if state.tokens_per_second > 0 else ""
        tip = (f"Building this document's attention index in the background: {state.done:,} of {state.total:,} "
               f"windows{rate}. {ASKING_MEANWHILE} Question ▸ Stop Indexing stops it. {RESUMES_NEXT_TIME}")
        return f"Indexing{share}" + (f" · {eta}" if eta else ""), tip
    if state.phase == "paused":
        return f"Indexed{share} · paused", "Indexing is paused while the question is answered; it resumes afterwards."
    if state.phase == "stopped":
        return f"Indexed{share} · stopped", f"Indexing was stopped. {RESUMES_NEXT_TIME} {WITHOUT_INDEX}"
    if state.phase == "complete":
        size = f" ({state.index_bytes / 1e6:,.1f} MB in the cache folder)" if state.index_bytes else ""
        return "Fully indexed", (
            f"This document's attention index is complete{size}, and so are its sentence embeddings. With them, a "
            "question is ranked against the whole document by words and meaning in seconds, and the model reads "
            "only the best passages again."
        )
    if state.phase == "failed":
        text = f"Indexed{share} · not finished" if percent else "Not indexed"
        return text, f"{state.message} Questions are still answered, from keyword search."
    if state.phase == "off":
        return "Not indexed", ("Indexing documents when they open is off (Edit ▸ Settings). Questions are answered "
                               "from keyword search.")
    return "", ""


class IndexIndicator(QWidget):
    """A label and a small stop button, permanent in the status bar while a document is open."""

    stopRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setObjectName("indexIndicator")
        self.stop_button = QToolButton()
        self.stop_button.setIcon(icon("cancel"))
        self.stop_button.setAutoRaise(True)
        self.stop_button.setToolTip("Stop Indexing (it resumes the next time the document is opened)")
        self.stop_button.clicked.connect(self.stopRequested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.label)
        layout.addWidget(self.stop_button)
        self.state = IndexState()
        self.show_state(self.state)

    def show_state(self, state: IndexState) -> None:
        self.state = state
        text, tip = describe(state)
        self.label.setText(text)
        self.label.setToolTip(tip)
        self.stop_button.setVisible(state.can_stop)
        self.setVisible(state.phase != "idle")

    def refresh_icons(self) -> None:
        self.stop_button.setIcon(icon("cancel"))
