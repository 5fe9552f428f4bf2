"""Validate the real-document dev set against the app's own text extraction; prints one row per question.

    python tests/benchmarks/realdocs/check.py [--set dev|heldout] [--doc ID] [--no-cache]

Checks, per document: the PDF is fetched (sha256) and has the recorded page count. Per question: the
evidence is found in `load_document(...).text` (whitespace-insensitive), it lies on the recorded page (or
every other occurrence is on a page listed in `also_pages`), it lies inside one sentence of
`doc.sentences`, the answer regex matches the evidence, the answer regex does not match the question, and
a paraphrased question shares no content word with the evidence sentence. Exits 1 if any check fails.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from devset import (  # noqa: E402
    DevDocument,
    DevSet,
    Question,
    collapse_whitespace,
    evidence_spans,
    load_devset,
    pdf_path,
    sha256_of,
    shared_content_words,
)

from app.documents import Document, load_document  # noqa: E402


@dataclass
class Row:
    """The outcome of the checks of one question."""

    question: Question
    found: int = 0  # occurrences of the evidence
    page: int | None = None  # 1-based page of the first occurrence
    page_ok: bool = False
    sentence: int | None = None  # index into doc.sentences
    sentence_len: int = 0
    one_sentence: bool = False
    answer_ok: bool = False
    echo: bool = False  # the answer regex matches the question itself
    shared: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        paraphrase_ok = not (self.question.paraphrased and self.shared)
        located = bool(self.found) and self.page_ok and self.one_sentence
        return located and self.answer_ok and paraphrase_ok and not self.echo


def sentence_index(doc: Document, start: int, end: int) -> tuple[int, bool]:
    """Index of the sentence holding offset `start`, and whether [start, end) lies inside it."""
    lo, hi = 0, len(doc.sentences) - 1
    while lo < hi:  # last sentence whose start <= start
        mid = (lo + hi + 1) // 2
        if doc.sentences[mid].start <= start:
            lo = mid
        else:
            hi = mid - 1
    s = doc.sentences[lo]
    return lo, s.start <= start and end <= s.end


def check_question(doc: Document, q: Question) -> Row:
    row = Row(q)
    spans = evidence_spans(doc.text, q.evidence)
    row.found = len(spans)
    row.answer_ok = q.answer_matches(q.evidence)
    row.echo = q.answer_matches(q.question)
    if not spans:
        row.shared = shared_content_words(q.question, q.evidence)
        return row
    pages = [_page(doc, start) for start, _ in spans]
    row.page = pages[0]
    row.page_ok = q.page in pages and all(p == q.page or p in q.also_pages for p in pages)
    start, end = spans[pages.index(q.page)] if q.page in pages else spans[0]
    row.sentence, row.one_sentence = sentence_index(doc, start, end)
    s = doc.sentences[row.sentence]
    row.sentence_len = s.end - s.start
    sentence_text = doc.text[min(s.start, start) : max(s.end, end)]
    row.shared = shared_content_words(q.question, sentence_text)
    row.shared |= shared_content_words(q.question, q.evidence)
    return row


def _page(doc: Document, offset: int) -> int:
    index = doc.page_at(offset)
    return -1 if index is None else index + 1


def check_document(
    devdoc: DevDocument, questions: Sequence[Question], use_cache: bool
) -> tuple[list[str], list[Row]]:
    """Problems with the PDF itself, and one Row per question (empty when the PDF is missing)."""
    path = pdf_path(devdoc)
    if not path.is_file():
        return [f"{devdoc.id}: {path} is missing; run fetch.py"], []
    problems = []
    if sha256_of(path) != devdoc.sha256:
        problems.append(f"{devdoc.id}: sha256 differs from questions.json")
    doc = load_document(path, use_cache=use_cache)
    if len(doc.pages) != devdoc.pages:
        problems.append(f"{devdoc.id}: {len(doc.pages)} pages, questions.json says {devdoc.pages}")
    return problems, [check_question(doc, q) for q in questions]


def _mark(value: bool) -> str:
    return "ok" if value else "FAIL"


def format_row(row: Row) -> str:
    q = row.question
    shared = ",".join(sorted(row.shared)) if q.paraphrased else "-"
    if q.paraphrased and not row.shared:
        shared = "none"
    sentence = f"{row.sentence}/{row.sentence_len}" if row.sentence is not None else "-"
    cells = [
        q.id,
        "P" if q.paraphrased else "L",
        f"{row.found}" if row.found else "FAIL 0",
        f"{q.page}" + ("" if row.page_ok else f" FAIL@{row.page or '-'}"),
        sentence + ("" if row.one_sentence or row.sentence is None else " FAIL split"),
        _mark(row.answer_ok),
        "FAIL" if row.echo else "no",
        shared if not (q.paraphrased and row.shared) else f"FAIL {shared}",
        "ok" if row.ok else "FAIL",
    ]
    return " | ".join(cells)


HEADER = "id | L/P | found | page | sentence/len | answer | echo | shared words | result"


def summary(devset: DevSet, rows: list[Row], problems: list[str]) -> str:
    failed = [r for r in rows if not r.ok]
    paraphrased = sum(q.paraphrased for q in devset.questions)
    lines = [
        f"documents: {len(devset.documents)}; questions: {len(devset.questions)} "
        f"({len(devset.questions) - paraphrased} lexical, {paraphrased} paraphrased); checked: {len(rows)}; "
        f"failed: {len(failed)}",
    ]
    for doc in devset.documents:
        qs = devset.questions_for(doc.id)
        lines.append(f"  {doc.id}: {len(qs)} questions ({sum(q.paraphrased for q in qs)} paraphrased)")
    lines += [f"problem: {p}" for p in problems]
    lines += [f"failed: {r.question.id}" for r in failed]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--doc", action="append", help="check only this document id (repeatable)")
    parser.add_argument(
        "--no-cache", action="store_true", help="extract again instead of using the app's cache"
    )
    parser.add_argument("--set", default="dev", help="dev, heldout, or a question file")
    args = parser.parse_args(argv)
    devset = load_devset(args.set)
    problems: list[str] = _check_ids(devset)
    rows: list[Row] = []
    print(HEADER)
    for devdoc in devset.documents:
        if args.doc and devdoc.id not in args.doc:
            continue
        doc_problems, doc_rows = check_document(devdoc, devset.questions_for(devdoc.id), not args.no_cache)
        problems += doc_problems
        rows += doc_rows
        for row in doc_rows:
            print(format_row(row), flush=True)
    print(summary(devset, rows, problems))
    return 1 if problems or any(not r.ok for r in rows) else 0


def _check_ids(devset: DevSet) -> list[str]:
    """Duplicate ids, questions about unknown documents, evidence lengths out of 20-200 characters."""
    problems = []
    doc_ids = [d.id for d in devset.documents]
    q_ids = [q.id for q in devset.questions]
    for ids, what in ((doc_ids, "document"), (q_ids, "question")):
        problems += [f"duplicate {what} id {i}" for i in sorted(set(ids)) if ids.count(i) > 1]
    problems += [f"{q.id}: unknown document {q.doc}" for q in devset.questions if q.doc not in doc_ids]
    for q in devset.questions:
        n = len(collapse_whitespace(q.evidence))
        if not 20 <= n <= 200:
            problems.append(f"{q.id}: evidence is {n} characters (20-200)")
    return problems


if __name__ == "__main__":
    sys.exit(main())
