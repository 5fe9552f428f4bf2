"""Widgets and Qt glue in isolation: heat strip, page view, workers, settings, theme."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QPalette

from app.retrieval.types import Cancelled, CancelToken, Passage, Progress, RetrievalSettings, WindowScore
from app.ui.app_settings import AppSettings
from app.ui.heat_strip import HeatStrip, aggregate_rows
from app.ui.page_view import PageBox, PageView
from app.ui.settings_dialog import SettingsDialog
from app.ui.status_bar import format_eta
from app.ui.workers import Job, JobRunner, ModelChoice, ModelHolder
from tests import test_gui_helpers as helpers
from tests.documents_fixtures import make_pdf

pytestmark = pytest.mark.gui
isolated = helpers.isolated


# ------------------------------------------------------------------------------------------- heat strip


def test_aggregate_rows_takes_the_max_per_row():
    rows = aggregate_rows([(0.0, 0.5, 0.2), (0.25, 0.3, 0.9), (0.9, 0.91, 0.5)], 10)
    assert rows[:2] == [0.2, 0.2] and rows[2] == 0.9 and rows[5] == -1.0 and rows[9] == 0.5


def test_strip_stays_readable_for_3000_windows(qtbot):
    strip = HeatStrip()
    qtbot.addWidget(strip)
    strip.resize(20, 600)
    strip.show()
    length = 3000 * 1000
    strip.set_geometry(None, length)
    strip.begin_run(3000)
    for i in range(3000):
        strip.add_window(WindowScore(i, i * 1000, (i + 1) * 1000, 1.0 if i == 1234 else 0.05))
    assert strip.cell_count() == 3000
    rows, _ = strip._rows()
    hot = [y for y, score in enumerate(rows) if score == 1.0]
    assert hot == [int(1234 / 3000 * 600)]  # the one relevant window survives aggregation
    started = time.perf_counter()
    strip.repaint()
    assert time.perf_counter() - started < 0.1
    assert "window 1235" in strip.describe(hot[0] + 0.5)


def test_strip_click_emits_offset_and_passages_are_marked(qtbot):
    strip = HeatStrip()
    qtbot.addWidget(strip)
    strip.resize(20, 400)
    strip.set_geometry(None, 10_000)
    strip.set_result([WindowScore(0, 0, 10_000, 0.3)], [Passage(7_500, 7_600, 0.8, "x")])
    with qtbot.waitSignal(strip.jumpRequested) as blocker:
        qtbot.mouseClick(strip, Qt.MouseButton.LeftButton, pos=strip.rect().center())
    assert abs(blocker.args[0] - 5_000) < 100
    _, passages = strip._rows()
    assert passages[300] == 0.8 and passages[100] == -1.0


def test_strip_draws_the_indexed_part_under_relevance(qtbot):
    strip = HeatStrip()
    qtbot.addWidget(strip)
    strip.resize(20, 400)
    strip.show()
    strip.set_geometry(None, 10_000)
    strip.set_indexed_until(7_500)
    strip.set_result([WindowScore(0, 2_500, 5_000, 1.0)], [])

    def pixel(y: int) -> tuple[int, int, int]:
        color = strip.grab().toImage().pixelColor(3, y)
        return color.red(), color.green(), color.blue()

    background, indexed, hot = pixel(390), pixel(50), pixel(150)
    assert len({background, indexed, hot}) == 3
    assert pixel(250) == indexed, "indexed, no relevance"
    assert strip.indexed_rows() == 300 and "indexed" in strip.describe(250) and "indexed" not in strip.describe(350)
    strip.begin_run(3)
    assert strip.indexed_until == 7_500 and pixel(150) == indexed, "a new question keeps the indexed part"
    strip.set_indexed_until(10_000, complete=True)
    assert pixel(399) == indexed
    strip.clear()
    assert strip.indexed_until == 0 and pixel(50) == background


# ------------------------------------------------------------------------------------------- page view


def test_page_view_renders_only_visible_pages(qtbot, isolated):
    path = make_pdf(isolated / "long.pdf", [f"Page {i} text." for i in range(300)])
    view = PageView()
    qtbot.addWidget(view)
    view.resize(600, 800)
    view.show()
    qtbot.waitExposed(view)
    boxes = [PageBox(595.0, 842.0, f"p{i + 1}", i * 20, i * 20 + 20) for i in range(300)]
    view.open_pdf(path, boxes)
    qtbot.waitUntil(lambda: view.is_rendered(0), timeout=5000)
    view.go_to_page(200)
    qtbot.waitUntil(lambda: view.is_rendered(200), timeout=5000)
    rendered = {key[0] for key in view.cache._items}
    assert rendered <= {0, 1, 2, *range(198, 203)}
    assert view.current_page() == 200
    assert view.location_label(200 * 20 + 5) == "Page p201 (201 of 300)"
    assert view.offset_at_fraction(view.fraction_of_offset(4010)) == pytest.approx(4010, abs=2)
    top, bottom = view.viewport_fractions()
    assert 0 < top < bottom < 1
    view.shutdown()


def test_page_view_zoom_keeps_page_and_renders_at_device_pixel_ratio(qtbot, isolated):
    path = make_pdf(isolated / "z.pdf", [f"Page {i}." for i in range(20)])
    view = PageView()
    qtbot.addWidget(view)
    view.resize(700, 700)
    view.show()
    view.open_pdf(path, [PageBox(595.0, 842.0, str(i + 1), i, i + 1) for i in range(20)])
    view.go_to_page(12)
    view.set_zoom(2.0)
    assert view.current_page() == 12 and view.zoom == 2.0
    qtbot.waitUntil(lambda: view.is_rendered(12), timeout=5000)
    pixmap = view.cache.get((12, view._render_scale()))
    assert pixmap.width() == pytest.approx(595 * 2.0 * view.devicePixelRatioF(), abs=2)
    view.zoom_fit_width()
    assert view.fit_width and view.zoom == pytest.approx((700 - 24 - view.verticalScrollBar().width()) / 595, rel=0.1)
    view.shutdown()


# ------------------------------------------------------------------------------------------- workers


class _Job(Job):
    def __init__(self, body):
        super().__init__()
        self.body = body

    def work(self):
        return self.body(self)


def test_job_signals_arrive_on_gui_thread_even_for_lambdas(qtbot):
    runner = JobRunner()
    seen = []

    def body(job):
        for i in range(3):
            job.emit_progress(Progress("retrieving", i + 1, 3))
        return threading.get_ident()

    job = _Job(body)
    job.signals.progress.connect(lambda p: seen.append((p.done, threading.get_ident())))
    with qtbot.waitSignal(job.signals.succeeded) as blocker:
        runner.start_model_job(job)
    assert blocker.args[0] != threading.get_ident()
    qtbot.waitUntil(lambda: not runner.busy)
    assert [d for d, _ in seen] == [1, 2, 3] and {t for _, t in seen} == {threading.get_ident()}


def test_a_worker_outliving_its_signals_bridge_ends_quietly():
    """A window closed and deleted while its worker still runs: the worker's reports are dropped, not raised
    out of the thread pool ("Signal source has been deleted")."""
    import shiboken6

    job = _Job(lambda job: job.emit_progress(Progress("loading", 0, 0)) or "done")
    shiboken6.delete(job.signals)
    job.signals.post("progress", Progress("loading", 0, 0))
    job.run()  # started, progress, succeeded, finished: all dropped
    assert job.signals.detached


def test_job_failure_cancel_and_detach(qtbot):
    runner = JobRunner()
    failing = _Job(lambda job: 1 / 0)
    with qtbot.waitSignal(failing.signals.failed) as blocker:
        runner.start_model_job(failing)
    assert blocker.args[0].message.startswith("ZeroDivisionError")

    def slow(job):
        while True:
            job.token.raise_if_cancelled()
            job.emit_progress(Progress("retrieving", 1, 2))
            time.sleep(0.01)

    cancelled = _Job(slow)
    runner.start_model_job(cancelled)
    qtbot.wait(50)
    with qtbot.waitSignal(cancelled.signals.cancelled, timeout=2000):
        cancelled.cancel()

    detached = _Job(slow)
    late = []
    detached.signals.progress.connect(late.append)
    detached.signals.cancelled.connect(lambda: late.append("cancelled"))
    runner.start_model_job(detached)
    qtbot.waitUntil(lambda: bool(late), timeout=2000)
    with qtbot.waitSignal(detached.signals.finished, timeout=2000):
        detached.detach()
        count = len(late)
    assert len(late) == count and "cancelled" not in late
    runner.shutdown()
    assert runner.wait(5000)


class _LoadingEngine:
    """A load_model that takes `seconds` and never looks at its cancel flag until the end."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.loads: list[tuple[str, str]] = []
        self.asked_to_stop: list[bool] = []

    def load_model(self, spec, device, on_progress, cancel):
        self.loads.append((spec, device))
        on_progress(Progress("loading", 0, 0, message=spec))
        time.sleep(self.seconds)
        self.asked_to_stop.append(cancel())
        return object()


def test_model_holder_reuses_and_reloads():
    holder, engine = ModelHolder(), _LoadingEngine()
    token = CancelToken()
    first, fresh = holder.get(engine, ModelChoice("bundled", "auto"), lambda p: None, token)
    assert fresh
    assert holder.get(engine, ModelChoice("bundled", "auto"), lambda p: None, token) == (first, False)
    second, fresh = holder.get(engine, ModelChoice("bundled", "cpu"), lambda p: None, token)
    assert second is not first and fresh
    holder.forget()
    holder.get(engine, ModelChoice("bundled", "cpu"), lambda p: None, token)
    assert engine.loads == [("bundled", "auto"), ("bundled", "cpu"), ("bundled", "cpu")]


def test_a_model_load_that_cannot_be_interrupted_is_abandoned_at_once():
    holder, engine = ModelHolder(), _LoadingEngine(seconds=1.5)
    token = CancelToken()
    seen = []
    threading.Timer(0.2, token.cancel).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        holder.get(engine, ModelChoice(), seen.append, token)
    assert time.monotonic() - started < 0.5, "the waiting job gives up at once"
    assert seen and seen[0].stage == "loading"
    assert holder.wait(5.0)
    assert engine.asked_to_stop == [True], "nobody waits any more: the load is told to stop"
    assert holder.loaded is None, "the late result is dropped"
    model, fresh = holder.get(_LoadingEngine(), ModelChoice(), seen.append, CancelToken())
    assert fresh and model is not None


def test_a_second_question_joins_the_load_in_progress():
    holder, engine = ModelHolder(), _LoadingEngine(seconds=0.5)
    results = []
    workers = [
        threading.Thread(target=lambda: results.append(holder.get(engine, ModelChoice(), lambda p: None,
                                                                  CancelToken())))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
        time.sleep(0.05)
    for worker in workers:
        worker.join(5)
    assert len(engine.loads) == 1 and results[0][0] is results[1][0]
    assert holder.loaded is results[0][0] and engine.asked_to_stop == [False]


def test_a_paused_waiter_leaves_the_load_running_for_the_question_that_joins_it():
    from app.ui.workers.model_holder import WaitPaused

    holder, engine = ModelHolder(), _LoadingEngine(seconds=0.6)
    paused = threading.Event()
    threading.Timer(0.1, paused.set).start()
    with pytest.raises(WaitPaused):
        holder.get(engine, ModelChoice(), lambda p: None, CancelToken(), paused.is_set)
    seen = []
    model, fresh = holder.get(engine, ModelChoice(), seen.append, CancelToken())
    assert fresh and model is not None and len(engine.loads) == 1, "the question joined the load in progress"
    assert engine.asked_to_stop == [False]
    assert seen and seen[0].stage == "loading", "the joining job learns what the load is doing"


def test_cancel_is_reported_within_a_second_even_when_the_worker_does_not_stop(qtbot):
    runner = JobRunner()
    stubborn = _Job(lambda job: time.sleep(2.5) or "late result")
    outcomes = []
    stubborn.signals.succeeded.connect(outcomes.append)
    stubborn.signals.cancelled.connect(lambda: outcomes.append("cancelled"))
    runner.start_model_job(stubborn)
    qtbot.wait(100)
    started = time.monotonic()
    with qtbot.waitSignal(stubborn.signals.cancelled, timeout=1500):
        stubborn.cancel()
    assert time.monotonic() - started < 1.2
    with qtbot.waitSignal(stubborn.signals.finished, timeout=5000):
        pass
    assert outcomes == ["cancelled"], "the late result is dropped"


def test_a_question_preempts_a_background_model_job(qtbot):
    runner = JobRunner()
    order = []

    def long_background(job):
        while not job.token.cancelled:
            time.sleep(0.01)
        order.append("background stopped")

    background = _Job(long_background)
    background.background = True
    queued = _Job(lambda job: order.append("queued background"))
    queued.background = True
    queued.preempt = lambda: order.append("queued asked to pause")  # as a resumable job would
    question = _Job(lambda job: order.append("question"))
    runner.start_model_job(background)
    qtbot.wait(50)
    runner.start_model_job(queued)
    with qtbot.waitSignal(question.signals.succeeded, timeout=3000):
        runner.start_model_job(question)
    qtbot.waitUntil(lambda: not runner.busy, timeout=3000)
    assert sorted(order) == sorted(["queued asked to pause", "background stopped", "question", "queued background"])
    assert order.index("background stopped") < order.index("question") < order.index("queued background"), (
        "the running background job is stopped and the question runs before the waiting one"
    )


# ------------------------------------------------------------------------------------------- settings, theme, misc


def test_settings_dialog_round_trip_and_persistence(qtbot, isolated):
    chosen = AppSettings(model_kind="gguf", model_path="/models/x.gguf", device="cuda", window_tokens=2048, top_k=64,
                         candidate_tokens=8192, method="full", index_on_open=False, passage_order="page",
                         deep_meaning=False)
    dialog = SettingsDialog(AppSettings(passage_order="page"))
    qtbot.addWidget(dialog)
    assert not dialog.path.isEnabled()
    assert dialog.method.currentText() == "Fast (recommended)" and dialog.index_on_open.isChecked()
    assert dialog.deep_meaning.isChecked() and AppSettings().retrieval().deep_meaning
    dialog.set_settings(chosen)
    assert dialog.method.currentText() == "Exact full pass (slow)"
    assert dialog.settings() == chosen and dialog.browse.isEnabled()
    chosen.save()
    assert AppSettings.load() == chosen
    assert AppSettings.load().model_choice() == ModelChoice("/models/x.gguf", "cuda")
    assert AppSettings.load().retrieval().mode == "full", "the exact method: every question is a full pass"
    assert AppSettings().retrieval().mode == "auto" and AppSettings().retrieval(full_pass=True).mode == "full"
    assert AppSettings.load().retrieval().candidate_tokens == 8192, "the fast method reads what was chosen"
    assert AppSettings().retrieval().candidate_tokens == RetrievalSettings().candidate_tokens
    assert not AppSettings.load().retrieval().deep_meaning, "neither built nor used when turned off"
    QSettings().setValue("model/kind", "nonsense")
    assert AppSettings.load().model_spec == "bundled"


def test_theme_follows_the_system_colour_scheme(qtbot, isolated, monkeypatch):
    """The offscreen platform cannot switch schemes, so the system's switch is simulated."""
    from app.ui import theme

    hints = QGuiApplication.styleHints()
    window_lightness = lambda: QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness()  # noqa: E731
    try:
        monkeypatch.setattr(theme, "current_scheme", lambda: Qt.ColorScheme.Dark)
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)
        assert window_lightness() < 100
        monkeypatch.setattr(theme, "current_scheme", lambda: Qt.ColorScheme.Light)
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
        assert window_lightness() > 150
    finally:
        monkeypatch.undo()
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Unknown)


def test_first_run_opens_the_sample(isolated, monkeypatch, tmp_path):
    from app.ui import main

    sample = tmp_path / "sample.pdf"
    sample.write_bytes(b"%PDF-1.4")
    monkeypatch.setattr(main, "sample_document", lambda: sample)
    assert main.initial_document(None) == sample
    assert main.initial_document(None) is None  # only the first time
    assert str(main.initial_document("x.txt")) == "x.txt"


def test_index_indicator_words():
    from app.ui.index_indicator import IndexState, describe, rough_eta

    assert rough_eta(None) == "" and rough_eta(20) == "less than a minute left"
    assert rough_eta(170) == "about 3 min left" and rough_eta(4900) == "about 1 h 22 min left"
    running = IndexState("running", 45, 100, 170.0, 610.0)
    text, tip = describe(running)
    assert text == "Indexing 45% · about 3 min left" and "45 of 100 windows, 610 tokens/s" in tip
    assert describe(IndexState("running", 99, 100))[0] == "Indexing 99%"
    assert describe(IndexState("paused", 45, 100))[0] == "Indexed 45% · paused"
    assert describe(IndexState("stopped", 45, 100))[0] == "Indexed 45% · stopped"
    complete = describe(IndexState("complete", 100, 100, index_bytes=12_345_678))
    assert complete[0] == "Fully indexed" and "12.3 MB" in complete[1]
    assert describe(IndexState("starting"))[0] == "Indexing…"
    assert describe(IndexState("failed", message="Disk full."))[0] == "Not indexed"


def test_format_eta():
    assert format_eta(None) == "" and format_eta(5.2) == "5 s left"
    assert format_eta(125) == "2 min 05 s left" and format_eta(3725) == "1 h 02 min left"


def test_status_text_names_each_step_of_both_methods():
    from app.retrieval.types import Progress
    from app.ui.status_bar import describe

    assert describe(Progress("retrieving", 3, 10)) == "Scanning windows: window 3 of 10…"
    scoring = Progress("retrieving", 0, 1, message="Scoring the document with its attention index…")
    assert describe(scoring) == "Scoring the document with its attention index…"
    assert describe(Progress("retrieving", 1, 2, message="Re-reading the best passages")) == (
        "Re-reading the best passages: window 1 of 2…"
    )


def test_stored_settings_of_the_wrong_type_or_range_fall_back_to_defaults(isolated):
    from app.ui.app_settings import add_recent_file, recent_files

    store = QSettings()
    store.setValue("retrieval/window_tokens", 5)  # below what the dialog allows
    store.setValue("retrieval/top_k", "many")
    store.setValue("retrieval/candidate_tokens", 10**9)
    store.setValue("indexing/on_open", "false")  # how an INI file gives it back
    store.setValue("view/passage_order", "sideways")
    store.setValue("model/device", "cuda")
    loaded = AppSettings.load()
    assert loaded.window_tokens == AppSettings().window_tokens and loaded.top_k == AppSettings().top_k
    assert loaded.candidate_tokens == AppSettings().candidate_tokens
    assert loaded.index_on_open is False and loaded.device == "cuda" and loaded.passage_order == "score"
    store.setValue("recent/files", "/only/one.pdf")  # a one-element list comes back as a string
    assert recent_files() == ["/only/one.pdf"]
    add_recent_file("/two.pdf")
    assert recent_files() == ["/two.pdf", "/only/one.pdf"]


@pytest.mark.parametrize(("stored", "method"), [("false", "full"), ("true", "auto"), (None, "auto")])
def test_the_old_follow_ups_setting_becomes_the_method(isolated, stored, method):
    """Before the Method setting, unticking Settings ▸ Follow-ups meant a full pass for every question."""
    store = QSettings()
    if stored is not None:
        store.setValue("retrieval/fast_follow_ups", stored)
    loaded = AppSettings.load()
    assert loaded.method == method
    loaded.save()
    assert not QSettings().contains("retrieval/fast_follow_ups"), "the old key is gone once saved"
    assert QSettings().value("retrieval/method") == method and AppSettings.load().method == method
    QSettings().setValue("retrieval/method", "bogus")
    assert AppSettings.load().method == "auto"


@settings(max_examples=200, deadline=None)
@given(st.text(st.sampled_from("ab 😀𠀀é\n\u4e00")))
def test_utf16_positions_match_qt_counting(text):
    from app.ui.utf16 import Utf16Positions

    positions = Utf16Positions(text)
    for offset in range(len(text) + 1):
        qt = len(text[:offset].encode("utf-16-le")) // 2
        assert positions.to_qt(offset) == qt
        assert positions.from_qt(qt) == offset


def test_a_long_text_fills_in_between_events_and_highlights_land_right(qtbot):
    from app.ui.highlights import Highlight
    from app.ui.text_view import FILL_CHUNK_CHARS, TextView

    view = TextView()
    qtbot.addWidget(view)
    view.resize(600, 400)
    view.show()
    line = "A line of plain text, with an emoji 😀 now and then.\n"
    text = line * (5 * FILL_CHUNK_CHARS // len(line))
    target = text.rindex("emoji")
    started = time.perf_counter()
    view.set_text(text)
    assert time.perf_counter() - started < 0.5 and not view.is_filled
    view.set_highlights([Highlight(target, target + 5, 0.9, 0)])
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    with qtbot.waitSignal(view.filled, timeout=20000):
        pass
    timer.stop()
    assert len(ticks) >= 3, "the event loop ran while the text was filling in"
    assert view.document().characterCount() - 1 == len(text.encode("utf-16-le")) // 2
    assert view.extraSelections()[0].cursor.selectedText() == "emoji"


def test_index_failures_are_classified_and_said_in_a_sentence():
    from app.retrieval.segment_store import IndexStorageError, StoreBusyError
    from app.ui.controllers.indexing import failure_notice
    from app.ui.workers import FailureKind
    from app.ui.workers.messages import failure_from

    full = failure_from(IndexStorageError("The disk is full."), "Could not index the document")
    busy = failure_from(StoreBusyError("/cache/x.partial is being written by another build"), "")
    assert (full.kind, busy.kind) == (FailureKind.STORAGE, FailureKind.INDEX_BUSY)
    assert failure_notice(full) == "The attention index could not be saved: The disk is full."
    assert "Another InfiniRetri window is indexing this document" in failure_notice(busy)
    assert failure_notice(failure_from(ZeroDivisionError("boom"), "")) == "Indexing stopped: ZeroDivisionError: boom"


def test_the_passage_list_says_which_passages_meaning_kept(qtbot):
    from app.ui.answer_panel import AnswerPanel, PassageRow

    panel = AnswerPanel()
    qtbot.addWidget(panel)
    panel.set_passages([PassageRow("p. 3", 0.9, "Kept by the loop."), PassageRow("p. 7", 0.4, "Near in meaning.", "meaning")])
    assert panel.passage_list.item(0).text().split("\n")[0] == "p. 3 · score 0.90"
    assert panel.passage_list.item(1).text().split("\n")[0] == "p. 7 · score 0.40 · by meaning"


@pytest.mark.parametrize("because", ["unhelpful", "elsewhere", "restates", "misses"])
def test_a_quoted_answer_says_why_in_its_tooltip(qtbot, because):
    """Every reason the answer step gives for quoting the best passage (generation.quote_reason) has its words."""
    from app.ui.answer_panel import QUOTED_TIPS, AnswerPanel

    panel = AnswerPanel()
    qtbot.addWidget(panel)
    panel.set_answer_source("evidence", because)
    assert panel.answer_label.toolTip() == QUOTED_TIPS[because]
    assert len(set(QUOTED_TIPS.values())) == len(QUOTED_TIPS)
    panel.set_answer_source("model")
    assert panel.answer_label.toolTip() == ""


def test_the_best_evidence_reads_without_dot_leaders_and_is_shortened_when_long():
    from app.ui.evidence_label import EVIDENCE_CHARS, evidence_text

    entry = ". . . . . . . . 192 leqno Class option for\nnumbering equations at the left."
    assert evidence_text("Page 193", entry) == "Best evidence, page 193: “leqno Class option for numbering equations at the left.”"
    long = evidence_text("", "word " * 200)
    assert long.startswith("Best evidence: “word word") and len(long) < EVIDENCE_CHARS + 20 and long.endswith("…”")
