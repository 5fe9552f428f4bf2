"""Take the README screenshot of the real app: open the bundled sample, ask a question with the bundled
model, wait for the answer, jump to the best passage and save the window with QWidget.grab().

    .venv/bin/python packaging/screenshot.py [--output docs/screenshot.png] [--question "..."]

Runs offscreen by default (set QT_QPA_PLATFORM=xcb to watch it). Settings, history and caches go to a
temporary folder, so the user's own are neither used nor changed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def isolate(home: Path) -> None:
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        os.environ[name] = str(home / name.lower())
    from PySide6.QtCore import QSettings

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(home / "settings"))
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(home / "settings"))


def run_until(app, condition, timeout: float, what: str) -> None:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise SystemExit(f"screenshot: timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.01)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--document", type=Path, default=None, help="default: the bundled sample")
    parser.add_argument("--question", default="What did the king hold out to Esther?")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--size", default="1440x900", help="window size in logical pixels")
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()

    from app.paths import sample_document

    document = args.document or sample_document()
    if not document.exists():
        raise SystemExit(f"screenshot: {document} does not exist")
    with tempfile.TemporaryDirectory(prefix="infiniretri-shot-") as tmp:
        isolate(Path(tmp))
        return take(args, document, Path(tmp))


def take(args: argparse.Namespace, document: Path, home: Path) -> int:
    from app.history import HistoryStore
    from app.ui.app_settings import AppSettings
    from app.ui.main import create_main_window, make_application

    make_application()
    AppSettings(device=args.device).save()
    app, window = create_main_window(history=HistoryStore(home / "history.sqlite3"))
    width, height = (int(v) for v in args.size.lower().split("x"))
    window.resize(width, height)
    errors: list = []
    window.jobFailed.connect(errors.append)
    answers: list = []
    window.answerFinished.connect(answers.append)

    window.open_file(document)
    run_until(app, lambda: window.document is not None or errors, args.timeout, "the document")
    fail_on(errors)
    window.panel.set_question(args.question)
    window.panel.request_ask()
    run_until(app, lambda: answers or errors, args.timeout, "the answer")
    fail_on(errors)
    show_best_passage(app, window)

    args.output.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(args.output)):
        raise SystemExit(f"screenshot: could not write {args.output}")
    result = answers[0].result
    print(f"saved {args.output} ({width}x{height}); answer: {result.answer.strip()[:120]!r}; "
          f"{len(result.passages)} passages, {len(result.windows)} windows")
    window.close()
    window.deleteLater()
    app.processEvents()
    return 0


def show_best_passage(app, window) -> None:
    """Jump to the highest scoring passage and let its page render and the flash fade."""
    if not window.passages:
        return
    best = max(range(len(window.passages)), key=lambda i: window.passages[i].score)
    window.go_to_passage(best)
    view = window.area.page_view
    run_until(app, lambda: view.current_page() < 0 or view.is_rendered(view.current_page()), 30, "the page")
    run_until(app, lambda: not view.flash.active, 5, "the flash")


def fail_on(errors: list) -> None:
    if errors:
        raise SystemExit(f"screenshot: {errors[0].title}: {errors[0].message}")


if __name__ == "__main__":
    sys.exit(main())
