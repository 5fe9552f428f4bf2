"""Plain data that crosses the boundary between the retrieval core and its front ends (CLI, GUI)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class Cancelled(Exception):
    """Raised inside the core when the caller's cancel token is set."""


class BadInputError(ValueError):
    """The question or the document cannot be searched (empty question, no text); exit 2 in the CLI."""


class CancelToken:
    """A thread-safe flag the core checks between windows and between generated tokens."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled")


MODES = ("auto", "full", "indexed")


PRECISIONS = ("auto", "float32", "bfloat16")  # RetrievalSettings.precision (see precision.py)
ANSWER_PRECISIONS = ("native", "int8")  # RetrievalSettings.answer_precision (see answer_model.py)


@dataclass(frozen=True)
class RetrievalSettings:
    """Knobs of the InfiniRetri loop; defaults follow the paper and the reference code.

    Modes: "full" is the paper's exact pass over every window. "indexed" runs the same loop over the
    sentences the document's attention index ranks best (building the index first if there is none).
    "auto" (the default) runs it over the sentences that words, meaning and the attention index built so far
    rank best, and keeps meaning's best `meaning_beside_loop` beside the loop's choice (and, for a question
    about a default, a number or a file, the `fitting_beside_loop` best that state one); or the full pass when
    that is estimated to take under `auto_full_pass_seconds`.
    """

    window_tokens: int = 1024
    top_k: int = 300
    phrase_width: int = 8
    layer: int | None = None  # None: the calibrated layer of the model
    # Query heads summed at the scoring layer: "all" as the paper does, or "calibrated" (the retrieval heads).
    loop_heads: str = "all"  # the loop over chosen sentences (auto, indexed): calibrated measured no clear gain
    full_pass_heads: str = "all"  # the exact full pass
    index_heads: str = "calibrated"  # the same choice for scoring the attention index
    max_new_tokens: int = 64  # a short answer; generation also stops at the end of its first sentence
    answer_context_tokens: int = 320  # the best retained sentences, with their neighbours, up to this many tokens
    answer_passages: int = 5  # ... at most this many of the best, each with its neighbours (dev set: 2-8 measured)
    answer_neighbours: bool = True
    # a question on a default, a quantity or a file is answered from a passage stating one (answer_kind.py)
    answer_fits_question: bool = True
    question_weighting: bool = True
    mode: str = "auto"
    build_index: bool = True  # a full pass also writes the attention index for later questions
    candidate_tokens: int = 3072  # auto/indexed: tokens of chosen sentences (with neighbours) the loop reads
    # (real-document sets, runs 40-41: as much evidence as 4,096, follow-ups 8 s instead of 10)
    # auto: the meaning ranking's best units kept beside the loop's choice (0: the loop's choice alone; dev set,
    # runs 46-50: 20 kept the evidence for 54 of 67 questions against 51, the same best passages and answers)
    meaning_beside_loop: int = 20
    # ... and, for a question about a default, a number or a file, the best of the sentences that state one
    # (sources.py, "fitting"; 0: none; nineteenth session: 10 kept the evidence for 38 of 40 dev questions
    # against 37 with 5 and 36 with none, the same answers)
    fitting_beside_loop: int = 10
    focus_window_tokens: int = 2048  # ... packed into windows of this many tokens (two for the default budget)
    auto_full_pass_seconds: float = 20.0  # auto: take the exact full pass when it is estimated to be this quick
    # Build the deep embeddings (all-mpnet-base-v2) last when indexing, and rank by them once complete
    deep_meaning: bool = True
    # The retrieval forwards: "auto" (bfloat16 autocast on a CPU that computes it natively), "float32", "bfloat16"
    precision: str = "auto"  # one of PRECISIONS
    # The model that writes the answer: "native" (the model itself), "int8" (a quantised copy, see answer_model.py)
    answer_precision: str = "native"  # one of ANSWER_PRECISIONS


@dataclass(frozen=True)
class WindowScore:
    """One window of the document: its character span and how relevant its best tokens were (0..1)."""

    index: int
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Passage:
    """A retained sentence: `text == document.text[start:end]`; score in 0..1; `kept_by` "loop" (the
    InfiniRetri loop's choice) or "meaning" (kept beside it by the meaning ranking, in auto mode)."""

    start: int
    end: int
    score: float
    text: str
    kept_by: str = "loop"


@dataclass(frozen=True)
class Progress:
    """A progress report; `window` is set when a window has just been scored."""

    stage: str  # "tokenizing" | "retrieving" | "generating" | "loading" | "calibrating"
    done: int
    total: int
    tokens_per_second: float = 0.0
    eta_seconds: float | None = None
    window: WindowScore | None = None
    message: str = ""


ProgressCallback = Callable[[Progress], None]
TokenCallback = Callable[[str], None]


@dataclass
class RetrievalResult:
    passages: list[Passage]
    windows: list[WindowScore]
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class AnswerResult:
    answer: str
    passages: list[Passage]
    windows: list[WindowScore]
    stats: dict[str, Any] = field(default_factory=dict)

    def to_json(
        self, document_pages: Callable[[int], int | None] | None = None,
        document_lines: Callable[[int], int] | None = None,
    ) -> dict[str, Any]:
        """The JSON shape of the command-line contract; `document_pages` maps an offset to a 1-based page, and
        `document_lines` (given for text files) to a 1-based line, added to each passage as `line`."""

        def page(offset: int) -> int | None:
            return document_pages(offset) if document_pages else None

        def where(offset: int) -> dict[str, int]:
            return {"line": document_lines(offset)} if document_lines else {}

        return {
            "answer": self.answer,
            "passages": [
                {"text": p.text, "start": p.start, "end": p.end, "page": page(p.start), **where(p.start),
                 "score": round(p.score, 4), "kept_by": p.kept_by}
                for p in self.passages
            ],
            "windows": [{"start": w.start, "end": w.end, "score": round(w.score, 4)} for w in self.windows],
            "stats": self.stats,
        }
