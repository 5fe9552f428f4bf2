"""Typed messages from the worker layer to the UI: what a job produced, and what went wrong. No Qt.

A failure is classified once, here, by the exception's real class (`FailureKind`), so the UI never
matches class names or message strings.
"""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from app.retrieval.types import AnswerResult, BadInputError, Cancelled

Rects = list[tuple[int, tuple[float, float, float, float]]]


class FailureKind(Enum):
    DOCUMENT = "document"  # the file cannot be read as a document; the message says why
    PASSWORD_NEEDED = "password-needed"  # an encrypted PDF and no password yet
    WRONG_PASSWORD = "wrong-password"
    NO_TEXT_LAYER = "no-text-layer"  # scanned pages: text recognition (OCR) may read them
    MODEL = "model"  # the model could not be loaded
    BAD_INPUT = "bad-input"  # the question or the document cannot be searched
    STORAGE = "storage"  # the attention index cannot be written (disk full, read-only cache)
    INDEX_BUSY = "index-busy"  # another window or process is building the same attention index
    INTERNAL = "internal"  # anything else: a bug or an unexpected condition


@dataclass(frozen=True)
class JobFailure:
    """What went wrong, for a dialog: `message` is for people, `details` holds the traceback."""

    kind: FailureKind
    title: str
    message: str
    details: str = ""
    ocr_available: bool = False  # NO_TEXT_LAYER: Tesseract is installed, so OCR can be offered


@dataclass(frozen=True)
class ModelLoaded:
    """A model was loaded (not reused) for this job."""

    name: str
    device: str

    @property
    def label(self) -> str:
        return f"{self.name} on {self.device}" if self.device else self.name

    @classmethod
    def of(cls, model: Any, spec: str) -> ModelLoaded:
        """The name and device of a loaded model (the spec when it has no name)."""
        return cls(str(getattr(model, "name", "") or spec), str(getattr(model, "device", "") or ""))


@dataclass(frozen=True)
class DocumentLoaded:
    """A document extracted off the GUI thread, with its content hash (the history's key)."""

    document: Any  # app.documents.Document
    key: str
    seconds: float


@dataclass
class AskOutcome:
    """A finished answer, with each passage's rectangles on the pages precomputed off the GUI thread."""

    question: str
    result: AnswerResult
    rects: list[Rects] = field(default_factory=list)
    model_name: str = ""
    device: str = ""


@dataclass(frozen=True)
class IndexOutcome:
    """Where a background index build stopped: `report` is the core's `IndexReport` (None when it was
    paused before the model was ready); `paused` when a question interrupted it (it resumes later)."""

    report: Any
    paused: bool = False

    @property
    def complete(self) -> bool:
        return bool(self.report is not None and self.report.complete)


def is_cancellation(exc: BaseException) -> bool:
    """The core's `Cancelled` or the documents layer's `DocumentCancelled`."""
    return isinstance(exc, Cancelled) or _is_instance(exc, "app.documents.errors", "DocumentCancelled")


def failure_from(exc: BaseException, title: str) -> JobFailure:
    """Classify an exception raised by the core into a failure a person can read."""
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    kind = classify(exc)
    text = str(exc).strip()
    if kind is FailureKind.INTERNAL:
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    ocr = kind is FailureKind.NO_TEXT_LAYER and not getattr(exc, "ocr_tried", False) and _tesseract_available()
    return JobFailure(kind, title, text, details, ocr)


def classify(exc: BaseException) -> FailureKind:
    if _is_instance(exc, "app.documents.errors", "EncryptedDocumentError"):
        wrong = bool(getattr(exc, "wrong_password", False))
        return FailureKind.WRONG_PASSWORD if wrong else FailureKind.PASSWORD_NEEDED
    if _is_instance(exc, "app.documents.errors", "NoTextLayerError"):
        return FailureKind.NO_TEXT_LAYER
    if _is_instance(exc, "app.documents.errors", "DocumentError"):
        return FailureKind.DOCUMENT
    if _is_instance(exc, "app.retrieval.models", "ModelLoadError"):
        return FailureKind.MODEL
    if _is_instance(exc, "app.retrieval.segment_store", "IndexStorageError"):
        return FailureKind.STORAGE
    if _is_instance(exc, "app.retrieval.segment_store", "StoreBusyError"):  # another build holds the lock
        return FailureKind.INDEX_BUSY
    if isinstance(exc, BadInputError):
        return FailureKind.BAD_INPUT
    return FailureKind.INTERNAL


def _is_instance(exc: BaseException, module_name: str, class_name: str) -> bool:
    """isinstance against a core class without importing its module (torch, MuPDF): an exception of
    a class can only exist once the module defining it has been imported."""
    module = sys.modules.get(module_name)
    cls = getattr(module, class_name, None) if module is not None else None
    return isinstance(cls, type) and isinstance(exc, cls)


def _tesseract_available() -> bool:
    from app.documents import tesseract_available

    return tesseract_available()
