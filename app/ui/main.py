"""GUI entry point: ``run_gui(path)`` is what ``infiniretri`` and ``infiniretri FILE`` call."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from app.paths import APP_AUTHOR, APP_NAME, sample_document
from app.ui.runtime import freeze_long_lived, tune_interpreter_for_gui

QUIT_GRACE_MS = 2000  # after the window closed, cancelled workers get this long to return


def make_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication with names set (QSettings uses them), Fusion style and the system's light/dark look."""
    tune_interpreter_for_gui()
    existing = QApplication.instance()
    if existing is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        existing = QApplication(argv if argv is not None else sys.argv[:1])
    app = existing
    assert isinstance(app, QApplication)
    app.setOrganizationName(APP_AUTHOR)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName("InfiniRetri")
    app.setDesktopFileName("infiniretri")
    if not hasattr(app, "_infiniretri_theme"):
        from app.ui.theme import ThemeManager

        app._infiniretri_theme = ThemeManager(app)  # type: ignore[attr-defined]
    return app


def initial_document(path: str | None) -> Path | None:
    """The file to open: the one given, else the bundled sample on the very first run."""
    if path:
        return Path(path)
    store = QSettings()
    first_run = not store.value("app/started_before", False, type=bool)
    store.setValue("app/started_before", True)
    sample = sample_document()
    return sample if first_run and sample.exists() else None


def create_main_window(**kwargs):
    """The application (created if needed) and its main window, shown; kwargs go to MainWindow."""
    app = make_application()
    from app.ui.main_window import MainWindow

    window = MainWindow(**kwargs)
    theme = getattr(app, "_infiniretri_theme", None)
    if theme is not None:
        theme.changed.connect(window.refresh_icons)
    freeze_long_lived(collect=True)
    window.show()
    return app, window


def run_gui(path: str | None = None, **window_options: Any) -> int:
    """Show the window (opening `path`), run until it closes, and exit without hanging.

    A worker still inside a step the core cannot interrupt (a model load, one window of a huge model)
    does not keep the process alive: after a short grace the process ends without waiting for it.
    Nothing is lost: settings and history are written as they change.
    """
    app, window = create_main_window(**window_options)
    document = initial_document(path)
    if document is not None:
        QTimer.singleShot(0, lambda: window.open_file(document))
    code = app.exec()
    if not window.wait_for_workers(QUIT_GRACE_MS):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
