"""Replay the answer step on the passages a `realdocs.py --json` run kept, with other ways of answering
(a script, not a test; minutes per method on a 2-core CPU). Retrieval is not re-run: every strategy reads
the same kept passages, so their differences are the answer step's alone.

    .venv/bin/python tests/benchmarks/answer_replay.py RUN.json [--method auto] [--strategies shipped,pick3]
        [--cache CACHE_ROOT]    # the run's --cache, to reuse its extracted text

Strategies:
    shipped   what the app does: one answer from the best five passages with their neighbours
    pick<N>   one answer from each of the N best passages alone (with its neighbours); the answer the model
              is surest of (mean log-probability of its tokens) is kept, its passage shown as the evidence
    yes<N>    the N best passages ranked by the model's probability of "Yes" to "Does the passage answer
              the question?"; then the shipped answer step with that one as the best
Metrics as in realdocs.py: `answer` = the accepted-answer pattern matches the reply, `page` = the passage
shown as the evidence is on the evidence page.

Measured (2026-12-02, run 46's auto passages on gnuplot's 13 questions): shipped 8 answers right, page 7;
pick3 3 and 5; pick5 3 and 5; yes5 3 and 2. The 135M model is as sure of its wrong answers as of its right
ones, and its "Yes" does not tell the evidence apart: neither was adopted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE / "realdocs"), str(HERE.parents[1])]

import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import print_table  # noqa: E402
from devset import Question, load_devset, pdf_path  # noqa: E402
from realdocs import on_evidence_page  # noqa: E402

from app.documents import Document, load_document  # noqa: E402
from app.retrieval.generation import answer_context, best_passage, quote_reason, quoted  # noqa: E402
from app.retrieval.models import LoadedModel, load_model  # noqa: E402
from app.retrieval.pipeline import answer_from_passages  # noqa: E402
from app.retrieval.prompt import answer_prompt_ids, render_chat  # noqa: E402
from app.retrieval.types import Passage, RetrievalSettings  # noqa: E402

RELEVANCE_PROMPT = "Passage: {passage}\n\nQuestion: {question}\nDoes the passage answer the question? Reply Yes or No."


@dataclass
class Replayed:
    question: str
    doc: str
    paraphrased: bool
    strategy: str
    answer_right: bool
    page: bool
    seconds: float
    answer: str


def passages_of(document: Document, kept: Sequence[Sequence[object]]) -> list[Passage]:
    return [Passage(int(s), int(e), float(score), document.text[int(s):int(e)], str(by))  # type: ignore[arg-type]
            for s, e, score, by in kept]


def greedy_with_confidence(model: LoadedModel, context: str, question: str, max_new_tokens: int = 64) -> tuple[str, float]:
    """The greedy answer (its first paragraph) and the mean log-probability of its tokens."""
    ids = answer_prompt_ids(model.tokenizer, context, question)
    input_ids = torch.tensor([ids])
    with torch.inference_mode():
        out = model.model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                   max_new_tokens=max_new_tokens, do_sample=False, output_scores=True,
                                   return_dict_in_generate=True, pad_token_id=model.tokenizer.eos_token_id)
    tokens = out.sequences[0, len(ids):].tolist()
    logprobs = [float(torch.log_softmax(score[0].float(), -1)[token]) for score, token in zip(out.scores, tokens)]
    text = str(model.tokenizer.decode(tokens, skip_special_tokens=True)).strip()
    first = text.split("\n\n")[0].strip()
    kept = max(1, len(model.tokenizer(first, add_special_tokens=False)["input_ids"]))
    return first, float(np.mean(logprobs[:kept])) if logprobs else -99.0


def yes_probability(model: LoadedModel, passage: str, question: str) -> float:
    rendered = render_chat(model.tokenizer, RELEVANCE_PROMPT.format(passage=" ".join(passage.split()), question=question))
    ids = model.tokenizer(rendered, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logits = model.model(input_ids=torch.tensor([ids])).logits[0, -1].float()
    yes = model.tokenizer("Yes", add_special_tokens=False)["input_ids"][0]
    no = model.tokenizer("No", add_special_tokens=False)["input_ids"][0]
    return float(torch.softmax(logits[[yes, no]], -1)[0])


def replay(model: LoadedModel, document: Document, question: Question, passages: list[Passage],
           strategy: str, max_new_tokens: int = 64) -> tuple[str, Passage | None]:
    """The reply of `strategy` from the kept `passages`, and the passage it shows as the evidence."""
    settings = RetrievalSettings(max_new_tokens=max_new_tokens)
    text = document.text
    spans = np.asarray([(s.start, s.end) for s in document.sentences], dtype=np.int64).reshape(-1, 2)
    if strategy == "shipped":
        reply = answer_from_passages(text, document.sentences, passages, question.question, model, settings)
        best_index = reply.stats.get("best_passage")
        return reply.text, passages[best_index] if isinstance(best_index, int) else best_passage(passages)
    count = int(strategy[3:] if strategy.startswith("yes") else strategy[4:])
    ranked = list(answer_context(text, spans, passages, model.tokenizer, settings.answer_context_tokens,
                                 count).ranked)
    if not ranked:
        return "", None
    if strategy.startswith("yes"):
        chances = [yes_probability(model, p.text, question.question) for p in ranked]
        order = sorted(range(len(ranked)), key=lambda i: -chances[i])
        boosted = [Passage(p.start, p.end, (p.score + 2.0 if i == order[0] else p.score), p.text, p.kept_by)
                   for i, p in enumerate(ranked)]
        rest = [p for p in passages if p not in ranked]
        reply = answer_from_passages(text, document.sentences, boosted + rest, question.question, model, settings)
        return reply.text, ranked[order[0]]
    tries = []
    for passage in ranked:
        context = answer_context(text, spans, [passage], model.tokenizer, settings.answer_context_tokens, 1)
        answer, confidence = greedy_with_confidence(model, context.text, question.question, max_new_tokens)
        if quote_reason(answer, question.question, context):
            answer = quoted(passage, text, spans)
            confidence -= 1.0  # a quote only when no passage gave an answer
        tries.append((confidence, answer, passage))
    confidence, answer, passage = max(tries, key=lambda t: t[0])
    return answer, passage


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run")
    parser.add_argument("--set", default="dev")
    parser.add_argument("--method", default="auto")
    parser.add_argument("--strategies", default="shipped,pick3,pick5,yes5")
    parser.add_argument("--cache", default="")
    parser.add_argument("--docs", default="")
    parser.add_argument("--json", default="")
    args = parser.parse_args(argv)
    devset = load_devset(args.set)
    questions = {q.id: q for q in devset.questions}
    outcomes = [o for o in json.loads(Path(args.run).read_text())["outcomes"] if o["method"] == args.method]
    if args.docs:
        outcomes = [o for o in outcomes if o["doc"] in args.docs.split(",")]
    model = load_model("bundled", "cpu")
    strategies = [s for s in args.strategies.split(",") if s]
    replayed: list[Replayed] = []
    documents: dict[str, Document] = {}
    for item in outcomes:
        if item["doc"] not in documents:
            if args.cache:
                os.environ["XDG_CACHE_HOME"] = str(Path(args.cache) / item["doc"])
            documents = {item["doc"]: load_document(pdf_path(devset.document(item["doc"])))}
        document, question = documents[item["doc"]], questions[item["question"]]
        passages = passages_of(document, item["kept"])
        for strategy in strategies:
            started = time.perf_counter()
            reply, shown = replay(model, document, question, passages, strategy)
            row = Replayed(question.id, question.doc, question.paraphrased, strategy, question.answer_matches(reply),
                           on_evidence_page(document, shown, question), time.perf_counter() - started, " ".join(reply.split()))
            replayed.append(row)
            print(f"  {row.doc:10} {row.question:30} {strategy:8} {'+' if row.page else '-'}{'+' if row.answer_right else '-'}"
                  f" {row.seconds:5.1f}s {row.answer[:70]}", file=sys.stderr, flush=True)
    rows = []
    for strategy in strategies:
        mine = [r for r in replayed if r.strategy == strategy]
        rows.append([strategy, len(mine), sum(r.answer_right for r in mine),
                     sum(r.answer_right for r in mine if r.paraphrased), sum(r.page for r in mine),
                     f"{np.mean([r.seconds for r in mine]):.1f}" if mine else "-"])
    print_table(["strategy", "questions", "answer right", "of them paraphrased", "page", "answer s"], rows)
    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ for r in replayed], indent=1))


if __name__ == "__main__":
    main()
