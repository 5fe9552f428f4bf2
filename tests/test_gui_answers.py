"""The answer in the panel, offscreen: the best evidence under it (one click from its highlight), the view
jumping to it, answers quoted from the document, the passage list's order and the method line."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import re

import pytest
from PySide6.QtCore import Qt

from app.retrieval.types import Passage
from app.ui.app_settings import AppSettings
from app.ui.method_notes import method_note
from tests import test_gui_helpers as helpers
from tests.test_gui_helpers import ask_and_wait, make_window, open_and_wait

isolated = helpers.isolated
sample_pdf = helpers.sample_pdf
fake_core = helpers.fake_core

pytestmark = pytest.mark.gui

AUTO_STATS = {"mode": "auto", "focus_tokens": 4096, "indexed_tokens": 62_000, "document_tokens": 100_000}


def best_on_a_later_page(fake_core, document_of, source: str = "model"):
    """An answer whose best evidence is the passage on the last page (so that jumping to it must scroll)."""

    def answer(text, *args, **kwargs):
        result = fake_core.answer(text, *args, **kwargs)
        document = document_of()
        last = max(range(len(result.passages)), key=lambda i: document.page_at(result.passages[i].start))
        result.stats.update(AUTO_STATS, best_passage=last, answer_source=source)
        if source == "evidence":
            result.stats["quoted_because"] = "elsewhere"
            result.answer = f'From the document: "{result.passages[last].text}"'
        return result

    return answer


def test_the_view_jumps_to_the_best_evidence_which_is_one_click_away(qtbot, sample_pdf, fake_core, isolated):
    holder = {}
    engine = fake_core.engine(answer=best_on_a_later_page(fake_core, lambda: holder["window"].document, "evidence"))
    window = holder["window"] = make_window(qtbot, engine, isolated)
    document = open_and_wait(qtbot, window, sample_pdf)
    outcome = ask_and_wait(qtbot, window, "Which crate weighs the most kilograms?")
    best = outcome.result.passages[outcome.result.stats["best_passage"]]
    page = document.page_at(best.start)
    assert page > 0
    view = window.area.page_view
    qtbot.waitUntil(lambda: view.current_page() == page, timeout=3000)
    row = window.passage_index
    assert window.passages[row] is best and window.panel.passage_list.currentRow() == row
    assert view.selected is not None and view.selected.passage == row

    label = window.panel.evidence_label
    assert label.isVisible()
    assert label.text() == f"Best evidence, p. {page + 1}: “{best.text}”"
    assert window.panel.answer_label.text() == "Answer · quoted from the document"
    assert "ranked below the best one" in window.panel.answer_label.toolTip()
    assert window.panel.answer_text().startswith("From the document:")
    assert window.panel.method_label.text().startswith(
        "Read the 4,096 tokens (4.1%) that keyword search and the attention index (62% built) rank best"
    )

    elsewhere = next(i for i, p in enumerate(window.passages) if document.page_at(p.start) != page)
    window.go_to_passage(elsewhere)
    qtbot.waitUntil(lambda: view.current_page() != page, timeout=3000)
    qtbot.mouseClick(label, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.current_page() == page, timeout=3000)
    assert window.passage_index == row and view.selected.passage == row
    assert window.panel.passage_list.currentRow() == row


def test_an_answer_of_the_model_is_not_labelled_as_quoted_and_a_new_question_clears_the_evidence(
    qtbot, sample_pdf, fake_core, isolated
):
    holder = {}
    engine = fake_core.engine(answer=best_on_a_later_page(fake_core, lambda: holder["window"].document))
    window = holder["window"] = make_window(qtbot, engine, isolated)
    open_and_wait(qtbot, window, sample_pdf)
    ask_and_wait(qtbot, window, "Which crate weighs the most kilograms?")
    assert window.panel.answer_label.text() == "Answer" and window.panel.evidence_label.isVisible()
    window.engine = fake_core.engine()  # no best passage in the stats
    ask_and_wait(qtbot, window, "What colour is box 3?")
    assert not window.panel.evidence_label.isVisible()


def test_passages_sort_by_score_or_page_and_f3_follows_the_list(qtbot, sample_pdf, fake_core, isolated):
    window = make_window(qtbot, fake_core.engine(), isolated)
    open_and_wait(qtbot, window, sample_pdf)
    ask_and_wait(qtbot, window, "Which crate weighs the most kilograms?")
    panel = window.panel
    assert panel.order_box.currentText() == "Best first"
    scores = [p.score for p in window.passages]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) > 1
    starts_by_score = [p.start for p in window.passages]
    assert starts_by_score != sorted(starts_by_score), "best first is not the document's order here"
    assert panel.passage_list.item(0).text().split("\n")[1][:30] in " ".join(window.passages[0].text.split())

    window.go_to_passage(2)
    current = window.passages[2]
    panel.order_box.setCurrentIndex(panel.order_box.findData("page"))
    starts = [p.start for p in window.passages]
    assert starts == sorted(starts)
    assert window.passages[window.passage_index] is current, "the current passage stays current"
    assert panel.passage_list.currentRow() == window.passage_index

    window.go_to_passage(0)
    window.area.page_view.setFocus()
    visited = [window.passages[window.passage_index].start]
    for _ in range(3):
        qtbot.keyClick(window, Qt.Key.Key_F3)
        visited.append(window.passages[window.passage_index].start)
    assert visited == starts[:4], "F3 follows the list's order"
    assert AppSettings.load().passage_order == "page"

    again = make_window(qtbot, fake_core.engine(), isolated)
    assert again.panel.order_box.currentText() == "Page order" and again.navigator.order == "page"


def test_fragments_are_listed_after_the_sentences_however_they_score(qtbot, sample_pdf, fake_core, isolated):
    def answer(text, *args, **kwargs):
        result = fake_core.answer(text, *args, **kwargs)
        word = re.search(r"[A-Za-z]{3,}", text)
        result.passages.append(Passage(word.start(), word.end(), 1.0, word.group()))
        return result

    window = make_window(qtbot, fake_core.engine(answer=answer), isolated)
    open_and_wait(qtbot, window, sample_pdf)
    ask_and_wait(qtbot, window, "Which crate weighs the most kilograms?")
    *sentences, last = window.passages
    assert last.score == 1.0 and len(last.text.split()) == 1, "a lone word is listed last, though it scores best"
    scores = [p.score for p in sentences]
    assert scores == sorted(scores, reverse=True) and len(sentences) > 1


def test_method_lines_say_what_each_mode_did():
    assert method_note({"mode": "auto", "focus_tokens": 4096, "indexed_tokens": 0, "document_tokens": 8192}) == (
        "Read the 4,096 tokens (50.0%) that keyword search ranks best (the attention index is not built yet), "
        "with the InfiniRetri loop. Question ▸ Ask with a Full Pass reads everything."
    )
    full_index = {"mode": "auto", "focus_tokens": 10, "indexed_tokens": 500, "document_tokens": 500}
    assert "keyword search and the attention index rank best" in method_note(full_index)
    beside = {**full_index, "sources": ["lexical", "meaning", "attention"], "kept_beside_loop": 7}
    assert "loop. 7 passages closest in meaning to the question were kept beside its choice." in method_note(beside)
    at_once = {"mode": "auto", "focus_tokens": 10, "indexed_tokens": 0, "document_tokens": 500,
               "sources": ["lexical", "meaning"], "meaning_reading": "token vectors"}
    assert ("keyword search and word meaning (the document is not yet read for sentence meaning) rank best"
            in method_note(at_once))
    assert method_note({"mode": "full", "windows": 3}, requested="auto") == (
        "Full pass: the document is short, so all 3 windows were read."
    )
    assert method_note({"mode": "full", "windows": 1200, "index_bytes": 9}, requested="full") == (
        "Full pass: all 1,200 windows were read. The attention index is saved, so later questions take seconds."
    )
    warned = method_note({"mode": "full", "windows": 2, "index_bytes": 9, "index_warning": "The disk is full."})
    assert warned == "Full pass: all 2 windows were read. The attention index could not be saved: The disk is full."
    assert method_note({"mode": "indexed", "focus_tokens": 2048, "document_tokens": 4096}).startswith(
        "Fast follow-up: the whole document was scored against its attention index, then its best 2,048 tokens (50.0%)"
    )
