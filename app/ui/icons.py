"""Toolbar and button icons from qtawesome (Material Design Icons), recoloured with the palette."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication, QIcon, QPalette

NAMES = {
    "open": "mdi6.folder-open-outline",
    "zoom_in": "mdi6.magnify-plus-outline",
    "zoom_out": "mdi6.magnify-minus-outline",
    "fit_width": "mdi6.arrow-expand-horizontal",
    "settings": "mdi6.cog-outline",
    "cancel": "mdi6.stop-circle-outline",
    "ask": "mdi6.send",
    "previous": "mdi6.chevron-up",
    "next": "mdi6.chevron-down",
    "find": "mdi6.magnify",
    "history": "mdi6.history",
    "delete": "mdi6.delete-outline",
    "document": "mdi6.file-document-outline",
    "close": "mdi6.close",
}


def icon(name: str) -> QIcon:
    """The named icon in the current text colour; an empty icon if qtawesome cannot draw it."""
    try:
        import qtawesome

        palette = QGuiApplication.palette()
        return qtawesome.icon(
            NAMES[name],
            color=palette.color(QPalette.ColorRole.ButtonText),
            color_disabled=palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText),
        )
    except Exception:
        return QIcon()
