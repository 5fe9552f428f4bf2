"""Errors raised while loading documents; each carries one message fit to show a person."""

from __future__ import annotations


class DocumentError(Exception):
    """Base class: `str(error)` is a user-readable sentence."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnreadableFileError(DocumentError):
    """The path is missing, a directory, or cannot be read."""


class EmptyDocumentError(DocumentError):
    """The file holds no text at all."""


class CorruptDocumentError(DocumentError):
    """The PDF is damaged beyond repair."""


class UnsupportedFileError(DocumentError):
    """The file is neither a PDF nor plain text (e.g. a binary file)."""


class NoTextLayerError(DocumentError):
    """The PDF has pages but no extractable text (scanned images); `ocr_tried`: text recognition ran too."""

    def __init__(self, message: str, ocr_tried: bool = False) -> None:
        super().__init__(message)
        self.ocr_tried = ocr_tried


class DocumentChangedError(DocumentError):
    """The file changed on disk since (or while) it was loaded."""


class DocumentCancelled(DocumentError):
    """Loading was cancelled by the caller."""

    def __init__(self, message: str = "Loading the document was cancelled.") -> None:
        super().__init__(message)


class EncryptedDocumentError(DocumentError):
    """The PDF needs a password; `wrong_password` is True when one was given and rejected."""

    def __init__(self, message: str, wrong_password: bool = False) -> None:
        super().__init__(message)
        self.wrong_password = wrong_password
