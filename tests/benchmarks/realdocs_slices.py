"""The exact pass on slices of the real manuals: does a speed lever keep the same choices on real text?

    nice -n 5 .venv/bin/python tests/benchmarks/realdocs_slices.py [--set dev] [--docs id,...]
        [--per-doc 4] [--tokens 8000] [--variants "precision=float32;precision=bfloat16"]

Needles do not tell layers or precisions apart; real questions do, but a full pass over a 300-page manual
takes about ten minutes a question. So for each question of the set this takes the sentences around its
evidence, about `--tokens` model tokens of the real manual with the evidence at a depth of 0.1, 0.5 or 0.9
(in turn), and runs the paper's exact pass (every window, no index) over that slice once per variant, on the
same slice. It prints per variant: evidence retained, the best retained passage holding the evidence,
document tokens/s, and how much of the first variant's retained sentences it kept too (overlap).
Variants take RetrievalSettings fields: precision=, layer=, window= (window_tokens), heads= (full_pass_heads).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE / "realdocs"), str(HERE.parents[1])]

from common import print_table  # noqa: E402
from devset import Question, evidence_span, is_fetched, load_devset, pdf_path  # noqa: E402

from app.documents import Document, load_document  # noqa: E402
from app.documents.document import Sentence  # noqa: E402
from app.retrieval.generation import best_passage  # noqa: E402
from app.retrieval.models import LoadedModel, load_model  # noqa: E402
from app.retrieval.pipeline import retrieve  # noqa: E402
from app.retrieval.types import RetrievalSettings  # noqa: E402

EXACT = RetrievalSettings(mode="full", build_index=False)
DEPTHS = (0.1, 0.5, 0.9)
_FIELDS = {"window": "window_tokens", "heads": "full_pass_heads"}


@dataclass(frozen=True)
class Slice:
    """Sentences `first`..`end` of a document, re-based to start at character 0."""

    text: str
    sentences: list[Sentence]
    evidence: tuple[int, int]
    tokens: int


@dataclass
class Row:
    question: str
    variant: str
    retained: bool
    best_holds: bool
    tokens_per_second: float
    kept: frozenset[int]  # retained passages' starts in the slice


def parse_variants(spec: str) -> dict[str, RetrievalSettings]:
    """'precision=float32;precision=bfloat16,window=2048' -> named settings (integers where the value is one)."""
    variants: dict[str, RetrievalSettings] = {}
    for item in filter(None, (v.strip() for v in spec.split(";"))):
        changes: dict[str, object] = {}
        for pair in item.split(","):
            key, _, value = pair.partition("=")
            value = value.strip()
            changes[_FIELDS.get(key.strip(), key.strip())] = int(value) if value.isdigit() else value
        variants[item] = replace(EXACT, **changes)  # type: ignore[arg-type]
    return variants or {"as shipped": EXACT}


def slice_around(document: Document, span: tuple[int, int], tokens: int, depth: float,
                 count: Callable[[int], int]) -> Slice:
    """About `tokens` tokens of whole sentences with the evidence's sentence at `depth` of them."""
    sentences = document.sentences
    at = next(i for i, s in enumerate(sentences) if s.end > span[0])
    before_budget = int(tokens * depth)
    first, used = at, count(at)
    while first > 0 and used + count(first - 1) <= before_budget:
        first -= 1
        used += count(first)
    end = at + 1
    while end < len(sentences) and used + count(end) <= tokens:
        used += count(end)
        end += 1
    base = sentences[first].start
    text = document.text[base : sentences[end - 1].end]
    rebased = [Sentence(s.start - base, s.end - base) for s in sentences[first:end]]
    return Slice(text, rebased, (span[0] - base, span[1] - base), used)


def holds(start: int, end: int, evidence: tuple[int, int]) -> bool:
    """The passage covers at least half of the evidence's characters."""
    return 2 * max(0, min(end, evidence[1]) - max(start, evidence[0])) >= evidence[1] - evidence[0]


def run_question(model: LoadedModel, piece: Slice, question: Question, variants: dict[str, RetrievalSettings]) -> list[Row]:
    rows = []
    for name, settings in variants.items():
        started = time.perf_counter()
        result = retrieve(piece.text, piece.sentences, question.question, model, settings)
        seconds = time.perf_counter() - started
        covered = sum(max(0, min(p.end, piece.evidence[1]) - max(p.start, piece.evidence[0])) for p in result.passages)
        best = best_passage(result.passages)
        rows.append(Row(question.id, name, 2 * covered >= piece.evidence[1] - piece.evidence[0],
                        best is not None and holds(best.start, best.end, piece.evidence),
                        round(piece.tokens / max(seconds, 1e-6), 1), frozenset(p.start for p in result.passages)))
        print(f"  {question.id} | {name} | retained {rows[-1].retained} | best {rows[-1].best_holds} | "
              f"{rows[-1].tokens_per_second} tok/s", file=sys.stderr, flush=True)
    return rows


def warm_up(model: LoadedModel, variants: dict[str, RetrievalSettings]) -> None:
    """Each variant once on a short text, so that loading, calibration and first-call costs stay out of the timing."""
    text = "The manual explains the options. Each option has a default value. The default colour is blue."
    sentences = [Sentence(0, 33), Sentence(34, 66), Sentence(67, len(text))]
    for settings in variants.values():
        retrieve(text, sentences, "What is the default colour?", model, settings)


def summary(rows: list[Row], variants: list[str]) -> list[list[object]]:
    first = {r.question: r.kept for r in rows if r.variant == variants[0]}
    out: list[list[object]] = []
    for name in variants:
        mine = [r for r in rows if r.variant == name]
        overlap = [len(r.kept & first[r.question]) / max(len(first[r.question]), 1) for r in mine]
        seconds = sum(1 / max(r.tokens_per_second, 1e-6) for r in mine)  # per token, summed over slices
        out.append([name, len(mine), f"{sum(r.retained for r in mine)}/{len(mine)}",
                    f"{sum(r.best_holds for r in mine)}/{len(mine)}", round(len(mine) / max(seconds, 1e-9), 1),
                    f"{100 * sum(overlap) / max(len(overlap), 1):.0f}%"])
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default="dev")
    parser.add_argument("--docs", default="", help="comma-separated document ids (default: all fetched)")
    parser.add_argument("--per-doc", type=int, default=4, help="questions per document (0: all)")
    parser.add_argument("--tokens", type=int, default=8000, help="slice length in model tokens")
    parser.add_argument("--variants", default="precision=float32;precision=bfloat16")
    parser.add_argument("--model", default="bundled")
    args = parser.parse_args(argv)
    devset = load_devset(args.set)
    wanted = [d for d in args.docs.split(",") if d]
    model = load_model(args.model, "cpu")
    variants = parse_variants(args.variants)
    warm_up(model, variants)
    rows: list[Row] = []
    number = 0
    for doc in devset.documents:
        if (wanted and doc.id not in wanted) or not is_fetched(doc):
            continue
        document = load_document(pdf_path(doc))
        lengths: dict[int, int] = {}

        def count(i: int, document: Document = document, lengths: dict[int, int] = lengths) -> int:
            if i not in lengths:
                s = document.sentences[i]
                lengths[i] = len(model.tokenizer(document.text[s.start : s.end], add_special_tokens=False)["input_ids"])
            return lengths[i]

        questions = devset.questions_for(doc.id)
        for question in questions[: args.per_doc or None]:
            span = evidence_span(document.text, question.evidence)
            if span is None:
                continue
            piece = slice_around(document, span, args.tokens, DEPTHS[number % len(DEPTHS)], count)
            number += 1
            rows += run_question(model, piece, question, variants)
    print_table(["variant", "questions", "evidence retained", "best passage holds it", "tok/s",
                 "kept as the first variant"], summary(rows, list(variants)))
    print(f"\n{model.name} on {model.device}; slices of about {args.tokens} tokens; one run")


if __name__ == "__main__":
    main()
