"""Needle-in-a-haystack benchmark of the InfiniRetri engine (a script, not a test).

    nice -n 10 .venv/bin/python tests/benchmarks/nih.py [--lengths 8k,16k,32k,64k,128k,1m]
        [--depths 0.1,0.5,0.9] [--reference] [--reference-max 16k]

Haystacks are the King James Bible from Debian's bible-kjv-text (verse numbers removed), cut to the
requested length in tokens of the model (k = 1,000), with one TEST_NEEDLES sentence inserted at each depth.
Per cell it prints: needle retained (the needle's span overlaps a returned passage), answer correct (the
needle's value in the answer), document tokens/s of retrieval, retrieval seconds, the cell's peak RSS
(sampled) and its RSS growth. `--reference` also runs the reference package `infini-retri` 0.0.3 with the
same SmolLM2 weights (eager attention, float32) on the same haystacks, cell by cell right after ours, and
prints the speed ratio ours/reference. The reference is slow (~40 tokens/s on a 2-core CPU), so by default
it only runs on lengths up to 16k tokens.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    Case,
    Haystack,
    build_haystack,
    correct,
    kjv_text,
    label,
    max_rss_bytes,
    mib,
    normalise,
    parse_floats,
    parse_lengths,
    print_table,
    retained,
    sample_memory,
    timer,
)

from app.documents import split_sentences  # noqa: E402
from app.retrieval.models import LoadedModel, load_model  # noqa: E402
from app.retrieval.needles import TEST_NEEDLES  # noqa: E402
from app.retrieval.pipeline import answer  # noqa: E402
from app.retrieval.types import Progress, RetrievalSettings  # noqa: E402

REFERENCE_PROMPT = (
    "Read the book and answer the question. Be very concise in your answer.\n\n{context}\n\n"
    "Question:\n\n{question}\n\nAnswer:"
)
EXACT = RetrievalSettings(mode="full", build_index=False)  # the paper's method, nothing else in the timing
HEADERS = [
    "length", "tokens", "depth", "method", "retained", "correct", "tok/s", "retrieval s", "tok/cpu-s",
    "answer s", "peak RSS MiB", "RSS growth MiB", "answer",
]


@dataclass
class Row:
    length: int
    tokens: int
    depth: float
    method: str
    retained: bool | None  # None: not known
    correct: bool
    retrieval_seconds: float
    answer_seconds: float
    peak_rss: int = 0
    rss_growth: int = 0
    answer: str = ""
    cpu_seconds: float = 0.0  # process CPU time of retrieval: robust to other jobs on a shared CPU

    @property
    def tokens_per_cpu_second(self) -> float:
        return self.tokens / max(self.cpu_seconds, 1e-9)

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / max(self.retrieval_seconds, 1e-9)

    def cells(self) -> list[object]:
        flag = "?" if self.retained is None else ("yes" if self.retained else "NO")
        return [
            label(self.length), self.tokens, self.depth, self.method, flag, "yes" if self.correct else "NO",
            f"{self.tokens_per_second:.0f}", f"{self.retrieval_seconds:.1f}", f"{self.tokens_per_cpu_second:.0f}",
            f"{self.answer_seconds:.1f}",
            mib(self.peak_rss), mib(self.rss_growth), _snippet(self.answer),
        ]


def _snippet(text: str, limit: int = 40) -> str:
    flat = " ".join(text.split()).replace("|", "/")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def case_of(index: int) -> Case:
    needle = TEST_NEEDLES[index % len(TEST_NEEDLES)]
    return Case(f"test{index % len(TEST_NEEDLES)}", (needle.sentence,), needle.question, needle.value)


def run_ours(
    model: LoadedModel, haystack: Haystack, case: Case, length: int, depth: float,
    settings: RetrievalSettings | None = None, name: str = "ours",
) -> Row:
    """InfiniRetri's exact full pass (no index written), with the row's memory sampled."""
    settings = settings or EXACT
    marks: list[float] = []

    def on_progress(progress: Progress) -> None:
        if progress.stage == "generating" and not marks:
            marks.append(time.process_time())

    with sample_memory() as memory:
        sentences = split_sentences(haystack.text)
        started = time.process_time()
        result = answer(haystack.text, sentences, case.question, model, settings, on_progress)
    span = haystack.spans[case.sentences[0]]
    return Row(
        length, int(result.stats["document_tokens"]), depth, name, retained(result.passages, span),
        correct(result.answer, case), float(result.stats["retrieval_seconds"]),
        float(result.stats.get("generation_seconds", 0.0)), memory.peak, memory.growth, result.answer,
        (marks[0] if marks else time.process_time()) - started,
    )


class Reference:
    """The reference `infini_retri.InfiniRetri`, with its last retained text captured through a hook."""

    def __init__(self, model: Any, tokenizer: Any) -> None:
        from infini_retri import InfiniRetri

        self.runner = InfiniRetri(model=model, tokenizer=tokenizer, window_length=1024, topk=300, answer_length=8)
        self.retained_text = ""
        self.max_new_tokens = 128
        original = self.runner.ir.retri.focus_key_sentence

        def hooked(*args: Any, **kwargs: Any) -> Any:
            out = original(*args, **kwargs)
            self.retained_text = str(out[3].get("focus_text", ""))
            return out

        self.runner.ir.retri.focus_key_sentence = hooked
        self.generation_cpu_start = 0.0
        generate = self.runner.ir.model.generate

        def timed_generate(*args: Any, **kwargs: Any) -> Any:
            self.generation_cpu_start = time.process_time()
            return generate(*args, **kwargs)

        self.runner.ir.model.generate = timed_generate

    def ask(self, text: str, question: str) -> tuple[str, float, float]:
        """Answer, total seconds, generation seconds (the reference's own measurement)."""
        self.retained_text = ""
        data = {"context": text, "question": question}
        with timer() as elapsed:
            reply, info = self.runner.ir.generate2(
                data_dict=data, prompt=REFERENCE_PROMPT, gen_name="InfiniRetri",
                max_new_tokens=self.max_new_tokens,
            )
        return str(reply), elapsed[0], float(info.get("generate_cost", 0.0))


def load_reference(model: LoadedModel) -> Reference:
    """The same SmolLM2 weights through plain transformers (the cache the app wrote), eager attention."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from app.paths import cache_dir

    folder = cache_dir() / "models" / model.fingerprint
    if not (folder / "config.json").is_file():
        raise SystemExit(f"No converted model in {folder}: run `infiniretri selfcheck` once first.")
    ref_model = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager", dtype=torch.float32)
    return Reference(ref_model.eval(), AutoTokenizer.from_pretrained(folder))


def reference_for_tiny(model: LoadedModel) -> Reference:
    """The reference over a copy of an already loaded model switched to eager attention (tests)."""
    clone = copy.deepcopy(model.model)
    clone.config._attn_implementation = "eager"
    return Reference(clone.eval(), model.tokenizer)


def run_reference(reference: Reference, haystack: Haystack, case: Case, length: int, depth: float) -> Row:
    with sample_memory() as memory:
        started = time.process_time()
        reply, seconds, generation = reference.ask(haystack.text, case.question)
    kept = normalise(case.sentences[0]) in normalise(reference.retained_text)
    return Row(
        length, haystack.tokens, depth, "reference", kept, correct(reply, case), max(seconds - generation, 1e-9),
        generation, memory.peak, memory.growth, reply, reference.generation_cpu_start - started,
    )


def warm_up(model: LoadedModel, source: str) -> None:
    """One short question first, so the weights are paged in before any row's memory is measured."""
    text = source[:3000]
    answer(text, split_sentences(text), "Who is named first?", model, EXACT)


def run_grid(
    model: LoadedModel,
    source: str,
    lengths: list[int],
    depths: list[float],
    reference: Reference | None = None,
    reference_max: int = 16_000,
    settings: RetrievalSettings | None = None,
    variants: dict[str, RetrievalSettings] | None = None,
) -> list[Row]:
    """Every length x depth cell; each variant of ours, then the reference, on the same haystack."""
    variants = variants or {"ours": settings or EXACT}
    rows: list[Row] = []
    for length in lengths:
        for index, depth in enumerate(depths):
            case = case_of(index)
            haystack = build_haystack(model.tokenizer, source, length, [(case.sentences[0], depth)])
            for name, variant in variants.items():
                rows.append(run_ours(model, haystack, case, length, depth, variant, name))
                _progress(rows[-1])
            if reference is not None and length <= reference_max:
                rows.append(run_reference(reference, haystack, case, length, depth))
                _progress(rows[-1])
    return rows


def _progress(row: Row) -> None:
    print("  " + " | ".join(str(c) for c in row.cells()), file=sys.stderr, flush=True)


def summary(rows: list[Row]) -> list[list[object]]:
    """Per method: retrieval and answer accuracy, overall tokens/s; plus ours/reference on shared cells."""
    out: list[list[object]] = []
    for method in dict.fromkeys(r.method for r in rows):
        mine = [r for r in rows if r.method == method]
        if not mine:
            continue
        known = [r for r in mine if r.retained is not None]
        kept = f"{sum(bool(r.retained) for r in known)}/{len(known)}"
        tps = sum(r.tokens for r in mine) / sum(r.retrieval_seconds for r in mine)
        out.append([method, len(mine), kept, f"{sum(r.correct for r in mine)}/{len(mine)}", f"{tps:.0f}"])
    return out


def speed_ratios(rows: list[Row]) -> list[list[object]]:
    """ours/reference tokens/s per shared cell, and over all shared cells (total tokens / total seconds)."""
    ref = {(r.length, r.depth): r for r in rows if r.method == "reference"}
    out: list[list[object]] = []
    for method in dict.fromkeys(r.method for r in rows if r.method != "reference"):
        pairs = [(r, ref[(r.length, r.depth)]) for r in rows if r.method == method and (r.length, r.depth) in ref]
        out += [
            [method, label(o.length), o.depth, f"{o.tokens_per_second:.0f}", f"{f.tokens_per_second:.0f}",
             f"{o.tokens_per_second / f.tokens_per_second:.1f}x",
             f"{o.tokens_per_cpu_second / max(f.tokens_per_cpu_second, 1e-9):.1f}x"]
            for o, f in pairs
        ]
        if pairs:
            wall = _overall(pairs, "retrieval_seconds")
            cpu = _overall(pairs, "cpu_seconds")
            out.append([method, "all", "-", f"{wall[0]:.0f}", f"{wall[1]:.0f}", f"{wall[0] / wall[1]:.1f}x",
                        f"{cpu[0] / max(cpu[1], 1e-9):.1f}x"])
    return out


def _overall(pairs: list[tuple[Row, Row]], seconds: str) -> tuple[float, float]:
    """Total tokens / total seconds of ours and of the reference over the shared cells."""
    ours = sum(o.tokens for o, _ in pairs) / max(sum(getattr(o, seconds) for o, _ in pairs), 1e-9)
    ref = sum(f.tokens for _, f in pairs) / max(sum(getattr(f, seconds) for _, f in pairs), 1e-9)
    return ours, ref


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", default="8k,16k,32k,64k,128k", help="document lengths in model tokens")
    parser.add_argument("--depths", default="0.1,0.5,0.9", help="needle depths, 0..1")
    parser.add_argument("--model", default="bundled", help="model spec as for `infiniretri ask --model`")
    parser.add_argument("--reference", action="store_true", help="also run the infini-retri 0.0.3 package")
    parser.add_argument("--reference-max", default="16k", help="longest length the reference runs on")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda", "mps"],
                        help="where our pass runs (the reference always runs on the CPU)")
    parser.add_argument("--layer", type=int, help="score at this layer instead of the calibrated one")
    parser.add_argument("--heads", default="all", choices=["all", "calibrated"],
                        help="sum every head (the paper) or the calibrated retrieval heads")
    parser.add_argument("--window", type=int, default=1024, help="window size in tokens")
    parser.add_argument("--dtype", default="", choices=["", "float32", "bfloat16"],
                        help="cast our model's weights (default: the app's choice, float32 on a CPU); the "
                        "reference stays in float32")
    parser.add_argument("--variants", default="", help="several configurations of ours in one run, e.g. "
                        "'layer=14;layer=14,window=2048' (each: comma-separated layer=, window=, heads=, precision=)")
    return parser.parse_args(argv)


_LABELS = {"layer": "L", "window_tokens": "W", "full_pass_heads": "heads ", "precision": ""}


def parse_variants(spec: str, base: RetrievalSettings) -> dict[str, RetrievalSettings]:
    """'layer=14;layer=14,window=2048' -> {'ours L14': ..., 'ours L14 W2048': ...}; empty: just ours."""
    variants: dict[str, RetrievalSettings] = {}
    for item in filter(None, (v.strip() for v in spec.split(";"))):
        changes: dict[str, object] = {}
        for pair in item.split(","):
            key, _, value = pair.partition("=")
            key = {"window": "window_tokens", "heads": "full_pass_heads"}.get(key.strip(), key.strip())
            changes[key] = int(value) if value.strip().isdigit() else value.strip()
        name = "ours " + " ".join(f"{_LABELS[k]}{v}" for k, v in changes.items())
        variants[name] = replace(base, **changes)  # type: ignore[arg-type]
    return variants or {"ours": base}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    model = load_model(args.model, args.device)
    reference = load_reference(model) if args.reference else None
    if args.dtype:
        import torch

        model.dtype = getattr(torch, args.dtype)
        model.model.to(model.dtype)
    settings = replace(EXACT, layer=args.layer, full_pass_heads=args.heads, window_tokens=args.window)
    variants = parse_variants(args.variants, settings)
    source = kjv_text()
    warm_up(model, source)
    with sample_memory() as whole:
        rows = run_grid(
            model, source, parse_lengths(args.lengths), parse_floats(args.depths), reference,
            parse_lengths(args.reference_max)[0], settings, variants,
        )
    print_table(HEADERS, [r.cells() for r in rows])
    print()
    print_table(["method", "cells", "retained", "correct", "tok/s overall"], summary(rows))
    ratios = speed_ratios(rows)
    if ratios:
        print()
        print_table(["method", "length", "depth", "ours tok/s", "reference tok/s", "ours/reference", "same, CPU time"],
                    ratios)
    print(f"\nours: {model.name} on {model.device} ({model.dtype}), layer {args.layer or 'calibrated'}, "
          f"{args.heads} heads, window {args.window}")
    print(
        f"\nRSS before the grid {mib(whole.start)} MiB, after {mib(whole.end)} MiB, "
        f"process peak (getrusage) {mib(max_rss_bytes())} MiB"
    )


if __name__ == "__main__":
    main()
