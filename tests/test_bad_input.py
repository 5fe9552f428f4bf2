"""Every file of the bad-input corpus (tests/bad_inputs.py) gives a clear message and no crash: in the
documents layer, on the command line (exit 2, one line) and in the window (a dialog, then a usable app).

`pytest -s tests/test_bad_input.py -k window` prints one table row per file: what the person sees and
how long it took.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import time

import pytest

from app import cli
from app.documents import load_document
from tests import bad_inputs
from tests import test_gui_helpers as helpers
from tests.bad_inputs import CASES, Case
from tests.documents_fixtures import unprivileged

isolated = helpers.isolated
fake_core = helpers.fake_core
SMALL = [case for case in CASES if not case.big]
FAILING = [case for case in SMALL if case.error is not None]


def _ids(cases: list[Case]) -> list[str]:
    return [case.name for case in cases]


def test_the_corpus_has_at_least_twenty_files():
    assert len(CASES) >= 20 and len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", SMALL, ids=_ids(SMALL))
def test_documents_layer(case: Case, tmp_path, monkeypatch):
    path = case.build(tmp_path)
    try:
        with bad_inputs.interference(case, path, monkeypatch), unprivileged() if case.unprivileged else _nothing():
            if case.error is None:
                document = load_document(path, password=case.password)
                assert document.text.strip() and document.sentences
                if case.says != "Opened":
                    assert case.says in " ".join(document.warnings)
                return
            with pytest.raises(case.error) as raised:
                load_document(path, password=case.password)
    finally:
        bad_inputs.clear_up(path)
    message = str(raised.value)
    assert case.says in message and "Traceback" not in message and "\n" not in message


@pytest.mark.parametrize("case", FAILING, ids=_ids(FAILING))
def test_command_line_exits_2_with_one_line(case: Case, tmp_path, monkeypatch, capsys):
    path = case.build(tmp_path)
    argv = ["ask", str(path), "-q", "What colour is box 4?", "--quiet"]
    if case.password:
        argv += ["--password", case.password]
    try:
        with bad_inputs.interference(case, path, monkeypatch), unprivileged() if case.unprivileged else _nothing():
            code = cli.main(argv)
    finally:
        bad_inputs.clear_up(path)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("infiniretri: ") and err.count("\n") == 1 and case.says in err


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_window(case: Case, qtbot, isolated, fake_core, monkeypatch):
    """The window shows a clear message, stays usable, and never shows a traceback as the message."""
    from app.ui.workers import FailureKind

    folder = isolated / "corpus"
    folder.mkdir()
    path = case.build(folder)
    notices: list[str] = []
    monkeypatch.setattr("app.ui.dialogs.notice_box", lambda parent, title, text: notices.append(text))
    passwords = iter([case.password] if case.password else [])
    monkeypatch.setattr("app.ui.dialogs.ask_password", lambda parent, name, wrong: next(passwords, None))
    engine = fake_core.engine()
    if case.unprivileged:
        real_load = engine.load_document

        def load_as_nobody(*args, **kwargs):
            with unprivileged():
                return real_load(*args, **kwargs)

        engine.load_document = load_as_nobody
    window = helpers.make_window(qtbot, engine, isolated)
    outcome: list[object] = []
    window.documentLoaded.connect(outcome.append)
    window.jobFailed.connect(outcome.append)
    try:
        with bad_inputs.interference(case, path, monkeypatch):
            started = time.monotonic()
            window.open_file(path)
            qtbot.waitUntil(lambda: bool(outcome), timeout=180_000)
            seconds = time.monotonic() - started
            qtbot.waitUntil(lambda: not window.busy, timeout=5000)
    finally:
        bad_inputs.clear_up(path)
    if case.error is None:
        assert window.document is not None, outcome
        seen = window.status.message.text() + (" | " + " ".join(notices) if notices else "")
        assert seen.startswith("Opened")
        if case.says != "Opened":
            assert notices and case.says in notices[0]
    else:
        failure = outcome[0]
        assert failure.kind is not FailureKind.INTERNAL, failure.details
        seen = failure.message
        box = window.error_boxes[-1]
        assert box.isVisible() and box.text() == failure.message
        assert window.document is None and window.windowTitle() == "InfiniRetri"
    assert case.says in seen and "Traceback" not in seen
    assert window.panel.ask_button.isEnabled() == (case.error is None)
    print(f"\nROW | {case.what} | {seen} | {seconds:.2f}")


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
