"""Indexing a document in the background, offscreen: progress on the strip and in the status bar, a
question pausing the build and its resumption, Stop Indexing, errors, and the real core on the tiny model."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from app.ui.app_settings import AppSettings
from app.ui.workers import Engine
from tests import test_gui_helpers as helpers
from tests.documents_fixtures import make_pdf
from tests.test_gui_helpers import ask_and_wait, make_window, open_and_wait, page_texts

isolated = helpers.isolated
sample_pdf = helpers.sample_pdf
fake_core = helpers.fake_core

pytestmark = pytest.mark.gui


def slow_index(fake_core, window_chars: int = 40, delay: float = 0.04) -> None:
    """About 26 windows of 40 characters for the 8-page sample, 40 ms each."""
    fake_core.window_chars, fake_core.index_delay = window_chars, delay


def indexed_windows(window) -> int:
    return window.indexing.state.done


def wait_phase(qtbot, window, phase: str, timeout: int = 10000) -> None:
    qtbot.waitUntil(lambda: window.indexing.state.phase == phase, timeout=timeout)


def strip_pixel(strip, fraction: float) -> QColor:
    image = strip.grab().toImage()
    return image.pixelColor(2, min(image.height() - 1, int(fraction * image.height())))


# ------------------------------------------------------------------------------------------- opening


def test_opening_a_document_indexes_it_with_progress_eta_and_the_strip_filling_in(qtbot, sample_pdf, fake_core,
                                                                                  isolated):
    slow_index(fake_core, window_chars=25)  # about 40 windows
    window = make_window(qtbot, fake_core.engine(), isolated)
    document = open_and_wait(qtbot, window, sample_pdf)
    indicator, strip = window.status.index, window.area.strip
    qtbot.waitUntil(lambda: 3 <= indexed_windows(window) < window.indexing.state.total - 8, timeout=10000)
    text = indicator.label.text()
    assert text.startswith("Indexing ") and "%" in text and "min left" in text, text
    assert indicator.isVisible() and indicator.stop_button.isVisible()
    assert window.stop_index_action.isEnabled()
    assert 0 < strip.indexed_until < len(document.text)
    rows = strip.indexed_rows()
    assert 0 < rows < strip.height()
    assert strip_pixel(strip, 0.0) != strip_pixel(strip, 0.99), "the indexed part is drawn in its own shade"
    assert "indexed" in strip.describe(1)

    wait_phase(qtbot, window, "complete")
    assert indicator.label.text() == "Fully indexed"
    assert "MB" in indicator.label.toolTip() and "attention index is complete" in indicator.label.toolTip()
    assert not indicator.stop_button.isVisible() and not window.stop_index_action.isEnabled()
    assert strip.indexed_until == len(document.text) and strip.indexed_rows() == strip.height()
    assert strip_pixel(strip, 0.99) == strip_pixel(strip, 0.0)
    assert fake_core.index_runs == [(0, window.indexing.state.total, "complete")]
    assert fake_core.lexical_calls == 1, "the keyword index is built when the document opens"
    assert fake_core.model_loads == 1


def test_the_deep_reading_after_the_windows_shows_its_own_progress(qtbot, sample_pdf, fake_core, isolated):
    slow_index(fake_core, window_chars=400)
    fake_core.deep_steps = 30
    window = make_window(qtbot, fake_core.engine(), isolated)
    document = open_and_wait(qtbot, window, sample_pdf)
    indicator = window.status.index
    qtbot.waitUntil(lambda: window.indexing.state.step == "deep" and 2 <= window.indexing.state.done < 25,
                    timeout=10000)
    text = indicator.label.text()
    assert text.startswith("Reading closely ") and "%" in text and "min left" in text, text
    assert "all-mpnet-base-v2" in indicator.label.toolTip() and indicator.stop_button.isVisible()
    assert window.area.strip.indexed_until == len(document.text), "the attention index is complete meanwhile"
    wait_phase(qtbot, window, "complete")
    assert indicator.label.text() == "Fully indexed"
    assert fake_core.deep_done[document.text] == 30


def test_relevance_from_an_answer_wins_over_the_indexed_shade(qtbot, sample_pdf, fake_core, isolated):
    window = make_window(qtbot, fake_core.engine(), isolated)
    open_and_wait(qtbot, window, sample_pdf)
    wait_phase(qtbot, window, "complete")
    indexed = strip_pixel(window.area.strip, 0.5)
    outcome = ask_and_wait(qtbot, window, "What colour is box 4?")
    assert outcome.result.windows
    assert strip_pixel(window.area.strip, 0.5) != indexed
    assert window.area.strip.indexed_until == len(window.document.text), "the indexed part outlives the answer"


def test_a_question_pauses_indexing_and_it_resumes_afterwards(qtbot, sample_pdf, fake_core, isolated):
    slow_index(fake_core)
    seen_at_answer = []

    def answer(*args, **kwargs):
        seen_at_answer.append(list(fake_core.index_runs))
        return fake_core.answer(*args, **kwargs)

    window = make_window(qtbot, fake_core.engine(answer=answer), isolated)
    open_and_wait(qtbot, window, sample_pdf)
    phases = []
    window.indexing.stateChanged.connect(lambda state: phases.append(state.phase))
    qtbot.waitUntil(lambda: indexed_windows(window) >= 3, timeout=10000)
    outcome = ask_and_wait(qtbot, window, "What colour is box 4?")
    assert outcome.result.passages
    first, done, ended = seen_at_answer[0][0]
    assert (first, ended) == (0, "paused") and 3 <= done < window.indexing.state.total, (
        "the build had stopped, keeping its windows, before the question ran"
    )
    assert "paused" in phases
    wait_phase(qtbot, window, "complete")
    assert fake_core.index_runs[1] == (done, window.indexing.state.total, "complete"), "resumed where it paused"
    assert fake_core.model_loads == 1, "the question and the build share one model"


def test_opening_another_document_stops_the_old_build_and_indexes_the_new_one(qtbot, sample_pdf, fake_core,
                                                                            isolated):
    slow_index(fake_core)
    window = make_window(qtbot, fake_core.engine(), isolated)
    open_and_wait(qtbot, window, sample_pdf)
    qtbot.waitUntil(lambda: indexed_windows(window) >= 2, timeout=10000)
    sample_windows = window.indexing.state.total
    other = make_pdf(isolated / "other.pdf", page_texts(2))
    document = open_and_wait(qtbot, window, other)
    wait_phase(qtbot, window, "complete")
    assert window.area.strip.indexed_until == len(document.text)
    runs = fake_core.index_runs
    assert runs[0][2] == "Cancelled" and runs[0][1] < sample_windows, "the old build stopped part way"
    assert runs[-1] == (0, window.indexing.state.total, "complete")
    assert fake_core.indexed[document.text] == window.indexing.state.total


# ------------------------------------------------------------------------------------------- stopping


def test_stop_indexing_keeps_what_is_done_and_resumes_when_opened_again(qtbot, sample_pdf, fake_core, isolated):
    slow_index(fake_core)
    window = make_window(qtbot, fake_core.engine(), isolated)
    document = open_and_wait(qtbot, window, sample_pdf)
    qtbot.waitUntil(lambda: indexed_windows(window) >= 3, timeout=10000)
    qtbot.mouseClick(window.status.index.stop_button, Qt.MouseButton.LeftButton)
    wait_phase(qtbot, window, "stopped")
    text, tip = window.status.index.label.text(), window.status.index.label.toolTip()
    assert text.startswith("Indexed ") and text.endswith("% · stopped"), text
    assert "next time this document is opened" in tip
    assert not window.stop_index_action.isEnabled()
    qtbot.waitUntil(lambda: bool(fake_core.index_runs), timeout=3000)
    assert fake_core.index_runs[0][2] == "Cancelled"
    stopped_at = fake_core.index_runs[0][1]

    ask_and_wait(qtbot, window, "What colour is box 2?")
    qtbot.wait(300)
    assert len(fake_core.index_runs) == 1, "a stopped build does not resume after a question"
    assert window.indexing.state.phase == "stopped"

    open_and_wait(qtbot, window, sample_pdf)
    wait_phase(qtbot, window, "complete")
    assert fake_core.index_runs[1][0] == stopped_at and window.area.strip.indexed_until == len(document.text)


def test_escape_cancels_the_question_first_then_stops_indexing(qtbot, sample_pdf, fake_core, isolated):
    slow_index(fake_core, delay=0.05)
    fake_core.delay = 0.05  # the question scans 40 windows in about two seconds
    window = make_window(qtbot, fake_core.engine(), isolated)
    open_and_wait(qtbot, window, sample_pdf)
    qtbot.waitUntil(lambda: indexed_windows(window) >= 2, timeout=10000)
    window.ask("What colour is box 4?")
    qtbot.waitUntil(lambda: window.area.strip.cell_count() >= 2, timeout=10000)
    assert window.indexing.state.phase == "paused"
    with qtbot.waitSignal(window.runCancelled, timeout=2000):
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: window.indexing.state.phase == "running", timeout=5000)
    assert window.cancel_action.isEnabled(), "Esc stays live while the document is indexed"
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    wait_phase(qtbot, window, "stopped")
    assert "Indexing stopped" in window.status.message.text()


def test_indexing_on_open_can_be_turned_off(qtbot, sample_pdf, fake_core, isolated):
    window = make_window(qtbot, fake_core.engine(), isolated)
    window.apply_settings(AppSettings(index_on_open=False))
    open_and_wait(qtbot, window, sample_pdf)
    wait_phase(qtbot, window, "off")
    assert window.status.index.label.text() == "Not indexed" and "Settings" in window.status.index.label.toolTip()
    qtbot.waitUntil(lambda: fake_core.lexical_calls == 1, timeout=3000)
    assert fake_core.index_runs == []
    assert AppSettings.load().index_on_open is False
    window.apply_settings(AppSettings(index_on_open=True))
    wait_phase(qtbot, window, "complete")


def test_the_app_start_prepares_the_word_vectors_once_and_says_when_they_are_ready(qtbot, fake_core, isolated):
    fake_core.vector_batches, fake_core.vector_delay = 3, 0.05
    window = make_window(qtbot, fake_core.engine(), isolated)
    qtbot.waitUntil(lambda: fake_core.vector_runs == [(3, "complete")], timeout=5000)
    qtbot.waitUntil(lambda: "word vectors are ready" in window.status.message.text(), timeout=3000)
    window.close()
    again = make_window(qtbot, fake_core.engine(), isolated)
    qtbot.waitUntil(lambda: len(fake_core.vector_runs) == 2, timeout=5000)
    assert fake_core.vector_runs[1] == (0, "complete"), "nothing left to compute at the next start"
    assert "word vectors" not in again.status.message.text()


def test_a_question_stops_the_word_vectors_and_is_answered(qtbot, sample_pdf, fake_core, isolated):
    fake_core.vector_batches, fake_core.vector_delay = 400, 0.05  # 20 s of work if nothing stopped it
    window = make_window(qtbot, fake_core.engine(), isolated)
    qtbot.waitUntil(lambda: "Preparing the word vectors" in window.status.message.text(), timeout=5000)
    open_and_wait(qtbot, window, sample_pdf)
    outcome = ask_and_wait(qtbot, window, "What colour is box 4?", timeout=10000)
    assert outcome.result.passages
    done, ended = fake_core.vector_runs[0]
    assert ended == "_Stopped" and 0 < done < 400, "stopped after the batch in progress, keeping what was done"


def test_no_word_vectors_at_the_start_when_background_indexing_is_off(qtbot, fake_core, isolated):
    AppSettings(index_on_open=False).save()
    fake_core.vector_batches = 3
    window = make_window(qtbot, fake_core.engine(), isolated)
    qtbot.wait(300)
    assert fake_core.vector_runs == [] and "word vectors" not in window.status.message.text()


# ------------------------------------------------------------------------------------------- errors


def test_a_storage_error_is_said_in_the_status_bar_and_questions_are_still_answered(qtbot, sample_pdf, fake_core,
                                                                                    isolated):
    from app.retrieval.index_store import IndexStorageError

    fake_core.index_fail_with = IndexStorageError("There is not enough free disk space for the attention index.")
    window = make_window(qtbot, fake_core.engine(), isolated)
    failures = []
    window.jobFailed.connect(failures.append)
    with qtbot.waitSignal(window.indexing.failed, timeout=10000) as blocker:
        window.open_file(sample_pdf)
    assert blocker.args[0].message == "There is not enough free disk space for the attention index."
    assert "could not be saved: There is not enough free disk space" in window.status.message.text()
    assert window.status.index.label.text() == "Not indexed"
    assert "not enough free disk space" in window.status.index.label.toolTip()
    assert not window.error_boxes and not failures, "no dialog for a background problem"
    outcome = ask_and_wait(qtbot, window, "What colour is box 4?")
    assert outcome.result.passages and window.panel.answer_text()
    assert not window.error_boxes


def test_a_failing_keyword_index_is_said_and_changes_nothing_else(qtbot, sample_pdf, fake_core, isolated):
    def broken(text, sentences):
        raise OSError(28, "No space left on device")

    window = make_window(qtbot, fake_core.engine(lexical_index=broken), isolated)
    with qtbot.waitSignal(window.indexing.failed, timeout=10000):
        window.open_file(sample_pdf)
    qtbot.waitUntil(lambda: "keyword index could not be built" in window.status.message.text(), timeout=3000)
    wait_phase(qtbot, window, "complete")
    assert not window.error_boxes


# ------------------------------------------------------------------------------------------- the real core


def test_tiny_model_indexes_a_text_file_then_answers(qtbot, isolated, tiny_model, monkeypatch):
    """The real core: open a text file, the attention index is built in the background, then a question."""
    from app.retrieval.indexing import index_status

    # the tiny model reads a short document whole in auto mode; pretend that would be slow
    monkeypatch.setattr("app.retrieval.pipeline.estimate_full_pass_seconds", lambda *args, **kwargs: 1e9)
    path = isolated / "inventory.txt"
    path.write_text("\n\n".join(page_texts(10) * 6), encoding="utf-8")
    engine = Engine(load_model=lambda spec, device, on_progress=None, cancel=None: tiny_model)
    window = make_window(qtbot, engine, isolated)
    document = open_and_wait(qtbot, window, path)
    with qtbot.waitSignal(window.indexing.completed, timeout=120000) as blocker:
        pass
    report = blocker.args[0].report
    assert report.complete and report.windows >= 2, "a document of several windows"
    indexed, total, complete = index_status(document.text, document.sentences, tiny_model, window.settings.retrieval())
    assert complete and indexed == total == report.document_tokens
    assert window.status.index.label.text() == "Fully indexed" and "MB" in window.status.index.label.toolTip()
    assert window.area.strip.indexed_until == len(document.text)

    outcome = ask_and_wait(qtbot, window, "What colour is box 9?", timeout=120000)
    assert window.panel.passage_list.count() == len(outcome.result.passages) > 0
    assert all(document.text[p.start : p.end] == p.text for p in window.passages)
    stats = outcome.result.stats
    assert stats["mode"] == "auto" and stats["indexed_tokens"] == total
    note = window.panel.method_label.text()
    assert "keyword search" in note and "and sentence meaning rank best" in note, "auto's candidate sources"
    best = outcome.result.passages[stats["best_passage"]]
    assert window.passages[window.passage_index] is best, "the view went to the best evidence"
    assert window.panel.evidence_label.text().startswith("Best evidence, line ")
