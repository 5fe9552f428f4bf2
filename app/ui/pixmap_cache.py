"""A least-recently-used cache of rendered pages, bounded by memory."""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtGui import QPixmap

Key = tuple[int, float]  # page index, render scale


class PixmapCache:
    def __init__(self, max_bytes: int = 192 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Key, QPixmap] = OrderedDict()
        self._bytes = 0

    @staticmethod
    def _size(pixmap: QPixmap) -> int:
        return pixmap.width() * pixmap.height() * 4

    def get(self, key: Key) -> QPixmap | None:
        pixmap = self._items.get(key)
        if pixmap is not None:
            self._items.move_to_end(key)
        return pixmap

    def any_for(self, index: int) -> QPixmap | None:
        """Some rendering of this page at any scale (a blurry stand-in while the right one renders)."""
        for (page, _scale), pixmap in reversed(self._items.items()):
            if page == index:
                return pixmap
        return None

    def put(self, key: Key, pixmap: QPixmap) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self._bytes -= self._size(old)
        self._items[key] = pixmap
        self._bytes += self._size(pixmap)
        while self._bytes > self.max_bytes and len(self._items) > 1:
            _, evicted = self._items.popitem(last=False)
            self._bytes -= self._size(evicted)

    def clear(self) -> None:
        self._items.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Key) -> bool:
        return key in self._items
