"""Model sources, failures with clear messages, calibration storage, and the command-line contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app import cli
from app.retrieval import calibration
from app.retrieval.models import ModelLoadError, choose_device, load_model


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory, tiny_model_session) -> Path:
    """The tiny model written as an ordinary Hugging Face folder."""
    folder = tmp_path_factory.mktemp("tiny-model")
    tiny_model_session.model.save_pretrained(folder)
    tiny_model_session.tokenizer.save_pretrained(folder)
    return folder


def test_a_local_folder_loads_and_is_calibrated_once(tiny_folder):
    model = load_model(str(tiny_folder), "cpu")
    assert model.device == "cpu" and model.num_layers == 3
    layer = calibration.calibration_for(model).layer
    assert 0 <= layer < 3
    assert calibration.stored_layer(model.fingerprint) == layer


def test_missing_folder_and_gguf_fail_with_a_message(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(str(tmp_path / "nothing.gguf"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="config.json"):
        load_model(str(tmp_path / "empty"))


def test_an_unknown_hub_id_fails_at_once_when_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="offline"):
        load_model("Qwen/Qwen2.5-0.5B-Instruct")


def test_devices_that_are_absent_are_refused():
    assert choose_device("auto") in {"cpu", "cuda", "mps"}
    with pytest.raises(ModelLoadError):
        choose_device("tpu")


def test_layer_choice_prefers_a_stable_region():
    scores = [0.0, 1.0, 0.1, 0.9, 1.0, 1.0, 1.0, 0.2]
    assert calibration.choose_layer(scores) == 5  # layer 1 is an isolated spike; 4 has a weak neighbour


def test_ask_prints_the_json_contract(tiny_folder, tmp_path, capsys, haystack):
    document = tmp_path / "genesis.txt"
    document.write_text(haystack[:9000], encoding="utf-8")
    code = cli.main(["ask", str(document), "-q", "Who named the animals?", "--model", str(tiny_folder),
                     "--json", "--window", "256", "--top-k", "30", "--max-new-tokens", "5"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"answer", "passages", "windows", "stats"}
    text = document.read_text(encoding="utf-8")
    for passage in out["passages"]:
        assert text[passage["start"] : passage["end"]] == passage["text"]
        assert passage["page"] is None and passage["kept_by"] == "loop", "the full pass keeps only the loop's"
        assert passage["line"] == text.count("\n", 0, passage["start"]) + 1
    assert out["stats"]["windows"] == len(out["windows"]) > 1
    assert {"document_tokens", "retrieval_seconds", "generation_seconds", "model", "device"} <= set(out["stats"])
    assert out["stats"]["mode"] == "full"
    code = cli.main(["ask", str(document), "Where was the garden?", "--model", str(tiny_folder), "--json",
                     "--window", "256", "--top-k", "30", "--max-new-tokens", "5", "--mode", "indexed",
                     "--candidate-tokens", "400"])
    assert code == 0
    stats = json.loads(capsys.readouterr().out)["stats"]
    assert stats["mode"] == "indexed"
    assert 0 < stats["focus_tokens"] <= 600 < stats["document_tokens"], "the loop read about the budget asked for"


def test_ask_reports_bad_input_with_exit_code_2(tmp_path, capsys):
    assert cli.main(["ask", str(tmp_path / "missing.pdf"), "-q", "Why?"]) == 2
    assert cli.main(["ask", str(tmp_path / "missing.pdf"), "-q", "  "]) == 2
    err = capsys.readouterr().err
    assert err.count("infiniretri:") == 2


@pytest.mark.parametrize(("argv", "message"), [
    (["ask", "a.pdf"], "a question is needed"),
    (["ask", "a.pdf", "Why?", "-q", "How?"], "give the question once"),
])
def test_ask_wants_its_question_once(argv, message, capsys):
    with pytest.raises(SystemExit) as raised:
        cli.main(argv)
    assert raised.value.code == 2 and message in capsys.readouterr().err


def test_ask_reports_a_model_that_fails_to_load_with_exit_code_1(tmp_path, capsys):
    document = tmp_path / "a.txt"
    document.write_text("One sentence here. Another one there.", encoding="utf-8")
    assert cli.main(["ask", str(document), "-q", "What?", "--model", str(tmp_path / "no-model")]) == 1
    assert "infiniretri:" in capsys.readouterr().err


@pytest.mark.parametrize("indexed, noted", [(0, True), (500, True), (1000, False)])
def test_ask_says_when_the_document_is_not_indexed_yet(tmp_path, monkeypatch, capsys, indexed, noted):
    """An auto answer over a document whose attention index is missing or partial suggests `index`."""
    from app.retrieval import models, pipeline
    from app.retrieval.types import AnswerResult

    document = tmp_path / "a.txt"
    document.write_text("One sentence here. Another one there.", encoding="utf-8")
    monkeypatch.setattr(models, "load_model", lambda *args, **kwargs: object())
    stats = {"mode": "auto", "indexed_tokens": indexed, "document_tokens": 1000}
    monkeypatch.setattr(pipeline, "answer", lambda *args, **kwargs: AnswerResult("Here.", [], [], stats))
    assert cli.main(["ask", str(document), "What?"]) == 0
    err = capsys.readouterr().err
    assert (f"`infiniretri index {document}`" in err) is noted
    assert cli.main(["ask", str(document), "What?", "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert cli.fully_indexed({"mode": "full"}) and cli.fully_indexed({"mode": "indexed", "indexed_tokens": 0})


@pytest.fixture
def failing_answer(tmp_path, monkeypatch):
    """A document and a stand-in model; `set(exc)` makes the core's answer() raise `exc`."""
    from app.retrieval import models, pipeline

    document = tmp_path / "a.txt"
    document.write_text("One sentence here. Another one there.", encoding="utf-8")
    monkeypatch.setattr(models, "load_model", lambda *args, **kwargs: object())
    holder = {}

    def answer(*args, **kwargs):
        raise holder["exc"]

    monkeypatch.setattr(pipeline, "answer", answer)

    def run(exc, *extra):
        holder["exc"] = exc
        return cli.main(["ask", str(document), "-q", "What?", "--quiet", *extra])

    return run


def test_ask_prints_the_final_answer_not_the_models_set_aside_reply(tmp_path, monkeypatch, capsys):
    """When the model's reply gives way to the quoted best passage, the quote is what the command prints."""
    from app.retrieval import models, pipeline
    from app.retrieval.types import AnswerResult, Passage

    document = tmp_path / "a.txt"
    document.write_text("Notes\n\nInteractive mode uses the GNU readline library. It keeps a history.", encoding="utf-8")
    monkeypatch.setattr(models, "load_model", lambda *args, **kwargs: object())
    quote = 'From the document: "Interactive mode uses the GNU readline library."'

    def answer(text, sentences, question, model, settings, on_progress=None, on_token=None, cancel=None):
        if on_token is not None:
            on_token("The library that provides it is:")  # the reply the answer check sets aside
        passage = Passage(7, 54, 1.0, text[7:54])
        return AnswerResult(quote, [passage], [], {"answer_source": "evidence"})

    monkeypatch.setattr(pipeline, "answer", answer)
    assert cli.main(["ask", str(document), "Which library?", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(quote + "\n") and "provides it is:" not in out
    assert "Passages used:" in out and "[1.00] (line 3) Interactive mode uses" in out


def test_ask_passes_how_many_sentences_are_kept_beside_the_loop(tmp_path, monkeypatch):
    from app.retrieval import models, pipeline
    from app.retrieval.types import AnswerResult, RetrievalSettings

    document = tmp_path / "a.txt"
    document.write_text("The delay defaults to 5. Frames loop.", encoding="utf-8")
    monkeypatch.setattr(models, "load_model", lambda *args, **kwargs: object())
    seen: list[RetrievalSettings] = []

    def answer(text, sentences, question, model, settings, on_progress=None, on_token=None, cancel=None):
        seen.append(settings)
        return AnswerResult("5", [], [], {})

    monkeypatch.setattr(pipeline, "answer", answer)
    assert cli.main(["ask", str(document), "What is the default delay?", "--quiet"]) == 0
    assert cli.main(["ask", str(document), "What is the default delay?", "--quiet", "--fitting-beside-loop", "0",
                     "--meaning-beside-loop", "3"]) == 0
    assert (seen[0].fitting_beside_loop, seen[0].meaning_beside_loop) == (RetrievalSettings.fitting_beside_loop,
                                                                          RetrievalSettings.meaning_beside_loop)
    assert (seen[1].fitting_beside_loop, seen[1].meaning_beside_loop) == (0, 3)


def test_bad_input_from_the_core_exits_2(failing_answer, capsys):
    from app.retrieval.types import BadInputError

    assert failing_answer(BadInputError("The document has no text to search.")) == 2
    assert capsys.readouterr().err == "infiniretri: The document has no text to search.\n"


@pytest.mark.parametrize("exc", [ValueError("shapes do not match"), RuntimeError("CUDA out of memory"),
                                 KeyError("layers")])
def test_any_other_failure_exits_1_with_one_line_and_no_traceback(failing_answer, capsys, exc):
    assert failing_answer(exc) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"infiniretri: {type(exc).__name__}") and err.count("\n") == 1
    assert "Traceback" not in err


def test_debug_shows_the_traceback(failing_answer, capsys):
    assert failing_answer(RuntimeError("boom"), "--debug") == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.rstrip().endswith("infiniretri: RuntimeError: boom")


def test_an_encrypted_pdf_says_which_option_takes_the_password(tmp_path, capsys):
    from tests.documents_fixtures import make_encrypted_pdf

    path = make_encrypted_pdf(tmp_path / "secret.pdf", ["Secret."], "pw")
    assert cli.main(["ask", str(path), "-q", "What?"]) == 2
    assert "--password" in capsys.readouterr().err
    assert cli.main(["ask", str(path), "-q", "What?", "--password", "nope"]) == 2
    assert "not correct" in capsys.readouterr().err


def test_ocr_is_offered_and_reaches_the_loader(tmp_path, capsys, monkeypatch):
    from app.documents import pdf_loader
    from tests.documents_fixtures import make_image_only_pdf

    path = make_image_only_pdf(tmp_path / "scan.pdf")
    monkeypatch.setattr(pdf_loader, "tesseract_available", lambda: True)
    monkeypatch.setattr("app.documents.tesseract_available", lambda: True)
    assert cli.main(["ask", str(path), "-q", "What?"]) == 2
    assert "Run again with --ocr." in capsys.readouterr().err
    recognised = []
    monkeypatch.setattr(pdf_loader, "_ocr_words", lambda page, index, warnings: recognised.append(index) or [])
    assert cli.main(["ask", str(path), "-q", "What?", "--ocr"]) == 2
    err = capsys.readouterr().err
    assert recognised == [0, 1], "every scanned page went through text recognition"
    assert "found no text either" in err and "--ocr" not in err


def test_index_builds_without_a_question_and_prints_the_json_contract(tiny_folder, tmp_path, capsys, haystack):
    document = tmp_path / "genesis.txt"
    document.write_text(haystack[:9000], encoding="utf-8")
    assert cli.main(["index", str(document), "--model", str(tiny_folder), "--json", "--window", "256", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["complete"] is True and report["windows_done"] == report["windows"] > 1
    assert report["document_tokens"] > 0 and report["index_bytes"] > 0
    assert report["seconds"] >= 0 and report["tokens_per_second"] > 0
    assert cli.main(["index", str(document), "--model", str(tiny_folder), "--json", "--window", "256", "--quiet"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["complete"] is True and again["tokens_indexed"] == 0, "a complete index is reused"
    code = cli.main(["ask", str(document), "-q", "Who named the animals?", "--model", str(tiny_folder), "--json",
                     "--window", "256", "--top-k", "30", "--max-new-tokens", "5", "--mode", "indexed", "--quiet"])
    assert code == 0 and json.loads(capsys.readouterr().out)["stats"]["mode"] == "indexed"


def test_index_reports_bad_input_with_exit_code_2(tmp_path, capsys):
    assert cli.main(["index", str(tmp_path / "missing.pdf")]) == 2
    assert "infiniretri:" in capsys.readouterr().err


def test_selfcheck_builds_and_ranks_the_samples_lexical_index_and_embeddings():
    """The installer smoke test runs `selfcheck`; its index step must catch a bundle without bm25s or MiniLM."""
    from app.selfcheck import SelfCheck

    check = SelfCheck(gui=False)
    check.run("document", check.document)
    check.run("indexes", check.indexes, needs=("document",))
    assert [(name, ok) for name, ok, *_ in check.results] == [("document", True), ("indexes", True)], check.results
