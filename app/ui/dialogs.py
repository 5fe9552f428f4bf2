"""Small dialogs of the main window: errors (non-blocking, traceback under 'Show Details'), notices and
the PDF password prompt."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QLineEdit, QMessageBox, QWidget

from app.ui.workers import JobFailure


def error_box(
    parent: QWidget, failure: JobFailure, actions: tuple[tuple[str, Callable[[], None]], ...] = ()
) -> QMessageBox:
    """An error dialog, opened without blocking; each action adds a button that runs it."""
    box = QMessageBox(QMessageBox.Icon.Critical, failure.title, failure.message, QMessageBox.StandardButton.Ok, parent)
    if failure.details:
        box.setDetailedText(failure.details)
    for text, action in actions:
        button = box.addButton(text, QMessageBox.ButtonRole.AcceptRole)
        button.clicked.connect(lambda *_, run=action: run())
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def notice_box(parent: QWidget, title: str, text: str) -> QMessageBox:
    """A warning the person should read once, opened without blocking."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def ask_password(parent: QWidget, name: str, wrong: bool) -> str | None:
    """The password of an encrypted PDF, or None when the person gives up."""
    prompt = "Wrong password. Try again:" if wrong else "This PDF is protected. Password:"
    password, ok = QInputDialog.getText(parent, f"Password for {name}", prompt, QLineEdit.EchoMode.Password)
    return password if ok and password else None
