"""The main window: wires the document area, the answer panel and the workers together.

The window never calls the core itself: it starts jobs from ``app.workers`` and reacts to their
signals, which always arrive on the GUI thread. At most one document load and one question run at a
time; starting another detaches (cancels and silences) the previous one.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QToolBar,
    QWidget,
)

from app.history import HistoryEntry, HistoryStore
from app.paths import resources_dir
from app.retrieval.types import Passage, Progress
from app.ui.answer_panel import AnswerPanel, PassageRow
from app.ui.app_settings import AppSettings, add_recent_file, clear_recent_files, recent_files
from app.ui.document_area import DocumentArea
from app.ui.highlights import Highlight
from app.ui.icons import icon
from app.ui.runtime import freeze_long_lived
from app.ui.settings_dialog import SettingsDialog
from app.ui.status_bar import StatusPanel
from app.workers import (
    AskJob,
    AskOutcome,
    Engine,
    Job,
    JobFailure,
    JobRunner,
    LoadDocumentJob,
    LoadedDocument,
    ModelHolder,
    WarmUpJob,
    passage_rects,
)

OPEN_FILTER = "Documents (*.pdf *.txt *.text *.md *.rst *.log *.csv);;PDF files (*.pdf);;Text files (*.txt *.md);;All files (*)"


def app_icon() -> QIcon:
    return QIcon(str(resources_dir() / "icons" / "infiniretri.svg"))


def method_summary(stats: dict) -> str:
    """A few words for the status bar on how the answer was found."""
    if stats.get("mode") == "indexed":
        return "fast follow-up from the attention index"
    return f"full pass over {stats.get('windows', 0):,} windows"


def method_note(stats: dict) -> str:
    """One sentence under the answer saying which method answered it."""
    if stats.get("mode") == "indexed":
        focus = int(stats.get("focus_tokens", 0))
        total = max(int(stats.get("document_tokens", 0)), 1)
        return (f"Fast follow-up: the whole document was scored against its attention index, then its best "
                f"{focus:,} tokens ({focus / total:.1%}) were read again in full. "
                "Question ▸ Ask with a Full Pass reads everything.")
    note = f"Full pass: all {stats.get('windows', 0):,} windows were read."
    if stats.get("index_bytes"):
        note += " The attention index is saved, so follow-up questions take seconds."
    return note


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
        self.engine = engine or Engine()
        self.history = history or HistoryStore()
        self.runner = JobRunner(self)
        self.holder = ModelHolder()
        self.settings = AppSettings.load()
        self.document: Any = None
        self.doc_key = ""
        self.doc_path: Path | None = None
        self.password: str | None = None
        self.load_job: LoadDocumentJob | None = None
        self.ask_job: AskJob | None = None
        self.passages: list[Passage] = []
        self.highlights: list[Highlight] = []
        self.passage_index = -1
        self.history_entries: list[HistoryEntry] = []
        self.error_boxes: list[QMessageBox] = []
        self._ask_started = 0.0
        self._icon_actions: list[tuple[QAction, str]] = []
        self.setWindowTitle("InfiniRetri")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self._build_widgets()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._connect()
        self._restore_layout()
        self._update_enabled()
        self.status.set_model(self._model_label())
        self.runner.start_document_job(WarmUpJob(self.engine))

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
        self.page_box = QLineEdit()
        self.page_box.setMaximumWidth(64)
        self.page_box.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.page_box.setToolTip("Page (type a page label or number, Ctrl+G)")
        self.page_count_label = QLabel()

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
        self.open_action = self._action("&Open…", self.choose_file, [QKeySequence.StandardKey.Open], "open")
        self.quit_action = self._action("&Quit", self.close, [QKeySequence.StandardKey.Quit])
        self.find_action = self._action("&Find…", self.area.open_find, [QKeySequence.StandardKey.Find], "find")
        self.zoom_in_action = self._action("Zoom &In", self.area.page_view.zoom_in, ["Ctrl++", "Ctrl+="], "zoom_in")
        self.zoom_out_action = self._action("Zoom &Out", self.area.page_view.zoom_out, ["Ctrl+-"], "zoom_out")
        self.fit_action = self._action("&Fit Width", self.area.page_view.zoom_fit_width, ["Ctrl+0"], "fit_width")
        self.goto_action = self._action("&Go to Page…", self._focus_page_box, ["Ctrl+G"])
        self.next_action = self._action("&Next Passage", self.next_passage, ["F3", "Alt+Down"], "next")
        self.previous_action = self._action(
            "&Previous Passage", self.previous_passage, ["Shift+F3", "Alt+Up"], "previous"
        )
        self.ask_action = self._action("&Ask", self.panel.request_ask, ["Ctrl+Return", "Ctrl+Enter"], "ask")
        self.ask_full_action = self._action(
            "Ask with a &Full Pass", self.ask_full_pass, ["Ctrl+Shift+Return", "Ctrl+Shift+Enter"]
        )
        self.cancel_action = self._action("&Cancel", self.escape, ["Esc"], "cancel")
        self.settings_action = self._action("&Settings…", self.open_settings, ["Ctrl+,"], "settings")
        self.about_action = self._action("&About InfiniRetri", self._about)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
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
        self.panel.passageActivated.connect(self.go_to_passage)
        self.panel.historySelected.connect(self.show_history_entry)
        self.panel.historyDeleteRequested.connect(self._delete_history_entry)
        self.area.currentPageChanged.connect(self._show_current_page)
        self.page_box.returnPressed.connect(self._page_box_entered)

    def refresh_icons(self, *_: object) -> None:
        """Recolour icons after a light/dark switch."""
        for action, name in self._icon_actions:
            action.setIcon(icon(name))
        self.panel.ask_button.setIcon(icon("ask"))
        self.panel.cancel_button.setIcon(icon("cancel"))

    # layout persistence ---------------------------------------------------------------------------
    def _restore_layout(self) -> None:
        store = QSettings()
        geometry = store.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 820)
        for key, widget in (("window/splitter", self.splitter), ("window/panel_splitter", self.panel.splitter)):
            state = store.value(key)
            if isinstance(state, QByteArray) and not state.isEmpty():
                widget.restoreState(state)
        state = store.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)

    def _save_layout(self) -> None:
        store = QSettings()
        store.setValue("window/geometry", self.saveGeometry())
        store.setValue("window/state", self.saveState())
        store.setValue("window/splitter", self.splitter.saveState())
        store.setValue("window/panel_splitter", self.panel.splitter.saveState())
        store.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self._save_layout()
        self.hide()  # feels instant even while a running job finishes its current window
        self.runner.shutdown()
        self.area.shutdown()
        super().closeEvent(event)

    # opening documents ----------------------------------------------------------------------------
    def choose_file(self) -> None:
        start = str(self.doc_path.parent) if self.doc_path else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open document", start, OPEN_FILTER)
        if path:
            self.open_file(path)

    def open_file(self, path: str | Path, password: str | None = None) -> None:
        """Load a document in the background; the running question and load are cancelled."""
        path = Path(path)
        self._detach(self.ask_job)
        self._detach(self.load_job)
        self.ask_job = None
        self._reset_document(path, password)
        job = LoadDocumentJob(self.engine, path, password)
        job.signals.probed.connect(self._on_probed)
        job.signals.progress.connect(self.status.show_progress)
        job.signals.succeeded.connect(self._on_loaded)
        job.signals.failed.connect(self._on_load_failed)
        job.signals.cancelled.connect(lambda: self.status.done("Opening cancelled"))
        job.signals.finished.connect(lambda j=job: self._on_job_finished(j))
        self.load_job = job
        self.runner.start_document_job(job)
        self.status.show_message(f"Opening {path.name}…")
        self._update_enabled()

    def _reset_document(self, path: Path, password: str | None) -> None:
        self.document, self.doc_key, self.doc_path, self.password = None, "", path, password
        self.passages, self.highlights, self.passage_index = [], [], -1
        self.history_entries = []
        self.panel.start_answer()
        self.panel.set_history([])
        self.area.show_message(f"Opening {path.name}…")
        self.setWindowTitle(f"{path.name} — InfiniRetri")
        self.page_box.clear()
        self.page_count_label.clear()

    def _on_probed(self, info: Any) -> None:
        if getattr(info, "needs_password", False) and not self.password:
            return  # the password dialog comes first
        if getattr(info, "kind", "") == "pdf" and self.doc_path is not None:
            self.area.preview_pdf(self.doc_path, int(getattr(info, "page_count", 1) or 1), self.password)
            self.page_count_label.setText(f" of {info.page_count:,} ")

    def _on_loaded(self, loaded: LoadedDocument) -> None:
        self.document, self.doc_key = loaded.document, loaded.key
        self.area.show_document(loaded.document, self.password)
        pages = len(loaded.document.pages)
        self.page_count_label.setText(f" of {pages:,} " if pages else "")
        self._show_current_page(max(0, self.area.page_view.current_page()))
        what = f"{pages:,} pages" if pages else f"{len(loaded.document.text):,} characters"
        self.status.done(f"Opened {self.doc_path.name if self.doc_path else ''}: {what} in {loaded.seconds:.1f} s")
        add_recent_file(str(self.doc_path))
        self._load_history()
        self.documentLoaded.emit(loaded.document)

    def _on_load_failed(self, failure: JobFailure) -> None:
        if failure.is_a("EncryptedDocumentError") and self._ask_password(failure):
            return
        name = self.doc_path.name if self.doc_path else "the file"
        self.area.show_message(f"Could not open {name}.\n\n{failure.message}")
        self.status.done(f"Could not open {name}")
        self.setWindowTitle("InfiniRetri")
        self.show_error(failure)

    def _ask_password(self, failure: JobFailure) -> bool:
        wrong = bool(getattr(failure.exception, "wrong_password", False))
        prompt = "Wrong password. Try again:" if wrong else "This PDF is protected. Password:"
        name = self.doc_path.name if self.doc_path else "PDF"
        password, ok = QInputDialog.getText(self, f"Password for {name}", prompt, QLineEdit.EchoMode.Password)
        if ok and password and self.doc_path is not None:
            self.open_file(self.doc_path, password)
            return True
        return False

    # drag and drop --------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.open_file(files[0])

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = recent_files()
        for path in files:
            action = self.recent_menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.triggered.connect(lambda *_, p=path: self.open_file(p))
        if not files:
            self.recent_menu.addAction("No recent files").setEnabled(False)
            return
        self.recent_menu.addSeparator()
        self.recent_menu.addAction("Clear Recent Files").triggered.connect(lambda *_: clear_recent_files())

    # asking ---------------------------------------------------------------------------------------
    def ask_full_pass(self) -> None:
        """Ask with the exact method (every window read), even when the document has an attention index."""
        self.ask(self.panel.question(), full_pass=True)

    def ask(self, question: str, full_pass: bool = False) -> None:
        question = question.strip()
        if not question:
            return
        if self.document is None:
            self.status.show_message("Open a document first.")
            return
        self._detach(self.ask_job)
        job = AskJob(
            self.engine, self.holder, self.settings.model_choice(), self.document, question,
            self.settings.retrieval(full_pass),
        )
        job.signals.progress.connect(self._on_ask_progress)
        job.signals.token.connect(self.panel.append_token)
        job.signals.succeeded.connect(self._on_answer)
        job.signals.failed.connect(self._on_ask_failed)
        job.signals.cancelled.connect(self._on_ask_cancelled)
        job.signals.finished.connect(lambda j=job: self._on_job_finished(j))
        self.ask_job = job
        self._begin_answer()
        self.runner.start_model_job(job)
        self._update_enabled()

    def _begin_answer(self) -> None:
        self._ask_started = time.monotonic()
        self.passages, self.highlights, self.passage_index = [], [], -1
        self.panel.start_answer()
        self.area.begin_run()
        self.status.show_message("Starting…")

    def _on_ask_progress(self, progress: Progress) -> None:
        if progress.stage == "loaded":
            self.status.set_model(progress.message)
            freeze_long_lived()  # the model's objects live as long as the app
            return
        self.status.show_progress(progress)
        if progress.window is not None:
            self.area.add_window(progress.window, progress.total)

    def _on_answer(self, outcome: AskOutcome) -> None:
        result = outcome.result
        self.panel.set_answer(result.answer)
        self._show_passages(result.passages, outcome.rects)
        self.area.show_result(result.windows, result.passages, self.highlights)
        seconds = time.monotonic() - self._ask_started
        self.status.done(f"Answered in {seconds:.1f} s · {len(result.passages)} passages · {method_summary(result.stats)}")
        self.panel.set_method(method_note(result.stats))
        self.status.set_model(f"{outcome.model_name} on {outcome.device}" if outcome.device else outcome.model_name)
        self._remember(outcome)
        self.answerFinished.emit(outcome)

    def _show_passages(self, passages: list[Passage], rects: list) -> None:
        self.passages = list(passages)
        self.highlights = [
            Highlight(p.start, p.end, p.score, i, tuple(rects[i]) if i < len(rects) else ())
            for i, p in enumerate(self.passages)
        ]
        self.passage_index = -1
        self.panel.set_passages([PassageRow(self._location(p.start), p.score, p.text) for p in self.passages])

    def _location(self, offset: int) -> str:
        document = self.document
        if document is not None and document.kind == "pdf":
            page = document.page_at(offset)
            return f"p. {document.page_label(page)}" if page is not None else ""
        return self.area.text_view.location_label(offset).split(" of ")[0]

    def _on_ask_failed(self, failure: JobFailure) -> None:
        self.status.done("The question could not be answered")
        self.area.strip.set_expected(len(self.area.strip.windows))
        if failure.is_a("ModelLoadError"):
            self.holder.forget()
            self.status.set_model(self._model_label())
        self.show_error(failure)

    def _on_ask_cancelled(self) -> None:
        self.status.done("Cancelled")
        self.panel.show_status("Cancelled.")
        self.runCancelled.emit()

    def _on_job_finished(self, job: Job) -> None:
        if job is self.ask_job:
            self.ask_job = None
        if job is self.load_job:
            self.load_job = None
        self._update_enabled()

    def cancel(self) -> None:
        """Stop the running question (or document load); the core stops within about one window."""
        for job in (self.ask_job, self.load_job):
            if job is not None:
                job.cancel()
        if self.busy:
            self.status.show_message("Cancelling…")

    def escape(self) -> None:
        if self.area.find_bar.isVisible() and self.area.find_bar.isAncestorOf(QApplication.focusWidget()):
            self.area.find_bar.close_bar()
            return
        self.cancel()

    @property
    def busy(self) -> bool:
        return self.ask_job is not None or self.load_job is not None

    def _detach(self, job: Job | None) -> None:
        if job is not None:
            job.detach()

    def _update_enabled(self) -> None:
        has_document = self.document is not None
        self.panel.set_busy(self.busy)
        self.cancel_action.setEnabled(self.busy)
        self.panel.set_can_ask(has_document)
        self.ask_action.setEnabled(has_document)
        self.ask_full_action.setEnabled(has_document)
        is_pdf = has_document and self.document.kind == "pdf"
        for action in (self.zoom_in_action, self.zoom_out_action, self.fit_action, self.goto_action):
            action.setEnabled(is_pdf or self.area.is_pdf)
        self.page_box.setEnabled(is_pdf)
        self.find_action.setEnabled(has_document)

    # passages -------------------------------------------------------------------------------------
    def go_to_passage(self, index: int) -> None:
        if not 0 <= index < len(self.highlights):
            return
        self.passage_index = index
        self.area.show_highlight(self.highlights[index])
        self.panel.select_passage(index)

    def next_passage(self) -> None:
        if self.highlights:
            self.go_to_passage((self.passage_index + 1) % len(self.highlights))

    def previous_passage(self) -> None:
        if self.highlights:
            self.go_to_passage((self.passage_index - 1) % len(self.highlights))

    # page navigation ------------------------------------------------------------------------------
    def _show_current_page(self, index: int) -> None:
        view = self.area.page_view
        if 0 <= index < view.page_count and not self.page_box.hasFocus():
            self.page_box.setText(view.pages[index].label or str(index + 1))

    def _focus_page_box(self) -> None:
        self.page_box.setFocus()
        self.page_box.selectAll()

    def _page_box_entered(self) -> None:
        index = self.page_index_for(self.page_box.text())
        if index is not None:
            self.area.page_view.go_to_page(index)
        self.area.page_view.setFocus()

    def page_index_for(self, text: str) -> int | None:
        """A page label ('iv', 'A-3') or a 1-based page number."""
        text = text.strip()
        pages = self.area.page_view.pages
        for i, page in enumerate(pages):
            if page.label and page.label == text:
                return i
        if text.isdigit() and 1 <= int(text) <= len(pages):
            return int(text) - 1
        return None

    # history --------------------------------------------------------------------------------------
    def _remember(self, outcome: AskOutcome) -> None:
        if not self.doc_key or self.doc_path is None:
            return
        try:
            self.history.add(self.doc_key, self.doc_path, outcome.question, outcome.result, outcome.model_name)
        except Exception as exc:  # a full disk must not lose the answer on screen
            self.status.show_message(f"Could not save the history: {exc}")
        self._load_history()

    def _load_history(self) -> None:
        try:
            self.history_entries = self.history.entries(self.doc_key) if self.doc_key else []
        except Exception:
            self.history_entries = []
        self.panel.set_history(self.history_entries)

    def show_history_entry(self, entry_id: int) -> None:
        entry = next((e for e in self.history_entries if e.id == entry_id), None)
        if entry is None or self.document is None:
            return
        self._detach(self.ask_job)
        self.ask_job = None
        result = entry.to_result()
        self.panel.set_question(entry.question)
        self.panel.set_answer(entry.answer)
        self._show_passages(result.passages, passage_rects(self.document, result))
        self.area.show_result(result.windows, result.passages, self.highlights)
        self.status.done(f"Answer from {time.strftime('%Y-%m-%d %H:%M', time.localtime(entry.created))}")
        self._update_enabled()

    def _delete_history_entry(self, entry_id: int) -> None:
        self.history.delete(entry_id)
        self._load_history()

    # settings and dialogs -------------------------------------------------------------------------
    def open_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self)
        if dialog.exec():
            self.apply_settings(dialog.settings())

    def apply_settings(self, settings: AppSettings) -> None:
        """Persist new settings; a different model or device is loaded (lazily) for the next question."""
        changed_model = settings.model_choice() != self.settings.model_choice()
        self.settings = settings
        settings.save()
        if changed_model:
            self.holder.forget()
        self.status.set_model(self._model_label())

    def _model_label(self) -> str:
        loaded = self.holder.loaded
        if loaded is not None:
            return f"{getattr(loaded, 'name', '')} on {getattr(loaded, 'device', '')}"
        spec = self.settings.model_spec
        name = "bundled model" if spec == "bundled" else Path(spec).name or spec
        return f"{name} · {self.settings.device} (loads on first question)"

    def show_error(self, failure: JobFailure) -> QMessageBox:
        """A readable, non-blocking error dialog; the traceback is under 'Show Details'."""
        self.jobFailed.emit(failure)
        box = QMessageBox(QMessageBox.Icon.Critical, failure.title, failure.message, QMessageBox.StandardButton.Ok, self)
        if failure.details:
            box.setDetailedText(failure.details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda *_: self.error_boxes.remove(box) if box in self.error_boxes else None)
        self.error_boxes.append(box)
        box.open()
        return box

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About InfiniRetri",
            "<b>InfiniRetri Desktop</b><br>Ask questions of very long documents with a local model that "
            "finds passages by its own attention.",
        )
