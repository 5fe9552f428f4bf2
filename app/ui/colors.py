"""Score to colour maps shared by the heat strip, the page highlights and the passage list."""

from __future__ import annotations

from PySide6.QtGui import QColor

# A diverging cold-to-hot map (ColorBrewer RdYlBu reversed): readable on light and dark backgrounds.
_HEAT_STOPS: list[tuple[float, tuple[int, int, int]]] = [
    (0.00, (49, 54, 149)),
    (0.25, (116, 173, 209)),
    (0.50, (254, 224, 144)),
    (0.75, (244, 109, 67)),
    (1.00, (165, 0, 38)),
]

# Highlights on pages: pale yellow for weak passages to strong orange for the best ones.
_HIGHLIGHT_STOPS: list[tuple[float, tuple[int, int, int]]] = [
    (0.0, (255, 241, 118)),
    (0.5, (255, 202, 40)),
    (1.0, (255, 112, 67)),
]


def _interpolate(stops: list[tuple[float, tuple[int, int, int]]], value: float) -> QColor:
    value = min(1.0, max(0.0, float(value)))
    for (x0, c0), (x1, c1) in zip(stops, stops[1:], strict=False):
        if value <= x1:
            t = 0.0 if x1 == x0 else (value - x0) / (x1 - x0)
            return QColor(*(round(a + (b - a) * t) for a, b in zip(c0, c1, strict=True)))
    return QColor(*stops[-1][1])


def heat_color(score: float) -> QColor:
    """Colour of a window or passage mark on the heat strip."""
    return _interpolate(_HEAT_STOPS, score)


def highlight_color(score: float, alpha: int = 110) -> QColor:
    """Translucent fill for a passage highlighted on a page or in the text view."""
    color = _interpolate(_HIGHLIGHT_STOPS, score)
    color.setAlpha(alpha)
    return color


FIND_COLOR = QColor(64, 160, 255, 110)
INDEXED_COLOR = QColor(128, 128, 128, 110)  # heat strip: indexed, no relevance yet (neutral on light and dark)
