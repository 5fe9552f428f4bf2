"""The headless front end: `infiniretri ask FILE --question ...`, `calibrate`, `selfcheck`.

With no sub-command the GUI starts (`infiniretri` or `infiniretri FILE`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Sequence
from typing import Any

# dataclasses only: no torch at start
from app.retrieval.types import ANSWER_PRECISIONS, PRECISIONS, RetrievalSettings

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
COMMANDS = {"ask", "index", "calibrate", "selfcheck"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="infiniretri", description="Ask questions of very long documents.")
    sub = parser.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("ask", help="answer a question about FILE and print the answer (or JSON)")
    ask.add_argument("file")
    ask.add_argument("question_words", nargs="?", metavar="QUESTION", help="the question (or give it with -q)")
    ask.add_argument("--question", "-q")
    _model_arguments(ask)
    ask.add_argument("--json", action="store_true", help="print one JSON object (progress goes to stderr)")
    ask.add_argument("--password", help="password of an encrypted PDF")
    ask.add_argument("--ocr", action="store_true", help="read scanned pages with text recognition (Tesseract)")
    ask.add_argument("--window", type=int, default=1024, help="window size in tokens (default 1024)")
    ask.add_argument("--top-k", type=int, default=300, help="tokens kept per window (default 300)")
    ask.add_argument("--layer", type=int, help="score at this layer instead of the calibrated one")
    ask.add_argument("--max-new-tokens", type=int, default=200)
    ask.add_argument(
        "--mode", choices=["auto", "full", "indexed"], default="auto",
        help="auto (default): the InfiniRetri loop reads the sentences that words, meaning and the attention index "
        "rank best, and the sentences meaning ranks best are kept beside its choice; or the whole document when that "
        "is quick; full: the paper's exact pass over every window (writes the attention "
        "index); indexed: read the sentences the attention index ranks best (builds it first if missing)",
    )
    ask.add_argument("--candidate-tokens", type=int, default=RetrievalSettings.candidate_tokens, metavar="N",
                     help="auto, indexed: tokens of the best-ranked sentences the loop reads "
                          f"(default {RetrievalSettings.candidate_tokens})")
    ask.add_argument("--meaning-beside-loop", type=int, default=RetrievalSettings.meaning_beside_loop, metavar="N",
                     help="auto: keep the N sentences meaning ranks best beside the loop's choice (0: the loop's alone)")
    ask.add_argument("--fitting-beside-loop", type=int, default=RetrievalSettings.fitting_beside_loop, metavar="N",
                     help="auto: for a question about a default, a number or a file, also keep the N sentences meaning "
                          "ranks best among those that state one (0: none)")
    ask.add_argument("--no-deep-meaning", dest="deep_meaning", action="store_false",
                     help="rank by meaning with MiniLM even where the deep embeddings are built")
    _precision_argument(ask)
    ask.add_argument("--answer-precision", choices=ANSWER_PRECISIONS, default="native",
                     help="the model that writes the answer on a CPU: native (default) is the model itself; int8 "
                     "quantises a copy of its linear layers first (about 3 s for the bundled model, then each answer "
                     "token about 1.9x quicker, but the bundled model's own answers were right less often)")
    ask.add_argument("--quiet", action="store_true", help="no progress on stderr")
    index = sub.add_parser("index", help="build (or resume) FILE's attention index without a question")
    index.add_argument("file")
    _model_arguments(index)
    index.add_argument("--password", help="password of an encrypted PDF")
    index.add_argument("--window", type=int, default=1024, help="window size in tokens (default 1024)")
    index.add_argument("--json", action="store_true", help="print one JSON object (progress goes to stderr)")
    index.add_argument("--no-deep-meaning", dest="deep_meaning", action="store_false",
                       help="do not read the sentences with the deep embedder (all-mpnet-base-v2) after the index")
    _precision_argument(index)
    index.add_argument("--quiet", action="store_true", help="no progress on stderr")
    calibrate = sub.add_parser("calibrate", help="measure the best scoring layer of a model and store it")
    _model_arguments(calibrate)
    calibrate.add_argument("--output", help="also write the result into this calibration JSON file")
    selfcheck = sub.add_parser("selfcheck", help="check an installation end to end (model, sample, window)")
    selfcheck.add_argument("--no-gui", action="store_true", help="skip opening the main window offscreen")
    return parser


def _model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="bundled", help="bundled, a model folder, a .gguf file or a hub id")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--debug", action="store_true", help="print the traceback of an unexpected failure")


def _precision_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="the retrieval forwards on a CPU: auto (default) runs them in bfloat16 where the CPU "
                        "computes it natively, float32 elsewhere")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or (args[0] not in COMMANDS and not args[0].startswith("-")):
        from app.ui.main import run_gui

        return run_gui(args[0] if args else None)
    parser = build_parser()
    options = parser.parse_args(args)
    if options.command == "ask":
        options.question = _the_question(parser, options)
    handlers = {"ask": run_ask, "index": run_index, "calibrate": run_calibrate, "selfcheck": run_selfcheck}
    try:
        return handlers[options.command](options)
    except KeyboardInterrupt:
        return fail("interrupted", EXIT_INTERRUPTED)
    except Exception as exc:  # an unexpected failure: one line, the traceback only with --debug
        if getattr(options, "debug", False):
            traceback.print_exc(file=sys.stderr)
        return fail(_one_line(exc), EXIT_FAILURE)


def _the_question(parser: argparse.ArgumentParser, options: argparse.Namespace) -> str:
    """The question, given after FILE or with -q (not both); argparse's usage error when there is none."""
    if options.question is not None and options.question_words is not None:
        parser.error("give the question once: after FILE or with -q")
    question = options.question if options.question is not None else options.question_words
    if question is None:
        parser.error('a question is needed: infiniretri ask FILE "QUESTION"')
    return str(question)


def fail(message: str, code: int) -> int:
    print(f"infiniretri: {message}", file=sys.stderr)
    return code


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_ask(options: argparse.Namespace) -> int:
    """Bad input (a document that cannot be read, an empty question) exits 2; any other failure 1."""
    from app.documents import DocumentError, load_document
    from app.retrieval.models import ModelLoadError, load_model
    from app.retrieval.pipeline import answer
    from app.retrieval.types import BadInputError

    if not options.question.strip():
        return fail("the question is empty", EXIT_BAD_INPUT)
    progress = _StderrProgress(quiet=options.quiet)
    try:
        document = load_document(options.file, password=options.password, ocr=options.ocr)
    except DocumentError as exc:
        return fail(document_problem(exc, options.ocr), EXIT_BAD_INPUT)
    if not options.quiet:
        for warning in document.warnings:
            print(f"infiniretri: warning: {warning}", file=sys.stderr)
    try:
        model = load_model(options.model, options.device, progress)
    except ModelLoadError as exc:
        return fail(str(exc), EXIT_FAILURE)
    settings = RetrievalSettings(
        window_tokens=options.window, top_k=options.top_k, layer=options.layer,
        max_new_tokens=options.max_new_tokens, mode=options.mode, meaning_beside_loop=options.meaning_beside_loop,
        fitting_beside_loop=options.fitting_beside_loop,
        candidate_tokens=options.candidate_tokens, deep_meaning=options.deep_meaning, precision=options.precision,
        answer_precision=options.answer_precision,
    )
    try:
        result = answer(document.text, document.sentences, options.question, model, settings, progress)
    except BadInputError as exc:
        return fail(str(exc), EXIT_BAD_INPUT)
    progress.finish()
    if not options.quiet and not fully_indexed(result.stats):
        print(NOT_INDEXED_NOTE.format(file=options.file), file=sys.stderr)
    if options.json:
        lines = _one_based_line(document) if document.kind == "text" else None
        json.dump(result.to_json(_one_based_page(document), lines), sys.stdout, ensure_ascii=False)
    else:
        print(result.answer)
        _print_passages(result.passages, document)
    print()
    return EXIT_OK


NOT_INDEXED_NOTE = ("infiniretri: note: this document is not indexed yet, so passages were chosen without its "
                    "sentence embeddings and attention index; `infiniretri index {file}` builds them once (minutes)")


def fully_indexed(stats: dict[str, Any]) -> bool:
    """Whether an auto answer could read the document's complete attention index (the last index built)."""
    if stats.get("mode") != "auto":
        return True
    return int(stats.get("indexed_tokens", 0)) >= int(stats.get("document_tokens", 0))


def run_index(options: argparse.Namespace) -> int:
    from app.documents import DocumentError, load_document
    from app.retrieval.indexing import build_index
    from app.retrieval.lexical import lexical_index
    from app.retrieval.models import ModelLoadError, load_model
    from app.retrieval.types import RetrievalSettings

    progress = _StderrProgress(quiet=options.quiet)
    try:
        document = load_document(options.file, password=options.password)
    except DocumentError as exc:
        return fail(document_problem(exc, False), EXIT_BAD_INPUT)
    try:
        model = load_model(options.model, options.device, progress)
    except ModelLoadError as exc:
        return fail(str(exc), EXIT_FAILURE)
    lexical_index(document.text, document.sentences)
    settings = RetrievalSettings(window_tokens=options.window, deep_meaning=options.deep_meaning,
                                 precision=options.precision)
    report = build_index(document.text, document.sentences, model, settings, progress)
    progress.finish()
    if options.json:
        json.dump(report.to_json(), sys.stdout)
        print()
    else:
        print(f"{report.document_tokens:,} tokens indexed in {report.seconds:.1f} s "
              f"({report.tokens_per_second:,.0f} tokens/s); index {report.index_bytes / 1e6:,.1f} MB")
    return EXIT_OK


def document_problem(exc: Exception, ocr: bool) -> str:
    """The documents layer's message, with the command-line option that helps where there is one."""
    from app.documents import EncryptedDocumentError, NoTextLayerError, tesseract_available

    message = str(exc)
    if isinstance(exc, EncryptedDocumentError) and not exc.wrong_password:
        message += " Give it with --password."
    if isinstance(exc, NoTextLayerError) and not ocr and tesseract_available():
        message += " Run again with --ocr."
    return message


def _one_based_page(document: Any) -> Any:
    def page(offset: int) -> int | None:
        index = document.page_at(offset)
        return None if index is None else index + 1

    return page


def _one_based_line(document: Any) -> Any:
    def line(offset: int) -> int:
        return int(document.line_at(offset)) + 1

    return line


def _print_passages(passages: Sequence[Any], document: Any) -> None:
    from app.retrieval.generation import reading_order

    print("\nPassages used:")
    line = _one_based_line(document)
    for passage in reading_order(passages)[:10]:
        index = document.page_at(passage.start)
        where = f"p. {document.page_label(index)}" if index is not None else f"line {line(passage.start)}"
        print(f"  [{passage.score:.2f}] ({where}) {' '.join(passage.text.split())[:160]}")


class _StderrProgress:
    """Progress lines on stderr: windows done, tokens/s, time left."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.last = 0.0

    def __call__(self, progress: Any) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        counted = ("retrieving", "indexing", "embedding", "deep embedding")
        if progress.stage in counted and progress.done < progress.total and now - self.last < 0.5:
            return
        self.last = now
        if progress.stage in ("retrieving", "indexing") and progress.total:
            eta = f", {progress.eta_seconds:.0f} s left" if progress.eta_seconds is not None else ""
            what = "indexed window" if progress.stage == "indexing" else "window"
            rate = f", {progress.tokens_per_second:.0f} tokens/s" if progress.tokens_per_second else ""
            line = f"{what} {progress.done}/{progress.total}{rate}{eta}"
        elif progress.stage in ("embedding", "deep embedding") and progress.total > 1:
            eta = f", {progress.eta_seconds:.0f} s left" if progress.eta_seconds is not None else ""
            line = f"{progress.message}: {100 * progress.done // progress.total}%{eta}"
        else:
            line = progress.message or progress.stage
        sys.stderr.write("\r\033[K" + line if sys.stderr.isatty() else line + "\n")
        sys.stderr.flush()

    def finish(self) -> None:
        if not self.quiet and sys.stderr.isatty():
            sys.stderr.write("\n")


def run_calibrate(options: argparse.Namespace) -> int:
    from pathlib import Path

    from app.paths import cache_dir
    from app.retrieval.calibration import calibrate, save
    from app.retrieval.models import ModelLoadError, load_model

    try:
        model = load_model(options.model, options.device)
    except ModelLoadError as exc:
        return fail(str(exc), EXIT_FAILURE)
    result = calibrate(model, _StderrProgress())
    save(model, result, cache_dir() / "calibration.json")
    if options.output:
        save(model, result, Path(options.output))
    for layer, value in enumerate(result.mean_reciprocal_rank):
        print(f"layer {layer:3d}  mean 1/rank of the needle {value:.3f}{'  <- chosen' if layer == result.layer else ''}")
    print(f"{model.name}: scoring layer {result.layer} (retrieval heads {result.loop_heads}), attention index layer "
          f"{result.index_layer} (retrieval heads {result.index_heads}); {result.cases} cases, {result.seconds:.0f} s")
    return EXIT_OK


def run_selfcheck(options: argparse.Namespace) -> int:
    from app.selfcheck import run_selfcheck as check

    return check(gui=not options.no_gui)
