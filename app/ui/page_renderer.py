"""Renders PDF pages with PyMuPDF on a background thread, so scrolling never waits for MuPDF.

One renderer thread owns its own ``pymupdf.Document``. Requests carry a generation number (bumped on
each new file) and are dropped when the page is no longer wanted by the time the thread gets to them,
so fast scrolling through thousands of pages does not build a backlog.

PyMuPDF is not thread safe, even across documents: every MuPDF call here holds
``app.documents.MUPDF_LOCK``, shared with the document loader.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtGui import QImage

from app.documents import MUPDF_LOCK

_STOPPING: set[QThread] = set()  # render threads asked to stop, kept alive until they have


class _RenderWorker(QObject):
    """Lives on the render thread."""

    rendered = Signal(int, int, float, QImage)  # generation, page index, scale, image
    failed = Signal(int, int, str)
    measured = Signal(int, float, float)  # generation, width and height of the first page

    @Slot(int)
    def measure(self, generation: int) -> None:
        try:
            with MUPDF_LOCK:
                document = self._document(generation)
                if document is None or document.page_count == 0:
                    return
                rect = document.load_page(0).rect
        except Exception:
            return
        self.measured.emit(generation, float(rect.width), float(rect.height))

    def __init__(self, owner: PageRenderer) -> None:
        super().__init__()
        self.owner = owner
        self._doc = None
        self._doc_generation = -1

    @Slot(int, int, float)
    def render(self, generation: int, index: int, scale: float) -> None:
        if not self.owner.still_wanted(generation, index, scale):
            return
        try:
            image = self._render(generation, index, scale)
        except Exception as exc:
            self.failed.emit(generation, index, str(exc))
            return
        if image is not None:
            self.rendered.emit(generation, index, scale, image)

    def _render(self, generation: int, index: int, scale: float) -> QImage | None:
        import pymupdf

        with MUPDF_LOCK:
            document = self._document(generation)
            if document is None or not 0 <= index < document.page_count:
                return None
            page = document.load_page(index)
            pixmap = page.get_pixmap(matrix=pymupdf.Matrix(scale, scale), alpha=False)
            image = QImage(pixmap.samples, pixmap.width, pixmap.height, pixmap.stride, QImage.Format.Format_RGB888)
            return image.copy()

    def _document(self, generation: int):
        if generation == self._doc_generation:
            return self._doc
        import pymupdf

        self.close_document()
        path, password = self.owner.source(generation)
        if path is None:
            return None
        document = pymupdf.open(str(path))
        if document.needs_pass and password:
            document.authenticate(password)
        self._doc, self._doc_generation = document, generation
        return document

    @Slot()
    def close_document(self) -> None:
        if self._doc is not None:
            with MUPDF_LOCK:
                self._doc.close()
        self._doc, self._doc_generation = None, -1


class PageRenderer(QObject):
    """GUI-thread facade: ``request()`` pages, receive ``rendered`` images."""

    rendered = Signal(int, float, QImage)  # page index, scale, image (current document only)
    measured = Signal(float, float)  # first page size in points (current document only)
    _request = Signal(int, int, float)
    _measure = Signal(int)
    _close = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._generation = 0
        self._path: Path | None = None
        self._password: str | None = None
        self._wanted: set[tuple[int, float]] = set()
        self._thread = QThread()
        self._thread.setObjectName("page-renderer")
        self._worker = _RenderWorker(self)
        self._worker.moveToThread(self._thread)
        self._request.connect(self._worker.render, Qt.ConnectionType.QueuedConnection)
        self._close.connect(self._worker.close_document, Qt.ConnectionType.QueuedConnection)
        self._worker.rendered.connect(self._on_rendered, Qt.ConnectionType.QueuedConnection)
        self._measure.connect(self._worker.measure, Qt.ConnectionType.QueuedConnection)
        self._worker.measured.connect(self._on_measured, Qt.ConnectionType.QueuedConnection)
        self._thread.start()
        self._stopped = False

    # GUI thread -----------------------------------------------------------------------------------
    def open(self, path: Path | None, password: str | None = None) -> None:
        with self._lock:
            self._generation += 1
            self._path, self._password = path, password
            self._wanted = set()
        self._close.emit()

    def want(self, pages: set[tuple[int, float]]) -> None:
        """Replace the set of (page, scale) still worth rendering."""
        with self._lock:
            self._wanted = set(pages)

    def request(self, index: int, scale: float) -> None:
        with self._lock:
            self._wanted.add((index, scale))
            generation = self._generation
        self._request.emit(generation, index, scale)

    def measure(self) -> None:
        """Ask for the first page's size (``measured`` follows)."""
        self._measure.emit(self._generation)

    @Slot(int, float, float)
    def _on_measured(self, generation: int, width: float, height: float) -> None:
        if generation == self._generation:
            self.measured.emit(width, height)

    @Slot(int, int, float, QImage)
    def _on_rendered(self, generation: int, index: int, scale: float, image: QImage) -> None:
        if generation == self._generation:
            self.rendered.emit(index, scale, image)

    def shutdown(self) -> None:
        """Stop the render thread without waiting for a page being rendered (closing never blocks).

        The thread is kept referenced until it has ended: destroying a running QThread aborts.
        """
        if self._stopped:
            return
        self._stopped = True
        self.open(None)
        self._thread.quit()
        _STOPPING.add(self._thread)
        self._thread.finished.connect(lambda thread=self._thread: _STOPPING.discard(thread))

    def wait(self, timeout_ms: int) -> bool:
        """Wait up to `timeout_ms` for the render thread to end (after shutdown); True if it has."""
        return self._thread.wait(max(0, timeout_ms))

    # any thread -----------------------------------------------------------------------------------
    def still_wanted(self, generation: int, index: int, scale: float) -> bool:
        with self._lock:
            return generation == self._generation and (index, scale) in self._wanted

    def source(self, generation: int) -> tuple[Path | None, str | None]:
        with self._lock:
            if generation != self._generation:
                return None, None
            return self._path, self._password
