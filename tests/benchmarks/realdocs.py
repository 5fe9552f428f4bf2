"""Real-document benchmark: the dev set's questions about long Debian manuals, every method side by side
(a script, not a test; hours on a 2-core CPU with the full pass, minutes per document without it).

    python tests/benchmarks/realdocs/fetch.py                     # once: the PDFs (not in git)
    nice -n 10 .venv/bin/python tests/benchmarks/realdocs.py [--docs gnuplot,memoir] [--methods ...]
        [--full-limit 1] [--questions 0] [--json out.json]

Per document, in one process and one run:
1. With an empty cache, open the PDF and ask the first question in auto mode before the attention index and
   the sentence embeddings exist (BM25 and the static token vectors): "open s" and the cold "first answer s"
   of auto; with `cold`, the same question again in an empty cache that holds the vocabulary's word vectors
   (as the app keeps them once it has indexed one document): "same, word vectors stored s".
2. Build the attention index without a question (`build_index`): seconds, tokens/s, bytes.
3. Every question with every method:
   auto     the default: candidates from BM25, sentence embeddings and the attention index (each ranking
            in turn), then the InfiniRetri loop over them; the 20 sentences meaning ranks best are kept
            beside the loop's choice
   auto-m0  the same with the loop's choice alone (any N: N of meaning's best kept beside it)
   auto-heads  the same, the loop summing only the calibrated retrieval heads
   auto-L14    the same with the loop at layer 14 (any N; the index is read at that layer too, and the
            loop sums every head: heads are calibrated for one layer)
   auto-k600   the same, the loop keeping the sentences of its best 600 tokens instead of 300 (any N)
   auto-c6144  the same, the loop reading 6,144 candidate tokens instead of 3,072 (any N)
   cold     auto before the attention index and the sentence embeddings exist (BM25 and the static token
            vectors), each document in an empty cache: what a user gets at once
   cold-words  the same without the static token vectors (BM25 alone, as before them)
   cold-minilm  cold with the token vectors' best sentences read again by MiniLM alone, not by
            all-mpnet-base-v2 as well (as before the fifteenth session)
   cold-c4096  cold with the loop reading 4,096 candidate tokens, the budget until run 40 (any N)
   cold-d100  cold with the deep embedder reading again 100 of the best sentences (any N; the app reads 100
            where the CPU computes bfloat16 natively, 30 elsewhere)
   indexed  attention-index candidates only, then the loop
   bm25     BM25 alone (top 36 sentences), same answer step
   minilm   MiniLM sentence embeddings alone (top 36), same answer step
   meaning  the app's meaning ranking alone (the better of each sentence and its neighbourhood by the deep
            embeddings, all-mpnet-base-v2), top 36
   meaning-quick  the same by MiniLM's embeddings (the ranking until the deep ones are built)
   mpnet    all-mpnet-base-v2 sentence embeddings alone (top 36), same answer step
   auto-quick  auto with MiniLM's meaning ranking instead of the deep embeddings'
With `--without-attention` the attention index is not built: auto and auto-quick then fuse words and meaning
only (what a user has once the embeddings are built, if the attention index were not).
   full     the paper's exact pass over every window (slow: only the first `--full-limit` questions per
            document, alternating lexical and paraphrased ones)
Metrics: `evidence` = the retained passages cover at least half of the evidence string; `page` = the best
passage (the one the app shows under the answer) is on the evidence page (or one of `also_pages`);
`answer` = the question's accepted-answer pattern matches the answer; `best passage holds answer` = it matches
the best passage (what a quoted answer would say); `first s` = time to the first answer
(index or embedding build included where the method needs one); `follow-up s` = mean time per later question.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from unittest import mock

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE / "realdocs"), str(HERE.parents[1])]

import numpy as np  # noqa: E402
from common import print_table  # noqa: E402
from devset import DevDocument, Question, evidence_span, load_devset, pdf_path  # noqa: E402
from sentence_rankers import bm25_passages, meaning_passages, minilm_passages, mpnet_passages  # noqa: E402

from app.documents import Document, load_document  # noqa: E402
from app.retrieval import embeddings, lexical, token_vectors, workspace  # noqa: E402
from app.retrieval import meaning as meaning_module  # noqa: E402
from app.retrieval.candidates import WEIGHTS, choose_interleaved, choose_units, fuse, ranks  # noqa: E402
from app.retrieval.embeddings import build_embeddings  # noqa: E402
from app.retrieval.generation import best_passage  # noqa: E402
from app.retrieval.indexing import build_index  # noqa: E402
from app.retrieval.models import LoadedModel, load_model  # noqa: E402
from app.retrieval.pipeline import answer, answer_from_passages, candidate_rankings  # noqa: E402
from app.retrieval.types import Passage, RetrievalSettings  # noqa: E402

METHODS = ["auto", "auto-plain", "auto-quick", "auto-heads", "cold", "cold-words", "cold-minilm", "indexed", "bm25", "minilm", "mpnet", "meaning",
           "meaning-quick", "full"]
BUDGETS = (2048, 3072, 4096, 6144)
WITHOUT_INDEX = ("cold", "cold-words", "cold-minilm", "bm25", "mpnet")  # methods that need neither the attention index nor the embeddings
# Ways to choose the loop's candidates from the sources' rankings, compared in the recall table.
STRATEGIES: dict[str, tuple[str, dict[str, float]]] = {
    "lexical alone": ("best", {"lexical": 1}),
    "meaning alone": ("best", {"meaning": 1}),
    "attention alone (retrieval heads)": ("best", {"attention": 1}),
    "attention alone (all heads)": ("best", {"attention_all_heads": 1}),
    "RRF lexical+meaning+attention": ("rrf", {"lexical": 1, "meaning": 1, "attention": 1}),
    "turns lexical+meaning": ("turns", {"lexical": 1, "meaning": 1}),
    "turns lexical+meaning+attention": ("turns", {"lexical": 1, "meaning": 1, "attention": 1}),
    "turns lexical+2 meaning+attention": ("turns", {"lexical": 1, "meaning": 2, "attention": 1}),
    "turns lexical+2 meaning+attention (all heads)": ("turns", {"lexical": 1, "meaning": 2, "attention_all_heads": 1}),
    "turns as shipped (candidates.WEIGHTS)": ("turns", dict(WEIGHTS)),
}


@dataclass
class Outcome:
    question: str
    doc: str
    method: str
    paraphrased: bool
    evidence: bool
    page: bool
    answer_right: bool
    seconds: float
    answer: str
    passages: int
    mode: str = ""
    quote_right: bool = False  # the best passage (shown under the answer, quoted when the answer is dropped) holds it
    best_text: str = ""
    model_answer: str = ""  # what the model wrote, before an unhelpful answer gives way to the quote
    kept: list[tuple[int, int, float, str]] = field(default_factory=list)  # retained passages: start, end, score, by


@dataclass
class Recall:
    """Whether each candidate strategy's choice holds the evidence, per budget, and each source's rank."""

    question: str
    paraphrased: bool
    hits: dict[str, dict[int, bool]]
    ranks: dict[str, float]


@dataclass
class DocumentRun:
    doc: str
    pages: int
    tokens: int = 0
    open_seconds: float = 0.0
    cold_first_seconds: float = 0.0
    vocabulary_first_seconds: float = 0.0  # the same first question, the vocabulary's word vectors stored
    index_seconds: float = 0.0
    index_tokens_per_second: float = 0.0
    index_bytes: int = 0
    full_tokens_per_second: float = 0.0
    minilm_build_seconds: float = 0.0


def needs_index(method: str) -> bool:
    """The method reads the attention index or the embeddings (every cold method asks before they exist)."""
    return method not in WITHOUT_INDEX and not method.startswith("cold")


def covers_evidence(passages: Sequence[Passage], span: tuple[int, int] | None) -> bool:
    """The passages cover at least half of the evidence's characters."""
    if span is None:
        return False
    start, end = span
    covered = sum(max(0, min(p.end, end) - max(p.start, start)) for p in passages)
    return covered * 2 >= end - start


def on_evidence_page(document: Document, best: Passage | None, question: Question) -> bool:
    if best is None:
        return False
    index = document.page_at(best.start)
    return index is not None and index + 1 in (question.page, *question.also_pages)


def outcome(document: Document, question: Question, method: str, passages: Sequence[Passage], best: Passage | None,
            reply: str, seconds: float, stats: dict[str, object]) -> Outcome:
    span = evidence_span(document.text, question.evidence)
    best_text = " ".join(best.text.split()) if best is not None else ""
    return Outcome(question.id, question.doc, method, question.paraphrased, covers_evidence(passages, span),
                   on_evidence_page(document, best, question), question.answer_matches(reply), round(seconds, 2),
                   " ".join(reply.split()), len(passages), str(stats.get("mode", "")),
                   question.answer_matches(best_text), best_text, " ".join(str(stats.get("model_answer", "")).split()),
                   [(p.start, p.end, p.score, p.kept_by) for p in passages])


def ask_core(model: LoadedModel, document: Document, question: Question, method: str,
             settings: RetrievalSettings) -> Outcome:
    started = time.perf_counter()
    result = answer(document.text, document.sentences, question.question, model, settings)
    seconds = time.perf_counter() - started
    best_index = result.stats.get("best_passage")
    best = result.passages[best_index] if isinstance(best_index, int) else None
    return outcome(document, question, method, result.passages, best, result.answer, seconds, result.stats)


def ask_ranked(model: LoadedModel, document: Document, question: Question, method: str,
               passages: list[Passage], seconds_so_far: float) -> Outcome:
    started = time.perf_counter()
    reply = answer_from_passages(document.text, document.sentences, passages, question.question, model)
    seconds = seconds_so_far + time.perf_counter() - started
    return outcome(document, question, method, passages, best_passage(passages), reply.text, seconds, reply.stats)


def candidate_recall(model: LoadedModel, document: Document, question: Question) -> Recall:
    """Which candidate strategies put a unit of the evidence into the loop's reading, at each budget."""
    doc, rankings = candidate_rankings(document.text, document.sentences, question.question, model)
    span = evidence_span(document.text, question.evidence) or (0, 0)
    evidence = np.flatnonzero((doc.unit_chars[:, 0] < span[1]) & (doc.unit_chars[:, 1] > span[0]))
    hits: dict[str, dict[int, bool]] = {}
    for name, (how, weights) in STRATEGIES.items():
        if name.startswith("turns as shipped"):  # the fitting ranking only for the questions that have one
            weights = {source: w for source, w in weights.items() if source in rankings.scores or source != "fitting"}
        if not all(source in rankings.scores for source in weights):
            continue
        scores = [rankings.scores[source] for source in weights]
        hits[name] = {}
        for budget in BUDGETS:
            if how == "best":
                chosen = choose_units(doc, scores[0], budget)
            elif how == "rrf":
                chosen = choose_units(doc, fuse(scores), budget)
            else:
                chosen = choose_interleaved(doc, scores, list(weights.values()), budget)
            hits[name][budget] = bool(np.isin(evidence, chosen).any())
    source_ranks = {name: float(ranks(scores)[evidence].min()) if evidence.size else float("inf")
                    for name, scores in rankings.scores.items()}
    return Recall(question.id, question.paraphrased, hits, source_ranks)


def recall_rows(recalls: list[Recall]) -> list[list[object]]:
    rows = []
    for name in STRATEGIES:
        mine = [r for r in recalls if name in r.hits]
        if not mine:
            continue
        cells: list[object] = [name]
        for budget in BUDGETS:
            every = [r.hits[name][budget] for r in mine]
            lexical_ones = [r.hits[name][budget] for r in mine if not r.paraphrased]
            paraphrased = [r.hits[name][budget] for r in mine if r.paraphrased]
            cells.append(f"{_share(every)} ({_share(lexical_ones)} / {_share(paraphrased)})")
        rows.append(cells)
    return rows


def forget_memory_caches() -> None:
    """What a fresh process would have: no tokenised document, no lexical index, no token vectors in memory."""
    workspace._tokenized.clear()
    lexical._cache.clear()
    token_vectors._documents.clear()
    token_vectors._tables.clear()


COLD = RetrievalSettings(mode="auto", build_index=False)


@contextlib.contextmanager
def cold_cache(cache_root: Path, doc_id: str, name: str = "cold") -> Iterator[None]:
    """An empty cache for the cold questions (only the converted model is shared: loading is not measured), and
    nothing of the document in memory; the document's own cache again afterwards."""
    folder = cache_root / name / doc_id
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "InfiniRetri").mkdir(parents=True)
    models = cache_root / doc_id / "InfiniRetri" / "models"
    if models.exists():
        (folder / "InfiniRetri" / "models").symlink_to(models.resolve())
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(folder)
    forget_memory_caches()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = before
        forget_memory_caches()


@contextlib.contextmanager
def stored_vocabulary(cache_root: Path) -> Iterator[None]:
    """In the current (empty) cache, the vocabulary's word vectors, as a machine has them once the app has
    indexed one document (computed once per run in `cache_root/vocabulary`)."""
    here = Path(os.environ["XDG_CACHE_HOME"])
    shared = cache_root / "vocabulary"
    os.environ["XDG_CACHE_HOME"] = str(shared)
    forget_memory_caches()
    token_vectors.complete_vocabulary()
    os.environ["XDG_CACHE_HOME"] = str(here)
    forget_memory_caches()
    (here / "InfiniRetri" / "token-vectors").symlink_to((shared / "InfiniRetri" / "token-vectors").resolve())
    yield


@contextlib.contextmanager
def candidate_shares(method: str) -> Iterator[None]:
    """The candidate sources' shares of the loop's budget set, while the block runs, to those a method named
    `auto-w<lexical>-<meaning>-<attention>[-<fitting>]` or `cold-w<...>` gives (auto-w1-3-0-0: auto before the
    fitting ranking)."""
    values = [float(v) for v in method.split("-w", 1)[1].split("-")]
    shipped = dict(WEIGHTS)
    WEIGHTS.update(zip(("lexical", "meaning", "attention", "fitting"), values))
    try:
        yield
    finally:
        WEIGHTS.clear()
        WEIGHTS.update(shipped)


def without_token_vectors() -> contextlib.AbstractContextManager[object]:
    """The meaning ranking without the static token vectors (what the first question had before them)."""
    return mock.patch.object(meaning_module, "token_scores", lambda *args, **kwargs: None)


def without_deep_reading() -> contextlib.AbstractContextManager[object]:
    """The cold ranking's best sentences read again by MiniLM alone, as if the deep embedder were not loaded."""
    return mock.patch.object(embeddings, "loaded_deep_embedder", lambda: None)


def run_document(model: LoadedModel, dev_doc: DevDocument, questions: list[Question], methods: Sequence[str],
                 full_limit: int, cache_root: Path, attention: bool = True
                 ) -> tuple[DocumentRun, list[Outcome], list[Recall]]:
    run = DocumentRun(dev_doc.id, dev_doc.pages)
    os.environ["XDG_CACHE_HOME"] = str(cache_root / dev_doc.id)  # an empty cache for this document
    forget_memory_caches()
    started = time.perf_counter()
    document = load_document(pdf_path(dev_doc))
    run.open_seconds = time.perf_counter() - started
    outcomes: list[Outcome] = []
    auto = RetrievalSettings(mode="auto", build_index=attention)
    if "cold" in methods or "auto" in methods:
        with cold_cache(cache_root, dev_doc.id):
            first = ask_core(model, document, questions[0], "cold", COLD)
            run.cold_first_seconds = first.seconds
            if "cold" in methods:
                outcomes.append(_log(first))
                outcomes += [_log(ask_core(model, document, q, "cold", COLD)) for q in questions[1:]]
        if "cold" in methods:
            with cold_cache(cache_root, dev_doc.id, "cold-vocabulary"), stored_vocabulary(cache_root):
                run.vocabulary_first_seconds = ask_core(model, document, questions[0], "cold", COLD).seconds
    for method in (m for m in methods if m.startswith("cold-w")):  # cold with other shares: cold-w<L>-<M>-<A>
        with cold_cache(cache_root, dev_doc.id, method), candidate_shares(method):
            outcomes += [_log(ask_core(model, document, q, method, COLD)) for q in questions]
    for method in (m for m in methods if m.startswith("cold-c")):  # cold with another candidate budget
        budget = dataclasses.replace(COLD, candidate_tokens=int(method.removeprefix("cold-c")))
        with cold_cache(cache_root, dev_doc.id, method):
            outcomes += [_log(ask_core(model, document, q, method, budget)) for q in questions]
    for method in (m for m in methods if m.startswith("cold-d")):  # the deep embedder reads this many again
        count = int(method.removeprefix("cold-d"))
        with cold_cache(cache_root, dev_doc.id, method), mock.patch.object(meaning_module, "deep_read_again",
                                                                           functools.partial(int, count)):
            outcomes += [_log(ask_core(model, document, q, method, COLD)) for q in questions]
    if "cold-minilm" in methods:  # the best sentences read again by MiniLM alone
        with cold_cache(cache_root, dev_doc.id, "cold-minilm"), without_deep_reading():
            outcomes += [_log(ask_core(model, document, q, "cold-minilm", COLD)) for q in questions]
    if "cold-words" in methods:  # the same before the static token vectors: BM25 alone at first
        with cold_cache(cache_root, dev_doc.id, "cold-words"), without_token_vectors():
            outcomes += [_log(ask_core(model, document, q, "cold-words", COLD)) for q in questions]
    recalls: list[Recall] = []
    if any(needs_index(method) for method in methods) and not attention:
        tick = time.perf_counter()
        build_embeddings(document.text, document.sentences)
        build_embeddings(document.text, document.sentences, which="deep")
        run.index_seconds = time.perf_counter() - tick
    elif any(needs_index(method) for method in methods):
        report = build_index(document.text, document.sentences, model, auto)
        run.tokens, run.index_seconds = report.document_tokens, report.seconds
        run.minilm_build_seconds = report.embedding_seconds
        run.index_tokens_per_second, run.index_bytes = report.tokens_per_second, report.index_bytes
        recalls = [candidate_recall(model, document, q) for q in questions]
    full_questions = _full_sample(questions, full_limit)
    for question in questions:
        for method in methods:
            if method == "auto":
                outcomes.append(_log(ask_core(model, document, question, "auto", auto)))
            elif method == "auto-quick":  # MiniLM's meaning ranking, as before the deep embeddings
                quick = dataclasses.replace(auto, deep_meaning=False)
                outcomes.append(_log(ask_core(model, document, question, method, quick)))
            elif method == "auto-plain":  # the best passage by score alone, whatever the question asks for
                plain = dataclasses.replace(auto, answer_fits_question=False)
                outcomes.append(_log(ask_core(model, document, question, method, plain)))
            elif method == "auto-heads":  # the loop sums only the calibrated retrieval heads
                heads = RetrievalSettings(mode="auto", loop_heads="calibrated")
                outcomes.append(_log(ask_core(model, document, question, "auto-heads", heads)))
            elif method.startswith("auto-k"):  # the loop keeps another number of top tokens
                top_k = RetrievalSettings(mode="auto", top_k=int(method.removeprefix("auto-k")))
                outcomes.append(_log(ask_core(model, document, question, method, top_k)))
            elif method.startswith("auto-m"):  # another number of meaning's best kept beside the loop's choice
                beside = RetrievalSettings(mode="auto", meaning_beside_loop=int(method.removeprefix("auto-m")))
                outcomes.append(_log(ask_core(model, document, question, method, beside)))
            elif method.startswith("auto-f"):  # another number of the fitting ranking's best kept beside the loop
                beside = dataclasses.replace(auto, fitting_beside_loop=int(method.removeprefix("auto-f")))
                outcomes.append(_log(ask_core(model, document, question, method, beside)))
            elif method.startswith("auto-c"):  # the loop reads another number of candidate tokens
                budget = dataclasses.replace(auto, candidate_tokens=int(method.removeprefix("auto-c")))
                outcomes.append(_log(ask_core(model, document, question, method, budget)))
            elif method.startswith("auto-w"):  # other shares of the candidate budget: auto-w<lexical>-<meaning>-<attention>
                with candidate_shares(method):
                    outcomes.append(_log(ask_core(model, document, question, method, auto)))
            elif method.startswith("auto-L"):  # the loop at another layer (all heads: calibrated at one layer)
                at_layer = RetrievalSettings(mode="auto", layer=int(method.removeprefix("auto-L")))
                outcomes.append(_log(ask_core(model, document, question, method, at_layer)))
            elif method == "indexed":
                outcomes.append(_log(ask_core(model, document, question, "indexed", RetrievalSettings(mode="indexed"))))
            elif method == "bm25":
                tick = time.perf_counter()
                passages = bm25_passages(document.text, document.sentences, question.question)
                outcomes.append(_log(ask_ranked(model, document, question, "bm25", passages, time.perf_counter() - tick)))
            elif method in ("minilm", "meaning", "meaning-quick", "mpnet"):
                tick = time.perf_counter()
                if method == "minilm":
                    passages = minilm_passages(document.text, document.sentences, question.question)
                elif method == "mpnet":
                    passages = mpnet_passages(document.text, document.sentences, question.question)
                else:
                    passages = meaning_passages(document.text, document.sentences, question.question,
                                                deep=method == "meaning")
                seconds = time.perf_counter() - tick
                outcomes.append(_log(ask_ranked(model, document, question, method, passages, seconds)))
            elif method == "full" and question in full_questions:
                result = _log(ask_core(model, document, question, "full", RetrievalSettings(mode="full", build_index=False)))
                run.full_tokens_per_second = run.tokens / max(result.seconds, 1e-6)
                outcomes.append(result)
    return run, outcomes, recalls


def _full_sample(questions: list[Question], limit: int) -> list[Question]:
    """The first `limit` questions alternating lexical and paraphrased ones."""
    lexical_ones = [q for q in questions if not q.paraphrased]
    paraphrased = [q for q in questions if q.paraphrased]
    mixed = [q for pair in zip(lexical_ones, paraphrased) for q in pair] + lexical_ones[len(paraphrased):] + paraphrased[len(lexical_ones):]
    return mixed[:limit]


def _log(item: Outcome) -> Outcome:
    flags = "".join("+" if v else "-" for v in (item.evidence, item.page, item.answer_right))
    print(f"  {item.doc:10} {item.question:32} {item.method:8} {flags} {item.seconds:7.1f}s  {item.answer[:60]}",
          file=sys.stderr, flush=True)
    return item


def _share(values: Sequence[bool]) -> str:
    return f"{sum(values)}/{len(values)}" if values else "-"


def summary_rows(outcomes: list[Outcome], runs: list[DocumentRun]) -> list[list[object]]:
    rows = []
    cold = [r.cold_first_seconds for r in runs]
    first_times = {"cold": cold, "auto": cold, "auto-heads": cold}
    extra = sorted({o.method for o in outcomes} - set(METHODS))  # auto-L<N>, auto-k<N>, auto-m<N>, auto-f<N>, auto-c<N>
    for method in METHODS + extra:
        mine = [o for o in outcomes if o.method == method]
        if not mine:
            continue
        lexical_ones = [o for o in mine if not o.paraphrased]
        paraphrased = [o for o in mine if o.paraphrased]
        per_doc: dict[str, list[Outcome]] = {}
        for o in mine:
            per_doc.setdefault(o.doc, []).append(o)
        follow = [o.seconds for items in per_doc.values() for o in items[1:]]
        firsts = first_times.get(method) or [items[0].seconds for items in per_doc.values()]
        if method == "indexed":  # the index is built first (embeddings, which it does not use, left out)
            firsts = [r.index_seconds - r.minilm_build_seconds + items[0].seconds for r, items in zip(runs, per_doc.values())]
        if method in ("minilm", "meaning"):  # the sentences are embedded first
            firsts = [r.minilm_build_seconds + items[0].seconds for r, items in zip(runs, per_doc.values())]
        rows.append([
            method, len(mine), _share([o.evidence for o in mine]), _share([o.evidence for o in lexical_ones]),
            _share([o.evidence for o in paraphrased]), _share([o.page for o in mine]),
            _share([o.answer_right for o in mine]), _share([o.quote_right for o in mine]), f"{sum(firsts) / len(firsts):.1f}" if firsts else "-",
            f"{sum(follow) / len(follow):.1f}" if follow else "-",
            f"{sum(o.passages for o in mine) / len(mine):.0f}",
        ])
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default="dev", help="dev (tunes the app), heldout (read once a change is chosen), or a question file")
    parser.add_argument("--docs", default="", help="comma-separated document ids (default: all fetched)")
    parser.add_argument("--methods", default="auto,cold,indexed,bm25,minilm", help="subset of " + ",".join(METHODS) + ", or auto-L<N>, auto-k<N>, auto-m<N>, auto-f<N>, auto-c<N>, auto-w<L>-<M>-<A>[-<F>], cold-w<L>-<M>-<A>, cold-c<N>, cold-d<N>")
    parser.add_argument("--full-limit", type=int, default=1, help="questions per document for the full pass")
    parser.add_argument("--full-docs", default="", help="documents the full pass runs on (default: all)")
    parser.add_argument("--questions", type=int, default=0, help="at most this many questions per document (0: all)")
    parser.add_argument("--model", default="bundled")
    parser.add_argument("--cache", default="", help="cache folder (default: a fresh temporary one)")
    parser.add_argument("--json", default="", help="also write every outcome to this JSON file")
    parser.add_argument("--without-attention", action="store_true",
                        help="build the embeddings but not the attention index (auto then fuses words and meaning)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    devset = load_devset(args.set)
    methods = [m for m in args.methods.split(",") if m]
    doc_ids = [d for d in args.docs.split(",") if d] or [d.id for d in devset.documents if pdf_path(d).is_file()]
    model = load_model(args.model, "cpu")
    embeddings.deep_embedder()  # as the app's indexing loads it when a document opens (loading is not measured)
    cache_root = Path(args.cache or tempfile.mkdtemp(prefix="realdocs-cache-"))
    runs: list[DocumentRun] = []
    outcomes: list[Outcome] = []
    recalls: list[Recall] = []
    for doc_id in doc_ids:
        questions = devset.questions_for(doc_id)[: args.questions or None]
        full_limit = args.full_limit if not args.full_docs or doc_id in args.full_docs.split(",") else 0
        run, found, recalled = run_document(model, devset.document(doc_id), questions, methods, full_limit,
                                            cache_root, attention=not args.without_attention)
        runs.append(run)
        outcomes += found
        recalls += recalled
        print(f"{doc_id}: {run.tokens:,} tokens, index {run.index_seconds:.0f} s "
              f"({run.index_tokens_per_second:.0f} tok/s)", file=sys.stderr, flush=True)
        if args.json:  # after every document, so a long run can be read while it goes on
            _write_json(Path(args.json), runs, outcomes, recalls)
    print_table(["method", "questions", "evidence", "lexical", "paraphrased", "page", "answer", "best passage holds answer", "first s",
                 "follow-up s", "passages"], summary_rows(outcomes, runs))
    print()
    print_table(["document", "pages", "tokens", "open s", "cold first answer s", "same, word vectors stored s",
                 "index s", "index tok/s", "full pass tok/s", "index/full", "index MB", "MiniLM build s"],
                [[r.doc, r.pages, r.tokens, f"{r.open_seconds:.1f}", f"{r.cold_first_seconds:.1f}",
                  f"{r.vocabulary_first_seconds:.1f}",
                  f"{r.index_seconds:.0f}", f"{r.index_tokens_per_second:.0f}",
                  f"{r.full_tokens_per_second:.0f}" if r.full_tokens_per_second else "-",
                  f"{r.index_tokens_per_second / r.full_tokens_per_second:.1f}x" if r.full_tokens_per_second else "-",
                  f"{r.index_bytes / 1e6:.0f}", f"{r.minilm_build_seconds:.0f}"] for r in runs])
    print()
    print_table(["candidates: evidence among the loop's reading (lexical / paraphrased)",
                 *[f"{b:,} tokens" for b in BUDGETS]], recall_rows(recalls))


def _write_json(path: Path, runs: list[DocumentRun], outcomes: list[Outcome], recalls: list[Recall]) -> None:
    path.write_text(json.dumps({"runs": [asdict(r) for r in runs], "outcomes": [asdict(o) for o in outcomes],
                                "recalls": [asdict(r) for r in recalls]}, indent=1))


if __name__ == "__main__":
    main()
