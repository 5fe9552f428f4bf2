"""End-to-end GUI flows, offscreen: open, ask, watch the strip, click passages, cancel, errors, history."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from app.retrieval.types import Progress
from app.ui.app_settings import AppSettings
from app.ui.workers import Engine, FailureKind
from tests import test_gui_helpers as helpers
from tests.documents_fixtures import make_pdf
from tests.test_gui_helpers import ask_and_wait, make_window, open_and_wait, page_texts

# shared fixtures
isolated = helpers.isolated
sample_pdf = helpers.sample_pdf
fake_core = helpers.fake_core

pytestmark = pytest.mark.gui


def click_passage(qtbot, window, row: int) -> None:
    view = window.panel.passage_list
    rect = view.visualItemRect(view.item(row))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def passage_on_later_page(window) -> int:
    """Index of a passage that is not on page 1, so that jumping to it must scroll."""
    pages = [window.document.page_at(p.start) for p in window.passages]
    return max(range(len(pages)), key=lambda i: pages[i])


def wait_idle(qtbot, window, timeout: int = 30000) -> None:
    qtbot.waitUntil(lambda: not window.busy, timeout=timeout)


# ------------------------------------------------------------------------------------------- happy path


def test_open_ask_strip_passages_and_jump(qtbot, sample_pdf, fake_core, isolated):
    window = make_window(qtbot, fake_core.engine(), isolated)
    document = open_and_wait(qtbot, window, sample_pdf)
    assert document.kind == "pdf" and len(document.pages) == 8
    assert window.page_count_label.text().strip() == "of 8"
    outcome = ask_and_wait(qtbot, window, "Which crate weighs the most kilograms?")

    windows = outcome.result.windows
    assert window.area.strip.cell_count() == len(windows) > 3
    assert window.panel.passage_list.count() == len(outcome.result.passages) > 0
    assert window.panel.answer_text().startswith("The answer is")
    assert fake_core.threads and threading.get_ident() not in fake_core.threads  # core ran off the GUI thread

    row = passage_on_later_page(window)
    page = window.document.page_at(window.passages[row].start)
    assert page > 0
    click_passage(qtbot, window, row)
    view = window.area.page_view
    qtbot.waitUntil(lambda: view.current_page() == page, timeout=3000)
    assert view.highlights_on_page(page), "the passage is highlighted on its page"
    assert view.selected is not None and view.selected.passage == row
    assert view.flash.active
    qtbot.waitUntil(lambda: view.painted_highlights.get(page, 0) > 0, timeout=3000)
    assert window.panel.passage_list.currentRow() == row


def test_strip_fills_live_while_scanning(qtbot, sample_pdf, fake_core, isolated):
    fake_core.delay = 0.03
    window = make_window(qtbot, fake_core.engine(), isolated)
    open_and_wait(qtbot, window, sample_pdf)
    window.ask("What colour is box 4?")
    qtbot.waitUntil(lambda: 0 < window.area.strip.cell_count() < window.area.strip.expected_windows, timeout=10000)
    assert window.busy
    qtbot.waitUntil(lambda: not window.busy, timeout=20000)
    assert window.area.strip.cell_count() == window.area.strip.expected_windows


def test_next_previous_passage_shortcuts(qtbot, sample_pdf, fake_core, isolated):
    window = make_window(qtbot, fake_core.engine(), isolated)
    open_and_wait(qtbot, window, sample_pdf)
    ask_and_wait(qtbot, window, "Which crate weighs the most kilograms?")
    count = len(window.passages)
    assert count >= 2
    window.area.page_view.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_F3)
    assert window.passage_index == 0
    qtbot.keyClick(window, Qt.Key.Key_F3)
    assert window.passage_index == 1
    qtbot.keyClick(window, Qt.Key.Key_F3, Qt.KeyboardModifier.ShiftModifier)
    assert window.passage_index == 0
    qtbot.keyClick(window, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    assert window.passage_index == count - 1


def test_ctrl_enter_in_question_box_asks(qtbot, sample_pdf, fake_core, isolated):
    window = make_window(qtbot, fake_core.engine(), isolated)
    open_and_wait(qtbot, window, sample_pdf)
    box = window.panel.question_box
    box.setFocus()
    qtbot.keyClicks(box, "What colour is box 6?")
    with qtbot.waitSignal(window.answerFinished, timeout=20000) as blocker:
        qtbot.keyClick(box, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert blocker.args[0].question == "What colour is box 6?"
    assert box.toPlainText() == "What colour is box 6?"  # no newline typed


def test_heat_strip_click_jumps_to_page(qtbot, sample_pdf, fake_core, isolated):
    window = make_window(qtbot, fake_core.engine(), isolated)
    open_and_wait(qtbot, window, sample_pdf)
    ask_and_wait(qtbot, window, "What colour is box 7?")
    strip = window.area.strip
    qtbot.mouseClick(strip, Qt.MouseButton.LeftButton, pos=strip.rect().center())
    view = window.area.page_view
    top, bottom = view.viewport_fractions()
    assert top <= 0.5 <= bottom + 0.05
    assert "Page" in strip.describe(strip.height() * 0.9)


# ------------------------------------------------------------------------------------------- cancel


def test_cancel_midway_then_app_is_usable(qtbot, isolated, fake_core):
    path = make_pdf(isolated / "long.pdf", page_texts(10) * 3)
    fake_core.delay = 0.05
    fake_core.window_chars = 60  # ~150 windows: ~7 s uncancelled
    window = make_window(qtbot, fake_core.engine(), isolated)
    open_and_wait(qtbot, window, path)
    window.ask("What colour is box 9?")
    qtbot.waitUntil(lambda: window.area.strip.cell_count() >= 3, timeout=10000)
    with qtbot.waitSignal(window.runCancelled, timeout=2000):
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    wait_idle(qtbot, window, 2000)
    assert window.area.strip.cell_count() < window.area.strip.expected_windows
    assert window.status.message.text() == "Cancelled"

    fake_core.delay = 0.0
    outcome = ask_and_wait(qtbot, window, "What colour is box 9?")
    assert window.area.strip.cell_count() == len(outcome.result.windows)


def test_new_question_cancels_running_one(qtbot, sample_pdf, fake_core, isolated):
    fake_core.delay = 0.05
    fake_core.window_chars = 40
    window = make_window(qtbot, fake_core.engine(), isolated)
    open_and_wait(qtbot, window, sample_pdf)
    finished = []
    window.answerFinished.connect(lambda outcome: finished.append(outcome.question))
    window.ask("What colour is box 2?")
    qtbot.waitUntil(lambda: window.area.strip.cell_count() >= 2, timeout=10000)
    fake_core.delay = 0.0
    ask_and_wait(qtbot, window, "What colour is box 5?")
    wait_idle(qtbot, window)
    qtbot.wait(100)
    assert finished == ["What colour is box 5?"]
    assert fake_core.model_loads == 1  # the model is loaded once and reused


def test_new_file_cancels_running_question(qtbot, sample_pdf, fake_core, isolated):
    fake_core.delay = 0.05
    fake_core.window_chars = 40
    window = make_window(qtbot, fake_core.engine(), isolated)
    open_and_wait(qtbot, window, sample_pdf)
    window.ask("What colour is box 2?")
    qtbot.waitUntil(lambda: window.area.strip.cell_count() >= 2, timeout=10000)
    other = make_pdf(isolated / "other.pdf", page_texts(3))
    open_and_wait(qtbot, window, other)
    wait_idle(qtbot, window)
    assert window.area.strip.cell_count() == 0
    assert window.panel.passage_list.count() == 0
    assert len(window.document.pages) == 3


# ------------------------------------------------------------------------------------------- errors


def test_corrupt_file_shows_error_and_app_stays_usable(qtbot, isolated, sample_pdf, fake_core):
    broken = isolated / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + os.urandom(4000))
    window = make_window(qtbot, fake_core.engine(), isolated)
    with qtbot.waitSignal(window.jobFailed, timeout=20000) as blocker:
        window.open_file(broken)
    failure = blocker.args[0]
    assert failure.kind is FailureKind.DOCUMENT
    assert "Traceback" not in failure.message and failure.message
    box = window.error_boxes[-1]
    assert isinstance(box, QMessageBox) and box.isVisible() and box.text() == failure.message
    assert window.document is None
    box.accept()
    wait_idle(qtbot, window)
    open_and_wait(qtbot, window, sample_pdf)
    ask_and_wait(qtbot, window, "What colour is box 3?")


def test_failing_model_shows_error_and_app_stays_usable(qtbot, sample_pdf, fake_core, isolated):
    engine = Engine(answer=fake_core.answer)  # the real load_model
    window = make_window(qtbot, engine, isolated)
    open_and_wait(qtbot, window, sample_pdf)
    window.apply_settings(AppSettings(model_kind="folder", model_path=str(isolated / "no-such-model")))
    with qtbot.waitSignal(window.jobFailed, timeout=20000) as blocker:
        window.ask("What colour is box 3?")
    failure = blocker.args[0]
    assert failure.kind is FailureKind.MODEL
    assert "no-such-model" in failure.message
    assert window.error_boxes and window.error_boxes[-1].isVisible()
    wait_idle(qtbot, window)
    window.error_boxes[-1].accept()

    window.engine = fake_core.engine()
    outcome = ask_and_wait(qtbot, window, "What colour is box 3?")
    assert outcome.result.passages


def test_exception_in_core_becomes_dialog(qtbot, sample_pdf, fake_core, isolated):
    def broken_answer(*args, **kwargs):
        raise ZeroDivisionError("division by zero in scoring")

    window = make_window(qtbot, fake_core.engine(answer=broken_answer), isolated)
    open_and_wait(qtbot, window, sample_pdf)
    with qtbot.waitSignal(window.jobFailed, timeout=10000) as blocker:
        window.ask("anything?")
    assert blocker.args[0].message == "ZeroDivisionError: division by zero in scoring"
    assert "Traceback" in window.error_boxes[-1].detailedText()
    wait_idle(qtbot, window)
    assert window.panel.ask_button.isEnabled()


def test_encrypted_pdf_asks_for_password(qtbot, isolated, fake_core, monkeypatch):
    from tests.documents_fixtures import make_encrypted_pdf

    path = make_encrypted_pdf(isolated / "secret.pdf", page_texts(2), "hunter2")
    answers = iter([("wrong", True), ("hunter2", True)])
    prompts = []

    def fake_get_text(parent, title, label, echo=None, *args, **kwargs):
        prompts.append(label)
        return next(answers)

    monkeypatch.setattr("app.ui.dialogs.QInputDialog.getText", fake_get_text)
    window = make_window(qtbot, fake_core.engine(), isolated)
    with qtbot.waitSignal(window.documentLoaded, timeout=20000):
        window.open_file(path)
    assert len(window.document.pages) == 2
    assert len(prompts) == 2 and "Wrong password" in prompts[1]


# ------------------------------------------------------------------------------------------- text, find, history


def test_a_scanned_pdf_offers_text_recognition(qtbot, isolated, fake_core, monkeypatch):
    from PySide6.QtWidgets import QPushButton

    from app.documents import pdf_loader
    from tests.documents_fixtures import make_image_only_pdf

    path = make_image_only_pdf(isolated / "scan.pdf")
    monkeypatch.setattr(pdf_loader, "tesseract_available", lambda: True)
    monkeypatch.setattr("app.documents.tesseract_available", lambda: True)
    words = [(56.0, 60.0, 120.0, 72.0, "Scanned", 0, 0, 0), (124.0, 60.0, 170.0, 72.0, "words.", 0, 0, 1)]
    monkeypatch.setattr(pdf_loader, "_ocr_words", lambda page, index, warnings: list(words))
    window = make_window(qtbot, fake_core.engine(), isolated)
    with qtbot.waitSignal(window.jobFailed, timeout=20000) as blocker:
        window.open_file(path)
    failure = blocker.args[0]
    assert failure.kind is FailureKind.NO_TEXT_LAYER and failure.ocr_available
    buttons = [b for b in window.error_boxes[-1].findChildren(QPushButton) if "OCR" in b.text()]
    assert len(buttons) == 1
    with qtbot.waitSignal(window.documentLoaded, timeout=20000) as loaded:
        buttons[0].click()
    assert loaded.args[0].text.startswith("Scanned words.")


def test_text_file_highlights_and_jump(qtbot, isolated, fake_core):
    path = isolated / "notes.txt"
    path.write_text("\n\n".join(page_texts(30)), encoding="utf-8")
    window = make_window(qtbot, fake_core.engine(), isolated)
    open_and_wait(qtbot, window, path)
    assert window.area.view is window.area.text_view
    ask_and_wait(qtbot, window, "What colour is box 27?")
    text_view = window.area.text_view
    assert len(text_view.extraSelections()) >= len(window.passages) > 0
    last = len(window.passages) - 1
    click_passage(qtbot, window, last)
    assert text_view.cursor_offset() == window.passages[last].start
    assert text_view.selected is not None and text_view.selected.passage == last


def test_text_highlights_stay_on_their_passages_after_emoji_and_rare_cjk(qtbot, isolated, fake_core):
    """Each emoji or CJK Extension B character is two UTF-16 units in Qt and one character in Python."""
    path = isolated / "emoji.txt"
    prefix = "Party 😀🎉 notes with rare ideographs 𠀀𠀁𪚥 first. " * 4
    path.write_text(prefix + "\n\n" + "\n\n".join(page_texts(8)), encoding="utf-8")
    window = make_window(qtbot, fake_core.engine(), isolated)
    open_and_wait(qtbot, window, path)
    ask_and_wait(qtbot, window, "What colour is box 7?")
    text_view = window.area.text_view
    passages = window.passages
    assert passages and all(p.start > len(prefix) for p in passages)
    selected = [s.cursor.selectedText() for s in text_view.extraSelections()[: len(passages)]]
    assert selected == [p.text for p in passages]
    click_passage(qtbot, window, len(passages) - 1)
    assert text_view.cursor_offset() == passages[-1].start
    cursor = text_view.textCursor()
    assert cursor.block().text()[cursor.positionInBlock():].startswith(passages[-1].text)
    middle = passages[-1].start + 3
    assert text_view.offset_at_fraction(text_view.fraction_of_offset(middle)) == pytest.approx(middle, abs=1)


def test_find_keeps_offsets_when_lower_case_changes_length(qtbot, isolated, fake_core):
    """'İ'.lower() is two characters: searching a lower-cased copy would shift every later match."""
    path = isolated / "turkish.txt"
    path.write_text("İstanbul İzmir İznik. " * 5 + "\n\nThe crate weighs 38 kilograms.", encoding="utf-8")
    window = make_window(qtbot, fake_core.engine(), isolated)
    open_and_wait(qtbot, window, path)
    match = window.area.find("WEIGHS 38")
    text = window.document.text
    assert match is not None and (match.start, match.end) == (text.index("weighs 38"), text.index("weighs 38") + 9)
    selection = window.area.text_view.extraSelections()[-1]
    assert selection.cursor.selectedText() == "weighs 38"
    assert window.area.find("istanbul") is not None
    backwards = window.area.find("weighs", forward=False)
    assert backwards is not None and text[backwards.start : backwards.end] == "weighs"


def test_find_in_pdf_jumps_and_highlights(qtbot, sample_pdf, fake_core, isolated):
    window = make_window(qtbot, fake_core.engine(), isolated)
    open_and_wait(qtbot, window, sample_pdf)
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.area.find_bar.isVisible()
    qtbot.keyClicks(window.area.find_bar.edit, "weighs 59")
    qtbot.keyClick(window.area.find_bar.edit, Qt.Key.Key_Return)
    view = window.area.page_view
    match = view.find_match
    assert match is not None and match.rects and match.rects[0][0] == 7
    qtbot.waitUntil(lambda: view.current_page() == 7, timeout=3000)
    assert window.area.find_bar.status.text() == "Page 8"
    qtbot.keyClick(window.area.find_bar.edit, Qt.Key.Key_Escape)
    assert not window.area.find_bar.isVisible()


def test_history_comes_back_when_file_is_reopened(qtbot, sample_pdf, fake_core, isolated):
    window = make_window(qtbot, fake_core.engine(), isolated)
    open_and_wait(qtbot, window, sample_pdf)
    first = ask_and_wait(qtbot, window, "What colour is box 2?")
    ask_and_wait(qtbot, window, "Which crate weighs the most kilograms?")
    assert window.panel.history_list.count() == 2
    window.close()

    again = make_window(qtbot, fake_core.engine(), isolated)
    open_and_wait(qtbot, again, sample_pdf)
    assert again.panel.history_list.count() == 2
    item = again.panel.history_list.item(1)  # newest first: the first question is second
    again.panel.history_list.itemClicked.emit(item)
    assert again.panel.question() == "What colour is box 2?"
    assert again.panel.answer_text() == first.result.answer
    assert len(again.passages) == len(first.result.passages)
    assert again.area.strip.cell_count() == len(first.result.windows)
    assert sum(len(again.area.page_view.highlights_on_page(i)) for i in range(8)) >= len(again.passages)


# ------------------------------------------------------------------------------------------- desktop things


def test_drop_file_opens_it(qtbot, sample_pdf, fake_core, isolated):
    window = make_window(qtbot, fake_core.engine(), isolated)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(sample_pdf))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.documentLoaded, timeout=20000):
        window.dropEvent(event)
    assert window.doc_path == sample_pdf


def test_recent_files_settings_and_layout_persist(qtbot, sample_pdf, fake_core, isolated):
    window = make_window(qtbot, fake_core.engine(), isolated)
    open_and_wait(qtbot, window, sample_pdf)
    window.apply_settings(AppSettings(model_kind="hub", model_path="org/model", device="cpu", window_tokens=512,
                                      top_k=50))
    window.splitter.setSizes([700, 300])
    sizes = window.splitter.sizes()
    window.close()

    again = make_window(qtbot, fake_core.engine(), isolated)
    assert again.settings.model_spec == "org/model" and again.settings.device == "cpu"
    assert again.settings.retrieval().window_tokens == 512 and again.settings.retrieval().top_k == 50
    again.recent_menu.aboutToShow.emit()
    names = [a.text() for a in again.recent_menu.actions()]
    assert sample_pdf.name in names
    assert abs(again.splitter.sizes()[0] - sizes[0]) <= 20


def test_zoom_and_page_box(qtbot, sample_pdf, fake_core, isolated):
    window = make_window(qtbot, fake_core.engine(), isolated)
    open_and_wait(qtbot, window, sample_pdf)
    view = window.area.page_view
    before = view.zoom
    window.zoom_in_action.trigger()
    assert view.zoom > before and not view.fit_width
    window.fit_action.trigger()
    assert view.fit_width
    window.page_box.setText("6")
    qtbot.keyClick(window.page_box, Qt.Key.Key_Return)
    assert view.current_page() == 5
    qtbot.waitUntil(lambda: view.is_rendered(5), timeout=5000)


# ------------------------------------------------------------------------------------------- real models


def test_tiny_model_end_to_end(qtbot, isolated, tiny_model):
    """The real core (loader, tokenizer, attention scoring, generation) on the tiny model, through the window."""
    path = make_pdf(isolated / "inventory.pdf", page_texts(12))
    engine = Engine(load_model=lambda spec, device, on_progress=None, cancel=None: tiny_model)
    window = make_window(qtbot, engine, isolated)
    document = open_and_wait(qtbot, window, path)
    assert len(document.pages) == 12
    outcome = ask_and_wait(qtbot, window, "What colour is box 9?", timeout=120000)
    result = outcome.result
    assert result.stats["mode"] == "full" and window.panel.method_label.text().startswith("Full pass")
    assert window.area.strip.cell_count() == len(result.windows) >= 1
    assert window.panel.passage_list.count() == len(result.passages) > 0
    assert all(document.text[p.start : p.end] == p.text for p in window.passages)

    view = window.area.page_view
    for i, passage in enumerate(window.passages):  # every passage is highlighted on its own page
        page = document.page_at(passage.start)
        assert any(h.passage == i for h in view.highlights_on_page(page)), passage.text
    row = passage_on_later_page(window)
    page = document.page_at(window.passages[row].start)
    assert page > 0, "the tiny model retained a passage beyond the first page"
    click_passage(qtbot, window, row)
    qtbot.waitUntil(lambda: view.current_page() == page, timeout=3000)
    assert view.selected is not None and view.selected.passage == row
    highlight = view.selected
    assert highlight.rects and {p for p, _ in highlight.rects} == {page}
    qtbot.waitUntil(lambda: view.painted_highlights.get(page, 0) > 0, timeout=5000)
    assert window.panel.passage_list.currentRow() == row


def test_fast_method_uses_the_index_and_a_full_pass_is_one_shortcut_away(qtbot, sample_pdf, isolated, tiny_model,
                                                                         monkeypatch):
    # the tiny model reads a short document whole in auto mode; pretend that would be slow
    monkeypatch.setattr("app.retrieval.pipeline.estimate_full_pass_seconds", lambda *args, **kwargs: 1e9)
    engine = Engine(load_model=lambda spec, device, on_progress=None, cancel=None: tiny_model)
    window = make_window(qtbot, engine, isolated)
    with qtbot.waitSignal(window.indexing.completed, timeout=120000):
        open_and_wait(qtbot, window, sample_pdf)
    fast = ask_and_wait(qtbot, window, "Which crate weighs the most?", timeout=120000)
    stats = fast.result.stats
    assert stats["mode"] == "auto" and stats["indexed_tokens"] == stats["document_tokens"] > 0
    note = window.panel.method_label.text()
    assert "keyword search" in note and "and sentence meaning rank best" in note, "auto's candidate sources"
    assert "attention_seconds" not in stats, "auto does not rank by the attention index (no share of its own)"
    assert "fast:" in window.status.message.text()
    assert window.area.strip.cell_count() == len(fast.result.windows)
    assert window.panel.passage_list.count() == len(fast.result.passages) > 0

    window.panel.set_question("What colour is box 4?")
    with qtbot.waitSignal(window.answerFinished, timeout=120000) as finished:
        qtbot.keyClick(window.panel.question_box, Qt.Key.Key_Return,
                       Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert finished.args[0].result.stats["mode"] == "full", "Ctrl+Shift+Enter forces the exact full pass"
    assert window.panel.method_label.text().startswith("Full pass: all ")

    window.apply_settings(AppSettings(method="full"))
    exact = ask_and_wait(qtbot, window, "Which crate weighs the most?", timeout=120000)
    assert exact.result.stats["mode"] == "full", "Method: Exact full pass"


@pytest.mark.slow
def test_bundled_model_end_to_end(qtbot, sample_pdf, isolated, bundled_model):
    engine = Engine(load_model=lambda spec, device, on_progress=None, cancel=None: bundled_model)
    window = make_window(qtbot, engine, isolated)
    open_and_wait(qtbot, window, sample_pdf)
    outcome = ask_and_wait(qtbot, window, "What colour is box 4?", timeout=600000)
    assert outcome.result.answer.strip()
    assert window.area.strip.cell_count() == len(outcome.result.windows)
    texts = " ".join(p.text for p in outcome.result.passages)
    assert "box 4" in texts
    assert outcome.model_name


# ------------------------------------------------------------------------------------------- cancel and quit


def test_cancel_during_a_model_load_that_cannot_be_interrupted(qtbot, sample_pdf, fake_core, isolated):
    import time

    def stubborn_load(spec, device, on_progress=None, cancel=None):
        on_progress(Progress("loading", 0, 0, message="loading a big model"))
        time.sleep(3)  # reading weights: no cancel point
        return fake_core.load_model(spec, device)

    window = make_window(qtbot, fake_core.engine(load_model=stubborn_load), isolated)
    open_and_wait(qtbot, window, sample_pdf)
    window.ask("What colour is box 3?")
    qtbot.waitUntil(lambda: "Loading the model" in window.status.message.text(), timeout=5000)
    started = time.monotonic()
    with qtbot.waitSignal(window.runCancelled, timeout=2000):
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert time.monotonic() - started < 1.0
    assert not window.busy and window.panel.ask_button.isEnabled()
    window.engine = fake_core.engine()
    outcome = ask_and_wait(qtbot, window, "What colour is box 3?")
    assert outcome.result.passages
    assert window.holder.wait(10) and window.holder.loaded is not None


def test_cancel_while_a_document_loads(qtbot, isolated, fake_core):
    import time

    path = make_pdf(isolated / "long.pdf", page_texts(10) * 4)

    def slow_load(path, password=None, on_progress=None, cancel=None, ocr=False):
        for page in range(40):
            time.sleep(0.1)  # ignores cancel: the job still reports within a second
            on_progress(page + 1, 40)
        raise AssertionError("never reached in this test")

    window = make_window(qtbot, fake_core.engine(load_document=slow_load), isolated)
    window.open_file(path)
    qtbot.waitUntil(lambda: "page" in window.status.message.text(), timeout=5000)
    started = time.monotonic()
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.busy, timeout=1500)
    assert time.monotonic() - started < 1.0
    assert window.status.message.text() == "Opening cancelled"


def test_closing_while_a_question_runs_is_immediate(qtbot, sample_pdf, fake_core, isolated):
    import time

    fake_core.delay = 0.05
    fake_core.window_chars = 20
    window = make_window(qtbot, fake_core.engine(), isolated)
    open_and_wait(qtbot, window, sample_pdf)
    window.ask("What colour is box 2?")
    qtbot.waitUntil(lambda: window.area.strip.cell_count() >= 2, timeout=10000)
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started < 0.3
    assert not window.isVisible()
    assert window.wait_for_workers(5000), "the cancelled question returns within a window"


def test_quitting_with_a_stuck_worker_ends_the_process(tmp_path):
    """The real entry point: close the window while a worker sleeps without looking at cancel."""
    import subprocess
    import sys
    import time

    script = tmp_path / "quit.py"
    script.write_text(
        "import os, sys, time\n"
        "from PySide6.QtCore import QSettings, QTimer\n"
        "from app.ui import main\n"
        "from app.ui.workers import Engine\n"
        "def stuck(*args, **kwargs):\n"
        "    time.sleep(120)\n"
        "QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, sys.argv[2])\n"
        "QSettings.setDefaultFormat(QSettings.Format.IniFormat)\n"
        "app = main.make_application()\n"
        "def close():\n"
        "    print('closing', time.monotonic(), flush=True)\n"
        "    for widget in app.topLevelWidgets():\n"
        "        widget.close()\n"
        "QTimer.singleShot(1500, close)\n"
        "code = main.run_gui(sys.argv[1], engine=Engine(load_document=stuck))\n"
        "print('returned', flush=True)\n"
        "sys.exit(code)\n"
    )
    document = tmp_path / "notes.txt"
    document.write_text("Some text. More text.", encoding="utf-8")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(Path(__file__).resolve().parent.parent),
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_CACHE_HOME=str(tmp_path / "cache"))
    process = subprocess.Popen([sys.executable, str(script), str(document), str(tmp_path / "qs")], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError("the app hung after its window was closed") from None
    ended = time.monotonic()
    closing = float(out.split("closing ")[1].split()[0])
    assert process.returncode == 0, err
    assert ended - closing < 10, f"the process took {ended - closing:.1f} s to end after the window closed"
    assert "Traceback" not in err


def test_gc_freeze_runs_once_per_model_load(qtbot, sample_pdf, fake_core, isolated, monkeypatch):
    from app.ui.controllers import asking

    freezes = []
    monkeypatch.setattr(asking, "freeze_long_lived", lambda: freezes.append(1))
    window = make_window(qtbot, fake_core.engine(), isolated)
    open_and_wait(qtbot, window, sample_pdf)
    for question in ("What colour is box 1?", "What colour is box 2?", "What colour is box 3?"):
        ask_and_wait(qtbot, window, question)
    assert fake_core.model_loads == 1 and len(freezes) == 1
    assert window.status.model.text().startswith("fake-model")


# ------------------------------------------------------------------------------------------- history problems


def test_a_damaged_history_is_moved_aside_and_the_app_starts(qtbot, sample_pdf, fake_core, isolated, monkeypatch):
    from app.ui.main_window import MainWindow

    data = isolated / "xdg_data_home" / "InfiniRetri"
    data.mkdir(parents=True)
    (data / "history.sqlite3").write_bytes(b"this is not a database" * 100)
    notices = []
    monkeypatch.setattr("app.ui.dialogs.notice_box", lambda parent, title, text: notices.append(text))
    window = MainWindow(engine=fake_core.engine())
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: bool(notices), timeout=3000)
    assert len(notices) == 1 and "moved to history.sqlite3.damaged-" in notices[0]
    assert len(list(data.glob("history.sqlite3.damaged-*"))) == 1
    open_and_wait(qtbot, window, sample_pdf)
    ask_and_wait(qtbot, window, "What colour is box 4?")
    assert window.panel.history_list.count() == 1
    assert len(notices) == 1, "said once"


def test_an_unwritable_history_keeps_answers_for_the_session(qtbot, sample_pdf, fake_core, isolated, monkeypatch):
    from app.ui.main_window import MainWindow

    blocker = isolated / "xdg_data_home"
    blocker.write_text("a file where the data folder should be")  # nothing can be created below it
    notices = []
    monkeypatch.setattr("app.ui.dialogs.notice_box", lambda parent, title, text: notices.append(text))
    window = MainWindow(engine=fake_core.engine())
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: bool(notices), timeout=3000)
    assert "cannot be saved" in notices[0]
    open_and_wait(qtbot, window, sample_pdf)
    ask_and_wait(qtbot, window, "What colour is box 4?")
    ask_and_wait(qtbot, window, "What colour is box 5?")
    assert window.panel.history_list.count() == 2


def test_deleting_a_history_entry_that_fails_is_reported(qtbot, sample_pdf, fake_core, isolated, monkeypatch):
    import sqlite3

    window = make_window(qtbot, fake_core.engine(), isolated)
    open_and_wait(qtbot, window, sample_pdf)
    ask_and_wait(qtbot, window, "What colour is box 4?")
    notices = []
    monkeypatch.setattr("app.ui.dialogs.notice_box", lambda parent, title, text: notices.append(text))

    def locked(entry_id):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(window.history.store, "delete", locked)
    entry_id = window.history.entries[0].id
    window.panel.historyDeleteRequested.emit(entry_id)
    window.panel.historyDeleteRequested.emit(entry_id)
    assert "could not be deleted" in window.status.message.text()
    assert len(notices) == 1 and "database is locked" in notices[0]
    assert window.panel.history_list.count() == 1
