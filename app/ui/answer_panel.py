"""The answer side of the window: question box, streamed answer with its best evidence, retrieved passages
(best first or in page order), past questions."""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QPixmap, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.ui.colors import heat_color
from app.ui.evidence_label import EvidenceLabel
from app.ui.icons import icon

SNIPPET_CHARS = 180
ORDER_LABELS = {"score": "Best first", "page": "Page order"}
# Why the answer is a quote (the answer's stats, "quoted_because"), as the label's tooltip says it.
QUOTED_TIPS = {
    "unhelpful": "The model's own answer did not address the question, so the sentence that answers it best is "
                 "quoted from the document instead.",
    "elsewhere": "The model's own answer leaned on a passage ranked below the best one, so the best passage is "
                 "quoted from the document instead.",
    "restates": "The model's own answer restated the best passage, so the passage itself is quoted from the "
                "document: a restatement can drop or change the detail asked for.",
    "misses": "The question asks for a default, a number or a file that the best passage gives, and the model's "
              "own answer did not give it, so the passage itself is quoted from the document instead.",
}


@dataclass(frozen=True)
class PassageRow:
    """One line of the passage list."""

    location: str  # "p. 12" or "line 40"
    score: float
    text: str
    kept_by: str = "loop"  # or "meaning": kept beside the loop's choice


class QuestionEdit(QPlainTextEdit):
    """Multi-line question box; Ctrl+Enter submits."""

    submitted = Signal(bool)  # True with Shift held: ask with a full pass

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if enter and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.submitted.emit(bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier))
            event.accept()
            return
        super().keyPressEvent(event)


def _section(title: str) -> QLabel:
    label = QLabel(title)
    label.setObjectName("sectionLabel")
    return label


def _swatch(score: float) -> QPixmap:
    pixmap = QPixmap(10, 28)
    pixmap.fill(heat_color(score))
    return pixmap


class AnswerPanel(QWidget):
    askRequested = Signal(str)
    askFullPassRequested = Signal(str)
    cancelRequested = Signal()
    passageActivated = Signal(int)
    evidenceActivated = Signal()
    passageOrderChanged = Signal(str)  # "score" or "page"
    historySelected = Signal(int)  # entry id
    historyDeleteRequested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.question_box = QuestionEdit()
        self.question_box.setObjectName("questionBox")
        self.question_box.setPlaceholderText("Ask a question about the document… (Ctrl+Enter)")
        self.question_box.setMaximumHeight(96)
        self.ask_button = QPushButton(icon("ask"), "Ask")
        self.ask_button.setToolTip("Ask (Ctrl+Enter)")
        self.cancel_button = QPushButton(icon("cancel"), "Cancel")
        self.cancel_button.setToolTip("Cancel (Esc)")
        self.cancel_button.setEnabled(False)
        self.answer_view = QTextBrowser()
        self.answer_view.setPlaceholderText("The answer appears here.")
        self.passage_list = QListWidget()
        self.passage_list.setObjectName("passageList")
        self.passage_list.setWordWrap(True)
        self.passage_list.setAlternatingRowColors(True)
        self.passage_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.passage_list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.history_list = QListWidget()
        self.history_list.setObjectName("historyList")
        self.history_list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.history_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.history_list.setWordWrap(True)
        self.passages_label = _section("Passages")
        self.order_box = QComboBox()
        self.order_box.setObjectName("passageOrder")
        for order, label in ORDER_LABELS.items():
            self.order_box.addItem(label, order)
        self.order_box.setToolTip("List the passages best first or in the order of the document (F3 follows it)")
        self.answer_label = _section("Answer")
        self.evidence_label = EvidenceLabel()
        self.method_label = QLabel()
        self.method_label.setObjectName("methodLabel")
        self.method_label.setWordWrap(True)
        self.method_label.setEnabled(False)  # drawn in the muted colour of the current theme
        self._build_layout()
        self._connect()

    def _build_layout(self) -> None:
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.ask_button)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(_section("Question"))
        top_layout.addWidget(self.question_box)
        top_layout.addLayout(buttons)
        top_layout.addWidget(self.answer_label)
        top_layout.addWidget(self.answer_view, 1)
        top_layout.addWidget(self.evidence_label)
        top_layout.addWidget(self.method_label)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(top)
        splitter.addWidget(self._titled(self._passages_header(), self.passage_list))
        splitter.addWidget(self._titled(_section("History"), self.history_list))
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 3)
        splitter.setStretchFactor(2, 1)
        self.splitter = splitter
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 6)
        layout.addWidget(splitter)

    def _passages_header(self) -> QWidget:
        header = QWidget()
        row = QHBoxLayout(header)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.passages_label)
        row.addStretch(1)
        row.addWidget(self.order_box)
        return header

    @staticmethod
    def _titled(label: QWidget, widget: QWidget) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(label)
        layout.addWidget(widget)
        return box

    def _connect(self) -> None:
        self.question_box.submitted.connect(self._submitted)
        self.ask_button.clicked.connect(self.request_ask)
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.passage_list.itemClicked.connect(lambda item: self.passageActivated.emit(self.passage_list.row(item)))
        self.passage_list.itemActivated.connect(lambda item: self.passageActivated.emit(self.passage_list.row(item)))
        self.evidence_label.activated.connect(self.evidenceActivated)
        self.order_box.currentIndexChanged.connect(lambda *_: self.passageOrderChanged.emit(self.passage_order()))
        self.history_list.itemClicked.connect(self._history_clicked)
        self.history_list.itemActivated.connect(self._history_clicked)
        self.history_list.customContextMenuRequested.connect(self._history_menu)

    # question -------------------------------------------------------------------------------------
    def question(self) -> str:
        return self.question_box.toPlainText().strip()

    def set_question(self, text: str) -> None:
        self.question_box.setPlainText(text)

    def request_ask(self) -> None:
        if self.question():
            self.askRequested.emit(self.question())

    def _submitted(self, full_pass: bool) -> None:
        if self.question():
            (self.askFullPassRequested if full_pass else self.askRequested).emit(self.question())

    def set_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)

    def set_can_ask(self, can_ask: bool) -> None:
        self.ask_button.setEnabled(can_ask)

    # answer ---------------------------------------------------------------------------------------
    def start_answer(self) -> None:
        self.answer_view.clear()
        self.method_label.clear()
        self.evidence_label.clear_evidence()
        self.set_answer_source("model")
        self.passage_list.clear()
        self.passages_label.setText("Passages")
        self.history_list.clearSelection()

    def append_token(self, piece: str) -> None:
        cursor = self.answer_view.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(piece)
        self.answer_view.setTextCursor(cursor)
        self.answer_view.ensureCursorVisible()

    def set_answer(self, text: str) -> None:
        self.answer_view.setPlainText(text)

    def answer_text(self) -> str:
        return self.answer_view.toPlainText()

    def set_answer_source(self, source: str, because: str = "unhelpful") -> None:
        """'evidence': the answer quotes the document, `because` the model's own answer was not helpful, leaned
        on a lesser passage, restated the best one or missed what the question asks for (see QUOTED_TIPS)."""
        quoted = source == "evidence"
        self.answer_label.setText("Answer · quoted from the document" if quoted else "Answer")
        self.answer_label.setToolTip(QUOTED_TIPS.get(because, QUOTED_TIPS["unhelpful"]) if quoted else "")

    def show_evidence(self, location: str, sentence: str) -> None:
        """The best evidence sentence under the answer; a click on it emits `evidenceActivated`."""
        self.evidence_label.show_evidence(location, sentence)

    def clear_evidence(self) -> None:
        self.evidence_label.clear_evidence()

    def passage_order(self) -> str:
        return str(self.order_box.currentData())

    def set_passage_order(self, order: str) -> None:
        """Show the order chosen (without emitting `passageOrderChanged`)."""
        self.order_box.blockSignals(True)
        self.order_box.setCurrentIndex(max(0, self.order_box.findData(order)))
        self.order_box.blockSignals(False)

    def set_method(self, text: str) -> None:
        """How the answer was found (full pass or attention index), under the answer."""
        self.method_label.setText(text)

    def show_status(self, text: str) -> None:
        """A note in the answer area (e.g. 'Cancelled')."""
        if not self.answer_text():
            self.answer_view.setPlaceholderText(text)

    def set_passages(self, rows: list[PassageRow]) -> None:
        self.passage_list.clear()
        for row in rows:
            snippet = " ".join(row.text.split())
            if len(snippet) > SNIPPET_CHARS:
                snippet = snippet[: SNIPPET_CHARS - 1] + "…"
            by_meaning = " · by meaning" if row.kept_by == "meaning" else ""
            item = QListWidgetItem(f"{row.location} · score {row.score:.2f}{by_meaning}\n{snippet}")
            item.setIcon(_swatch(row.score))
            item.setToolTip(" ".join(row.text.split()))
            self.passage_list.addItem(item)
        self.passages_label.setText(f"Passages ({len(rows)})" if rows else "Passages")

    def select_passage(self, index: int) -> None:
        if 0 <= index < self.passage_list.count():
            self.passage_list.setCurrentRow(index)
            self.passage_list.scrollToItem(self.passage_list.item(index))

    # history --------------------------------------------------------------------------------------
    def set_history(self, entries: list) -> None:
        """Entries are app.history.HistoryEntry, newest first."""
        self.history_list.clear()
        for entry in entries:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.created))
            item = QListWidgetItem(icon("history"), f"{entry.question}\n{when} · {entry.model}")
            item.setData(Qt.ItemDataRole.UserRole, entry.id)
            item.setToolTip(entry.answer[:500])
            self.history_list.addItem(item)

    def _history_clicked(self, item: QListWidgetItem) -> None:
        self.historySelected.emit(int(item.data(Qt.ItemDataRole.UserRole)))

    def _history_menu(self, position) -> None:
        item = self.history_list.itemAt(position)
        if item is None:
            return
        menu = QMenu(self)
        delete = menu.addAction(icon("delete"), "Delete from history")
        if menu.exec(self.history_list.viewport().mapToGlobal(position)) is delete:
            self.historyDeleteRequested.emit(int(item.data(Qt.ItemDataRole.UserRole)))
