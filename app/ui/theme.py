"""Light and dark look that follows the system: Fusion style, a matching palette and a small style sheet."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from app.paths import resources_dir

Scheme = Qt.ColorScheme


def dark_palette() -> QPalette:
    palette = QPalette()
    base, window, text = QColor(30, 31, 34), QColor(43, 45, 48), QColor(223, 225, 229)
    disabled = QColor(128, 130, 134)
    roles = {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: QColor(38, 39, 42),
        QPalette.ColorRole.ToolTipBase: QColor(60, 63, 66),
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.PlaceholderText: disabled,
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: QColor(54, 56, 60),
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.BrightText: QColor(255, 95, 95),
        QPalette.ColorRole.Highlight: QColor(53, 116, 240),
        QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
        QPalette.ColorRole.Link: QColor(88, 157, 246),
        QPalette.ColorRole.Mid: QColor(70, 72, 76),
        QPalette.ColorRole.Dark: QColor(20, 21, 23),
        QPalette.ColorRole.Light: QColor(80, 82, 86),
    }
    for role, color in roles.items():
        palette.setColor(role, color)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return palette


def light_palette() -> QPalette:
    palette = QApplication.style().standardPalette()
    palette.setColor(QPalette.ColorRole.Highlight, QColor(38, 103, 224))
    return palette


def current_scheme() -> Scheme:
    scheme = QGuiApplication.styleHints().colorScheme()
    return Scheme.Dark if scheme == Scheme.Dark else Scheme.Light


def style_sheet() -> str:
    path = resources_dir() / "styles" / "app.qss"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


class ThemeManager(QObject):
    """Applies the look now and again whenever the system switches between light and dark."""

    changed = Signal(bool)  # dark?

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self.app = app
        app.setStyle("Fusion")
        app.setStyleSheet(style_sheet())
        self.apply()
        QGuiApplication.styleHints().colorSchemeChanged.connect(self.apply)

    @property
    def dark(self) -> bool:
        return current_scheme() == Scheme.Dark

    def apply(self, *_: object) -> None:
        self.app.setPalette(dark_palette() if self.dark else light_palette())
        self.changed.emit(self.dark)
