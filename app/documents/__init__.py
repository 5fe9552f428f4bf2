"""Documents: loading PDF and text files into text with provenance, and sentence segmentation. No Qt."""

from app.documents.document import Document, PageInfo, Rect, Sentence
from app.documents.errors import (
    CorruptDocumentError,
    DocumentCancelled,
    DocumentChangedError,
    DocumentError,
    EmptyDocumentError,
    EncryptedDocumentError,
    NoTextLayerError,
    UnreadableFileError,
    UnsupportedFileError,
)
from app.documents.loader import DocumentInfo, load_document, probe_document
from app.documents.pdf_loader import MUPDF_LOCK, tesseract_available
from app.documents.provenance import GlyphMap
from app.documents.sentences import DEFAULT_MAX_CHARS, split_sentences

__all__ = [
    "DEFAULT_MAX_CHARS",
    "MUPDF_LOCK",
    "CorruptDocumentError",
    "Document",
    "DocumentCancelled",
    "DocumentChangedError",
    "DocumentError",
    "DocumentInfo",
    "EmptyDocumentError",
    "EncryptedDocumentError",
    "GlyphMap",
    "NoTextLayerError",
    "PageInfo",
    "Rect",
    "Sentence",
    "UnreadableFileError",
    "UnsupportedFileError",
    "load_document",
    "probe_document",
    "split_sentences",
    "tesseract_available",
]
