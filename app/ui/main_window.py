"""The main window: widgets, actions, menus and layout, wired to the controllers that do the work.

The window never calls the core: the controllers in ``app.ui.controllers`` start jobs from
``app.ui.workers`` and react to their signals, which always arrive on the GUI thread. One document
load and one question run at a time; opening a file silences the question in progress. An opened
document is indexed in the background; a question pauses that and it resumes afterwards.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QToolBar,
    QWidget,
)

from app.history import HistoryStore, open_history
from app.paths import resources_dir
from app.ui import dialogs
from app.ui.answer_panel import AnswerPanel
from app.ui.app_settings import AppSettings, add_recent_file
from app.ui.controllers.asking import AskController
from app.ui.controllers.documents import DocumentController, OpenDocument
from app.ui.controllers.history import HistoryController
from app.ui.controllers.indexing import IndexingController
from app.ui.controllers.passages import PassageNavigator
from app.ui.document_area import DocumentArea
from app.ui.icons import icon
from app.ui.page_jump import PageJump
from app.ui.recent_menu import RecentFilesMenu
from app.ui.settings_dialog import SettingsDialog
from app.ui.status_bar import StatusPanel
from app.ui.window_state import restore_window_state, save_window_state
from app.ui.workers import (
    AskOutcome,
    Engine,
    FailureKind,
    JobFailure,
    JobRunner,
    ModelHolder,
    WarmUpJob,
    passage_rects,
)

OPEN_FILTER = (
    "Documents (*.pdf *.txt *.text *.md *.rst *.log *.csv *.gz *.bz2 *.xz);;PDF files (*.pdf *.pdf.gz *.pdf.xz);;"
    "Text files (*.txt *.md *.txt.gz);;All files (*)"
)


def app_icon() -> QIcon:
    return QIcon(str(resources_dir() / "icons" / "infiniretri.svg"))


class MainWindow(QMainWindow):
    documentLoaded = Signal(object)  # the Document
    answerFinished = Signal(object)  # AskOutcome
    jobFailed = Signal(object)  # JobFailure
    runCancelled = Signal()

    def __init__(
        self,
        engine: Engine | None = None,
        history: HistoryStore | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        history_notice = ""
        if history is None:
            history, history_notice = open_history()
        self.runner = JobRunner(self)
        self.holder = ModelHolder()
        self.settings = AppSettings.load()
        self.error_boxes: list[QMessageBox] = []
        self._icon_actions: list[tuple[QAction, str]] = []
        self.setWindowTitle("InfiniRetri")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self._build_widgets()
        engine = engine or Engine()
        self.documents = DocumentController(
            self.runner, engine, self.area, self.status, lambda name, wrong: dialogs.ask_password(self, name, wrong),
            self,
        )
        self.asking = AskController(self.runner, engine, self.holder, self.area, self.panel, self.status, self)
        self.indexing = IndexingController(
            self.runner, engine, self.holder, self.area, self.status, lambda: self.settings,
            lambda: self.asking.busy, self.asking.note_model_loaded, self,
        )
        self.navigator = PassageNavigator(self.area, self.panel, self.settings.passage_order, self)
        self.panel.set_passage_order(self.settings.passage_order)
        self.history = HistoryController(history, self.panel, self.status, self)
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._connect()
        restore_window_state(self, self._splitters())
        self._update_enabled()
        self.status.set_model(self._model_label())
        self.runner.start_document_job(WarmUpJob(engine))
        self.indexing.prepare_word_vectors()
        if history_notice:
            QTimer.singleShot(0, lambda: self.history.tell_once("open", history_notice))

    # construction ---------------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.area = DocumentArea()
        self.panel = AnswerPanel()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.area)
        self.splitter.addWidget(self.panel)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)
        self.status = StatusPanel()
        self.setStatusBar(self.status)
        self.page_jump = PageJump(self.area.page_view)
        self.page_box, self.page_count_label = self.page_jump.box, self.page_jump.count_label

    def _action(self, text: str, slot, shortcuts: list | None = None, icon_name: str | None = None) -> QAction:
        action = QAction(text, self)
        if shortcuts:
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if icon_name:
            action.setIcon(icon(icon_name))
            self._icon_actions.append((action, icon_name))
        action.triggered.connect(lambda *_: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        view = self.area.page_view
        self.open_action = self._action("&Open…", self.choose_file, [QKeySequence.StandardKey.Open], "open")
        self.quit_action = self._action("&Quit", self.close, [QKeySequence.StandardKey.Quit])
        self.find_action = self._action("&Find…", self.area.open_find, [QKeySequence.StandardKey.Find], "find")
        self.zoom_in_action = self._action("Zoom &In", view.zoom_in, ["Ctrl++", "Ctrl+="], "zoom_in")
        self.zoom_out_action = self._action("Zoom &Out", view.zoom_out, ["Ctrl+-"], "zoom_out")
        self.fit_action = self._action("&Fit Width", view.zoom_fit_width, ["Ctrl+0"], "fit_width")
        self.goto_action = self._action("&Go to Page…", self.page_jump.focus, ["Ctrl+G"])
        self.next_action = self._action("&Next Passage", self.navigator.next, ["F3", "Alt+Down"], "next")
        self.previous_action = self._action(
            "&Previous Passage", self.navigator.previous, ["Shift+F3", "Alt+Up"], "previous"
        )
        self.ask_action = self._action("&Ask", self.panel.request_ask, ["Ctrl+Return", "Ctrl+Enter"], "ask")
        self.ask_full_action = self._action(
            "Ask with a &Full Pass", self.ask_full_pass, ["Ctrl+Shift+Return", "Ctrl+Shift+Enter"]
        )
        self.cancel_action = self._action("&Cancel", self.escape, ["Esc"], "cancel")
        self.stop_index_action = self._action("Stop &Indexing", self.stop_indexing)
        self.stop_index_action.setToolTip("Stop indexing the document; it resumes the next time the document is opened")
        self.settings_action = self._action("&Settings…", self.open_settings, ["Ctrl+,"], "settings")
        self.about_action = self._action("&About InfiniRetri", self._about)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        self.recent_menu = RecentFilesMenu(self)
        self.recent_menu.fileChosen.connect(self.open_file)
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addAction(self.find_action)
        edit_menu.addSeparator()
        edit_menu.addAction(self.settings_action)
        view_menu = bar.addMenu("&View")
        for action in (self.zoom_in_action, self.zoom_out_action, self.fit_action):
            view_menu.addAction(action)
        go_menu = bar.addMenu("&Go")
        for action in (self.goto_action, self.next_action, self.previous_action):
            go_menu.addAction(action)
        question_menu = bar.addMenu("&Question")
        question_menu.addAction(self.ask_action)
        question_menu.addAction(self.ask_full_action)
        question_menu.addAction(self.cancel_action)
        question_menu.addSeparator()
        question_menu.addAction(self.stop_index_action)
        bar.addMenu("&Help").addAction(self.about_action)

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.addAction(self.open_action)
        toolbar.addSeparator()
        for action in (self.zoom_out_action, self.zoom_in_action, self.fit_action):
            toolbar.addAction(action)
        toolbar.addWidget(self.page_box)
        toolbar.addWidget(self.page_count_label)
        toolbar.addSeparator()
        for action in (self.previous_action, self.next_action, self.find_action):
            toolbar.addAction(action)
        toolbar.addSeparator()
        toolbar.addAction(self.cancel_action)
        toolbar.addAction(self.settings_action)
        self.addToolBar(toolbar)
        self.toolbar = toolbar

    def _connect(self) -> None:
        self.panel.askRequested.connect(self.ask)
        self.panel.askFullPassRequested.connect(lambda question: self.ask(question, full_pass=True))
        self.panel.cancelRequested.connect(self.cancel)
        self.panel.passageActivated.connect(self.navigator.go_to)
        self.panel.evidenceActivated.connect(self.navigator.go_to_best)
        self.panel.passageOrderChanged.connect(self.set_passage_order)
        self.panel.historySelected.connect(self.show_history_entry)
        self.panel.historyDeleteRequested.connect(self.history.delete)
        self.documents.opening.connect(self._on_opening)
        self.documents.probed.connect(self._on_probed)
        self.documents.opened.connect(self._on_opened)
        self.documents.failed.connect(self._on_open_failed)
        self.documents.warned.connect(lambda text: dialogs.notice_box(self, "Parts of the document are missing", text))
        self.asking.answered.connect(self._on_answer)
        self.asking.failed.connect(self._on_ask_failed)
        self.asking.cancelled.connect(self.runCancelled)
        self.asking.busyChanged.connect(self.indexing.question_changed)
        self.indexing.stateChanged.connect(self._update_enabled)
        self.status.index.stopRequested.connect(self.stop_indexing)
        self.history.problem.connect(lambda text: dialogs.notice_box(self, "Question history", text))
        for controller in (self.documents, self.asking):
            controller.busyChanged.connect(self._update_enabled)

    def refresh_icons(self, *_: object) -> None:
        """Recolour icons after a light/dark switch."""
        for action, name in self._icon_actions:
            action.setIcon(icon(name))
        self.panel.ask_button.setIcon(icon("ask"))
        self.panel.cancel_button.setIcon(icon("cancel"))
        self.status.index.refresh_icons()

    # state ----------------------------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        return self.documents.engine

    @engine.setter
    def engine(self, engine: Engine) -> None:
        """Replace the core calls (tests); the next job uses them."""
        self.documents.engine = self.asking.engine = self.indexing.engine = engine

    @property
    def document(self) -> Any:
        current = self.documents.current
        return current.document if current is not None else None

    @property
    def doc_path(self) -> Path | None:
        return self.documents.path

    @property
    def passages(self) -> list:
        return self.navigator.passages

    @property
    def passage_index(self) -> int:
        return self.navigator.index

    def go_to_passage(self, index: int) -> None:
        self.navigator.go_to(index)

    def next_passage(self) -> None:
        self.navigator.next()

    def previous_passage(self) -> None:
        self.navigator.previous()

    @property
    def busy(self) -> bool:
        return self.documents.busy or self.asking.busy

    # layout persistence and closing ---------------------------------------------------------------
    def _splitters(self) -> dict[str, QSplitter]:
        return {"splitter": self.splitter, "panel_splitter": self.panel.splitter}

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        """Close at once: running jobs are cancelled and silenced, never waited for here."""
        save_window_state(self, self._splitters())
        self.runner.shutdown()
        self.holder.forget()
        self.area.shutdown()
        super().closeEvent(event)

    def wait_for_workers(self, timeout_ms: int) -> bool:
        """After the window closed: wait up to `timeout_ms` for the worker threads; True if all ended."""
        deadline = time.monotonic() + timeout_ms / 1000
        left = lambda: max(0, int((deadline - time.monotonic()) * 1000))  # noqa: E731
        return self.runner.wait(left()) and self.holder.wait(left() / 1000) and self.area.wait_for_renderer(left())

    # opening documents ----------------------------------------------------------------------------
    def choose_file(self) -> None:
        start = str(self.doc_path.parent) if self.doc_path else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open document", start, OPEN_FILTER)
        if path:
            self.open_file(path)

    def open_file(self, path: str | Path, password: str | None = None, ocr: bool = False) -> None:
        """Load a document in the background; the running question and load are silenced."""
        self.asking.detach()
        self.documents.open_file(path, password, ocr)

    def _on_opening(self, path: Path) -> None:
        self.indexing.close_document()
        self.navigator.clear()
        self.panel.start_answer()
        self.history.show_for("")
        self.setWindowTitle(f"{path.name} — InfiniRetri")
        self.page_jump.clear()

    def _on_probed(self, info: Any) -> None:
        if getattr(info, "kind", "") == "pdf":
            self.page_jump.set_count(info.page_count)

    def _on_opened(self, opened: OpenDocument) -> None:
        self.page_jump.set_count(len(opened.document.pages))
        self.page_jump.show_page(max(0, self.area.page_view.current_page()))
        add_recent_file(str(opened.path))
        self.history.show_for(opened.key)
        self.indexing.start(opened)
        self._update_enabled()
        self.documentLoaded.emit(opened.document)

    def _on_open_failed(self, failure: JobFailure) -> None:
        self.setWindowTitle("InfiniRetri")
        path = self.documents.path
        actions: tuple = ()
        if failure.kind is FailureKind.NO_TEXT_LAYER and failure.ocr_available and path is not None:
            actions = (("Recognise Text (OCR)", lambda: self.open_file(path, ocr=True)),)
        self.show_error(failure, actions)

    # drag and drop --------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.open_file(files[0])

    # asking ---------------------------------------------------------------------------------------
    def ask_full_pass(self) -> None:
        """Ask with the exact method (every window read), even when the document has an attention index."""
        self.ask(self.panel.question(), full_pass=True)

    def ask(self, question: str, full_pass: bool = False) -> None:
        question = question.strip()
        if not question:
            return
        current = self.documents.current
        if current is None:
            self.status.show_message("Open a document first.")
            return
        self.navigator.clear()
        self.asking.ask(current, question, self.settings.model_choice(), self.settings.retrieval(full_pass))

    def _on_answer(self, outcome: AskOutcome) -> None:
        current = self.documents.current
        self.navigator.show(self.document, outcome.result, outcome.rects, jump_to_best=True)
        if current is not None:
            self.history.remember(current, outcome)
        self.answerFinished.emit(outcome)

    def _on_ask_failed(self, failure: JobFailure) -> None:
        if failure.kind is FailureKind.MODEL:
            self.status.set_model(self._model_label())
        self.show_error(failure)

    def cancel(self) -> None:
        """Stop the running question and document load; both report within about a second."""
        self.asking.cancel()
        self.documents.cancel()
        if self.busy:
            self.status.show_message("Cancelling…")

    def escape(self) -> None:
        """Esc: close the find bar, else cancel the question or load, else stop indexing."""
        if self.area.find_bar.isVisible() and self.area.find_bar.isAncestorOf(QApplication.focusWidget()):
            self.area.find_bar.close_bar()
        elif self.busy:
            self.cancel()
        else:
            self.stop_indexing()

    def stop_indexing(self) -> None:
        """Stop the background indexing of the open document (it resumes when the document is opened again)."""
        if self.indexing.running:
            self.indexing.stop()
            self.status.show_message("Indexing stopped; it resumes the next time this document is opened.")

    def set_passage_order(self, order: str) -> None:
        """List passages best first ("score") or in document order ("page"); remembered."""
        self.navigator.set_order(order)
        self.panel.set_passage_order(order)
        if order != self.settings.passage_order:
            self.settings = replace(self.settings, passage_order=order)
            self.settings.save()

    def _update_enabled(self) -> None:
        has_document = self.document is not None
        self.panel.set_busy(self.busy)
        self.cancel_action.setEnabled(self.busy or self.indexing.running)
        self.stop_index_action.setEnabled(self.indexing.running)
        self.panel.set_can_ask(has_document)
        self.ask_action.setEnabled(has_document)
        self.ask_full_action.setEnabled(has_document)
        is_pdf = has_document and self.document.kind == "pdf"
        for action in (self.zoom_in_action, self.zoom_out_action, self.fit_action, self.goto_action):
            action.setEnabled(is_pdf or self.area.is_pdf)
        self.page_box.setEnabled(is_pdf)
        self.find_action.setEnabled(has_document)

    # history --------------------------------------------------------------------------------------
    def show_history_entry(self, entry_id: int) -> None:
        entry = self.history.entry(entry_id)
        if entry is None or self.document is None:
            return
        self.asking.detach()
        result = entry.to_result()
        self.panel.set_question(entry.question)
        self.panel.set_answer(entry.answer)
        self.panel.set_answer_source("model")
        self.panel.set_method("")
        self.navigator.show(self.document, result, passage_rects(self.document, result))
        self.status.done(f"Answer from {time.strftime('%Y-%m-%d %H:%M', time.localtime(entry.created))}")

    # settings and dialogs -------------------------------------------------------------------------
    def open_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self)
        if dialog.exec():
            self.apply_settings(dialog.settings())

    def apply_settings(self, settings: AppSettings) -> None:
        """Persist new settings; a different model or device is loaded (lazily) for the next question, and
        the open document is indexed for it."""
        changed_model = settings.model_choice() != self.settings.model_choice()
        changed_index = changed_model or settings.window_tokens != self.settings.window_tokens
        self.settings = settings
        settings.save()
        if changed_model:
            self.holder.forget()
        self.indexing.settings_changed(changed_index)
        self.set_passage_order(settings.passage_order)
        self.status.set_model(self._model_label())

    def _model_label(self) -> str:
        loaded = self.holder.loaded
        if loaded is not None:
            return f"{getattr(loaded, 'name', '')} on {getattr(loaded, 'device', '')}"
        spec = self.settings.model_spec
        name = "bundled model" if spec == "bundled" else Path(spec).name or spec
        when = "loads when a document opens" if self.settings.index_on_open else "loads on first question"
        return f"{name} · {self.settings.device} ({when})"

    def show_error(self, failure: JobFailure, actions: tuple = ()) -> QMessageBox:
        """A readable, non-blocking error dialog; the traceback is under 'Show Details'."""
        self.jobFailed.emit(failure)
        box = dialogs.error_box(self, failure, actions)
        box.finished.connect(lambda *_: self.error_boxes.remove(box) if box in self.error_boxes else None)
        self.error_boxes.append(box)
        return box

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About InfiniRetri",
            "<b>InfiniRetri Desktop</b><br>Ask questions of very long documents with a local model that "
            "finds passages by its own attention.",
        )
