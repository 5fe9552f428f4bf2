"""File ▸ Open Recent: the recently opened files, filled in each time the menu opens."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMenu, QWidget

from app.ui.app_settings import clear_recent_files, recent_files


class RecentFilesMenu(QMenu):
    fileChosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Open &Recent", parent)
        self.aboutToShow.connect(self._fill)

    def _fill(self) -> None:
        self.clear()
        files = recent_files()
        for path in files:
            action = self.addAction(Path(path).name)
            action.setToolTip(path)
            action.triggered.connect(lambda *_, p=path: self.fileChosen.emit(p))
        if not files:
            self.addAction("No recent files").setEnabled(False)
            return
        self.addSeparator()
        self.addAction("Clear Recent Files").triggered.connect(lambda *_: clear_recent_files())
