"""The real-document development set: questions about long PDF manuals from Debian documentation packages.

Shared by `fetch.py`, `check.py` and the retrieval benchmarks. Standard library only, so that `fetch.py`
runs without the app's virtual environment. The PDFs are never committed: `fetch.py` downloads them into
`pdfs_dir()` (`$REALDOCS_DIR/pdfs`, else `~/.cache/infiniretri-bench/realdocs/pdfs`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEVSET_FILE = Path(__file__).with_name("questions.json")
# The dev set tunes the app; the held-out set (other manuals, other subjects) is read once a change is chosen,
# to see whether what was tuned holds on documents nobody tuned for. The trial set (Bash's manual and R's
# 2,415-page reference manual, about 1.1M tokens) was written to try the app on manuals outside both; two
# changes were read from its failures, so it is not blind either. Its beamer questions (the eighteenth
# session) were written before anything was run on that guide.
SET_FILES = {"dev": DEVSET_FILE, "heldout": Path(__file__).with_name("heldout.json"),
             "trial": Path(__file__).with_name("trial.json")}
DEFAULT_DIR = Path("~/.cache/infiniretri-bench/realdocs")

# Words that carry no content, for the paraphrase check (a question must share no content word with its
# evidence). Kept short on purpose: question words and function words only.
_STOPWORD_TEXT = """
    a about above after again all also am an and any are as at be been before being below between both but
    by can could did do does doing down during each either else few for from further had has have having he
    her here hers him his how i if in into is it its itself just may me might more most much must my
    neither no nor not of off on once one only or other our out over own same shall she should so some such
    than that the their them then there these they this those through to too under until up upon us very
    was we were what when where whether which while who whom whose why will with within without would you
    your eg ie etc don doesn didn isn aren wasn won can cannot
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class DevDocument:
    """One PDF of the set: where it comes from (package, version, path inside it) and what it is."""

    id: str
    package: str
    version: str
    path: str  # inside the package, e.g. /usr/share/doc/gnuplot/gnuplot.pdf
    sha256: str
    pages: int
    title: str


@dataclass(frozen=True)
class Question:
    """A question whose answer is in one sentence of one document.

    `evidence` is a verbatim piece of that sentence (whitespace-insensitive) on 1-based `page`; `answer` is a
    case-insensitive regex that a correct short answer matches. `paraphrased` questions share no content word
    with the evidence.
    """

    id: str
    doc: str
    question: str
    evidence: str
    page: int
    answer: str
    paraphrased: bool
    kind: str
    also_pages: tuple[int, ...] = ()

    def answer_matches(self, text: str) -> bool:
        """Whether `text` (an answer, or the evidence) holds the answer: the regex, case-insensitive."""
        return re.search(self.answer, collapse_whitespace(text), re.IGNORECASE) is not None


@dataclass(frozen=True)
class DevSet:
    """The documents and the questions of `questions.json`."""

    documents: list[DevDocument]
    questions: list[Question] = field(default_factory=list)

    def document(self, doc_id: str) -> DevDocument:
        for doc in self.documents:
            if doc.id == doc_id:
                return doc
        raise KeyError(doc_id)

    def questions_for(self, doc_id: str) -> list[Question]:
        return [q for q in self.questions if q.doc == doc_id]


def load_devset(path: Path | str = DEVSET_FILE) -> DevSet:
    """Read a question file (a path, or a name in `SET_FILES`) into dataclasses."""
    path = SET_FILES[path] if isinstance(path, str) and path in SET_FILES else Path(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    documents = [DevDocument(**d) for d in data["documents"]]
    questions = [_question(q) for q in data["questions"]]
    return DevSet(documents, questions)


def _question(raw: dict[str, Any]) -> Question:
    fields = dict(raw)
    fields["also_pages"] = tuple(fields.get("also_pages") or ())
    return Question(**fields)


def realdocs_dir() -> Path:
    """The cache folder: `$REALDOCS_DIR`, else `~/.cache/infiniretri-bench/realdocs`."""
    return Path(os.environ.get("REALDOCS_DIR") or DEFAULT_DIR).expanduser()


def pdfs_dir() -> Path:
    """Where `fetch.py` puts the PDFs."""
    return realdocs_dir() / "pdfs"


def pdf_path(doc: DevDocument) -> Path:
    """The local copy of `doc`: `<pdfs_dir>/<id>.pdf` (it exists once `fetch.py` has run)."""
    return pdfs_dir() / f"{doc.id}.pdf"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def is_fetched(doc: DevDocument) -> bool:
    """Whether the local copy of `doc` exists and has the recorded sha256."""
    path = pdf_path(doc)
    return path.is_file() and sha256_of(path) == doc.sha256


def collapse_whitespace(text: str) -> str:
    """Runs of whitespace become one space; leading and trailing whitespace is dropped."""
    return " ".join(text.split())


def _evidence_pattern(evidence: str) -> re.Pattern[str]:
    words = evidence.split()
    if not words:
        raise ValueError("empty evidence")
    return re.compile(r"\s+".join(re.escape(w) for w in words))


def evidence_spans(text: str, evidence: str) -> list[tuple[int, int]]:
    """Every (start, end) in the raw `text` where `evidence` occurs (whitespace runs match any whitespace)."""
    return [m.span() for m in _evidence_pattern(evidence).finditer(text)]


def evidence_span(text: str, evidence: str) -> tuple[int, int] | None:
    """The first (start, end) character offsets of `evidence` in the raw `text`, or None.

    Whitespace-insensitive: `text` and `evidence` are compared after collapsing whitespace runs to one space,
    so a line break in the extracted text matches a space in the evidence. `text[start:end]` is the match.
    """
    match = _evidence_pattern(evidence).search(text)
    return match.span() if match else None


def stem(word: str) -> str:
    """A crude stem, so that "lines"/"line", "strings"/"string", "setting"/"sets" or "used"/"uses" match."""
    word = _strip(word, (("ies", "y"), ("ied", "y"), ("es", ""), ("s", "")))
    shorter = _strip(word, (("ing", ""), ("ed", "")))
    if shorter != word and len(shorter) > 3 and shorter[-1] == shorter[-2] and shorter[-1] in "bdgmnprt":
        shorter = shorter[:-1]  # "setting" -> "set"
    word = shorter
    return word[:-1] if word.endswith("e") and len(word) >= 3 else word


def _strip(word: str, suffixes: tuple[tuple[str, str], ...]) -> str:
    for suffix, replacement in suffixes:
        if word.endswith(suffix) and not word.endswith("ss") and len(word) - len(suffix) >= 2:
            return word[: -len(suffix)] + replacement
    return word


def content_words(text: str) -> set[str]:
    """Lowercased, stemmed words of `text` that are not stopwords (letters and digits; `\\foo` -> `foo`).

    Single letters ("s" of "printer's") are left out, single digits kept.
    """
    words = _WORD.findall(text.lower())
    return {stem(w) for w in words if w not in STOPWORDS and (len(w) > 1 or w.isdigit())}


def shared_content_words(question: str, evidence: str) -> set[str]:
    """Content words the question shares with the evidence: none for a paraphrased question."""
    return content_words(question) & content_words(evidence)
