"""The main window's size, position, toolbar and splitter positions, kept with QSettings between runs."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow, QSplitter

DEFAULT_SIZE = (1280, 820)


def restore_window_state(window: QMainWindow, splitters: dict[str, QSplitter]) -> None:
    """Put the window and its splitters back as they were; the default size on the first run."""
    store = QSettings()
    geometry = store.value("window/geometry")
    if isinstance(geometry, QByteArray) and not geometry.isEmpty():
        window.restoreGeometry(geometry)
    else:
        window.resize(*DEFAULT_SIZE)
    for name, splitter in splitters.items():
        state = store.value(f"window/{name}")
        if isinstance(state, QByteArray) and not state.isEmpty():
            splitter.restoreState(state)
    state = store.value("window/state")
    if isinstance(state, QByteArray) and not state.isEmpty():
        window.restoreState(state)


def save_window_state(window: QMainWindow, splitters: dict[str, QSplitter]) -> None:
    store = QSettings()
    store.setValue("window/geometry", window.saveGeometry())
    store.setValue("window/state", window.saveState())
    for name, splitter in splitters.items():
        store.setValue(f"window/{name}", splitter.saveState())
    store.sync()
