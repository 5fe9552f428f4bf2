"""Offsets in Python strings (code points) and positions in Qt text (UTF-16 code units). No Qt.

A character outside the Basic Multilingual Plane (most emoji, rare CJK ideographs) is one code point
in Python but two UTF-16 units in a ``QTextDocument``, so each such character before a passage moves
its Qt position one further than its Python offset.
"""

from __future__ import annotations

import re

import numpy as np

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


class Utf16Positions:
    """Converts between offsets into `text` and Qt positions in a document holding the same text."""

    def __init__(self, text: str = "") -> None:
        if text.isascii():  # the common case, checked at memory speed
            offsets = np.zeros(0, np.int64)
        else:
            offsets = np.fromiter((m.start() for m in _ASTRAL.finditer(text)), np.int64)
        self._astral = offsets  # Python offsets of the characters that take two units
        self._astral_positions = offsets + np.arange(len(offsets))  # their Qt positions

    def to_qt(self, offset: int) -> int:
        """The Qt position of the character at Python `offset`."""
        if not len(self._astral):
            return offset
        return offset + int(np.searchsorted(self._astral, offset, side="left"))

    def from_qt(self, position: int) -> int:
        """The Python offset of the character at Qt `position` (inside a surrogate pair: that character)."""
        if not len(self._astral):
            return position
        return position - int(np.searchsorted(self._astral_positions, position, side="left"))
