"""The core calls the GUI makes, gathered in one object that tests replace piece by piece. No Qt.

The defaults import the real core lazily (PyMuPDF, torch and transformers take seconds to import), so
the window shows before any of it is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.retrieval.types import AnswerResult, Progress

ProgressCallback = Callable[[Progress], None]
CancelCheck = Callable[[], bool]


def _load_document(*args: Any, **kwargs: Any) -> Any:
    from app.documents import load_document

    return load_document(*args, **kwargs)


def _probe_document(path: Path) -> Any:
    from app.documents import probe_document

    return probe_document(path)


def _load_model(
    spec: str, device: str, on_progress: ProgressCallback | None = None, cancel: CancelCheck | None = None
) -> Any:
    from app.retrieval.models import load_model

    return load_model(spec, device=device, on_progress=on_progress, cancel=cancel)


def _answer(*args: Any, **kwargs: Any) -> AnswerResult:
    from app.retrieval.pipeline import answer

    return answer(*args, **kwargs)


def _build_index(*args: Any, **kwargs: Any) -> Any:
    from app.retrieval.indexing import build_index

    return build_index(*args, **kwargs)


def _index_status(*args: Any, **kwargs: Any) -> tuple[int, int, bool]:
    from app.retrieval.indexing import index_status

    return index_status(*args, **kwargs)


def _lexical_index(text: str, sentences: Any) -> Any:
    from app.retrieval.lexical import lexical_index

    return lexical_index(text, sentences)


def _prepare_vocabulary(check: Callable[[], None], on_progress: ProgressCallback | None = None) -> int:
    from app.retrieval.token_vectors import complete_vocabulary

    return complete_vocabulary(check, on_progress)


def _warm_up() -> None:
    import app.documents  # noqa: F401 - PyMuPDF's import alone takes ~0.7 s


def _document_key(path: Path, cancel: CancelCheck | None = None) -> str:
    from app.hashing import file_hash

    return file_hash(path, cancel=cancel)


@dataclass
class Engine:
    """The core calls the GUI uses; replace any of them in tests.

    `load_model(spec, device, on_progress, cancel)`; `document_key(path, cancel)` is the history's key
    (`app.history.document_key`). `build_index(text, sentences, model, settings=, on_progress=, cancel=,
    should_pause=)` returns an `app.retrieval.indexing.IndexReport`; `index_status(text, sentences, model,
    settings)` is (indexed tokens, document tokens, complete); `lexical_index(text, sentences)` builds or
    loads the keyword index; `prepare_vocabulary(check, on_progress)` computes the word vectors not stored
    yet (once per machine) and returns how many it computed.
    """

    load_document: Callable[..., Any] = _load_document
    probe_document: Callable[[Path], Any] = _probe_document
    load_model: Callable[[str, str, ProgressCallback | None, CancelCheck | None], Any] = _load_model
    answer: Callable[..., AnswerResult] = _answer
    document_key: Callable[[Path, CancelCheck | None], str] = _document_key
    warm_up: Callable[[], None] = _warm_up
    prepare_vocabulary: Callable[..., int] = _prepare_vocabulary
    build_index: Callable[..., Any] = _build_index
    index_status: Callable[..., tuple[int, int, bool]] = _index_status
    lexical_index: Callable[[str, Any], Any] = _lexical_index
