"""The benchmark scripts' core functions on a tiny haystack with the tiny random model, so they cannot rot.

Accuracy means nothing here (the model is random); only the plumbing and the table shapes are checked.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parent / "benchmarks" / "realdocs"))

import baselines  # noqa: E402
import common  # noqa: E402
import nih  # noqa: E402

from app.retrieval.types import Passage, RetrievalSettings  # noqa: E402

LENGTH = 600  # tokens of the tiny tokenizer
SHORT = RetrievalSettings(max_new_tokens=4)  # the random model never stops by itself


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def test_lengths_and_bible_cleaning():
    assert common.parse_lengths("8k, 16k,1m,500") == [8000, 16000, 1_000_000, 500]
    assert common.label(128_000) == "128k" and common.label(1_000_000) == "1m"
    raw = "\n1 Samuel 1\n\n  1 Now there was a man,\nand his name was Elkanah.\n  2 And he had two wives.\n"
    assert common.clean_bible_output(raw) == "1 Samuel 1\n\nNow there was a man, and his name was Elkanah. And he had two wives.\n"


def test_haystack_places_every_needle(tiny_model, haystack):
    placements = [("The blue kettle is in the attic.", 0.2), ("The red kite is in the barn.", 0.8)]
    stack = common.build_haystack(tiny_model.tokenizer, haystack, LENGTH, placements)
    assert abs(stack.tokens - LENGTH) < LENGTH * 0.2
    for sentence, _ in placements:
        start, end = stack.spans[sentence]
        assert stack.text[start:end] == sentence
    first, second = (stack.spans[s][0] for s, _ in placements)
    assert first < second


def test_nih_variants_are_named_by_what_they_change():
    variants = nih.parse_variants("layer=1;layer=1,window=512", nih.EXACT)
    assert list(variants) == ["ours L1", "ours L1 W512"]
    assert variants["ours L1 W512"].window_tokens == 512 and variants["ours L1 W512"].mode == "full"
    assert list(nih.parse_variants("", nih.EXACT)) == ["ours"]


def test_nih_grid_and_tables(tiny_model, haystack, capsys):
    rows = nih.run_grid(tiny_model, haystack, [LENGTH], [0.5], settings=SHORT)
    assert [r.method for r in rows] == ["ours"]
    assert rows[0].tokens > 0 and rows[0].retrieval_seconds > 0 and rows[0].retained is not None
    common.print_table(nih.HEADERS, [r.cells() for r in rows])
    assert nih.summary(rows)[0][0] == "ours"
    assert "| length" in capsys.readouterr().out


@pytest.mark.skipif(not _has("infini_retri"), reason="the reference package infini-retri is not installed")
def test_nih_reference_runs_on_the_same_haystack(tiny_model, haystack):
    pytest.importorskip("tiktoken")
    pytest.importorskip("seaborn")
    reference = nih.reference_for_tiny(tiny_model)
    reference.max_new_tokens = 4
    rows = nih.run_grid(tiny_model, haystack, [LENGTH], [0.5], reference, LENGTH, SHORT)
    assert [r.method for r in rows] == ["ours", "reference"]
    assert rows[0].tokens == rows[1].tokens
    assert nih.speed_ratios(rows)[-1][:2] == ["ours", "all"]


def test_baselines_document_and_table(tiny_model, haystack, monkeypatch):
    monkeypatch.setattr(baselines, "MAX_NEW_TOKENS", 4)
    methods = ["full", "auto", "indexed", "truncate", "bm25"]
    cases = baselines.CASES[:2]
    doc = baselines.make_document(tiny_model, haystack, LENGTH * 2, cases)
    for case in cases:
        for sentence in case.sentences:
            assert sentence in doc.haystack.text
    results = baselines.run_document(tiny_model, doc, cases, methods)
    assert all(len(outcomes) == len(cases) for outcomes in results.values())
    assert results["truncate"][0].found is True  # the tiny document fits the truncation budget
    assert results["indexed"][0].note.startswith("mode=indexed")
    rows = baselines.summary_rows(LENGTH * 2, doc.haystack.tokens, results, results["full"][0].seconds)
    assert [r[2] for r in rows] == methods


def _genesis_question(tmp_path, text):
    """A text document of `text` and a dev-set question about its firmament."""
    import devset

    from app.documents import load_document

    path = tmp_path / "genesis.txt"
    path.write_text(text, encoding="utf-8")
    evidence = "And God called the firmament Heaven."
    question = devset.Question("firmament", "genesis", "What did God call the firmament?", evidence, 1,
                               r"\bheaven\b", False, "name")
    return load_document(path), question


def test_realdocs_scores_methods_and_candidate_strategies(tiny_model, haystack, tmp_path, capsys):
    import devset
    import realdocs

    from app.retrieval import embeddings, meaning, token_vectors

    document, question = _genesis_question(tmp_path, haystack[:12000])
    evidence = question.evidence
    settings = RetrievalSettings(mode="auto", auto_full_pass_seconds=0, max_new_tokens=4, window_tokens=256,
                                 candidate_tokens=600, focus_window_tokens=256, top_k=40)
    outcome = realdocs.ask_core(tiny_model, document, question, "auto", settings)
    assert outcome.method == "auto" and outcome.mode == "auto" and outcome.passages > 0
    start = document.text.index(evidence)
    assert realdocs.covers_evidence([Passage(start, start + 20, 1.0, "")], (start, start + 36))
    assert not realdocs.covers_evidence([Passage(start, start + 10, 1.0, "")], (start, start + 36))
    recall = realdocs.candidate_recall(tiny_model, document, question)
    assert "lexical alone" in recall.hits and recall.hits["lexical alone"][2048] is True, "BM25 finds its words"
    assert recall.ranks["lexical"] >= 1
    rows = realdocs.summary_rows([outcome], [realdocs.DocumentRun("genesis", 1, cold_first_seconds=1.0)])
    assert rows[0][0] == "auto" and rows[0][1] == 1
    assert realdocs.recall_rows([recall])[0][0] == "lexical alone"
    paraphrased = devset.Question("p", "genesis", "?", evidence, 1, "x", True, "name")
    assert realdocs._full_sample([question, paraphrased, question], 2) == [question, paraphrased]
    shipped = dict(realdocs.WEIGHTS)
    with realdocs.candidate_shares("cold-w0-1-0.5"):
        wanted = {"lexical": 0.0, "meaning": 1.0, "attention": 0.5, "fitting": shipped["fitting"]}
        assert dict(realdocs.WEIGHTS) == wanted
    with realdocs.candidate_shares("auto-w1-3-0-0"):
        assert realdocs.WEIGHTS["fitting"] == 0.0, "a fourth number is the fitting ranking's share"
    assert dict(realdocs.WEIGHTS) == shipped, "the shipped shares come back after the block"
    assert realdocs.needs_index("auto-w1-6-1") and not realdocs.needs_index("cold-w0-1-0")
    assert not realdocs.needs_index("cold-c4096")
    home = os.environ["XDG_CACHE_HOME"]
    with realdocs.cold_cache(tmp_path, "genesis"), realdocs.without_token_vectors():
        assert os.environ["XDG_CACHE_HOME"] == str(tmp_path / "cold" / "genesis")
        assert meaning.meaning_scores(document.text, document.sentences, question.question) is None
    assert os.environ["XDG_CACHE_HOME"] == home and meaning.token_scores is token_vectors.token_scores
    if embeddings.embedder_folder() is None:
        return  # no word vectors without the sentence embedder
    with realdocs.cold_cache(tmp_path, "genesis", "cold-vocabulary"), realdocs.stored_vocabulary(tmp_path):
        assert (tmp_path / "cold-vocabulary" / "genesis" / "InfiniRetri" / "token-vectors").is_symlink()
        assert token_vectors.vocabulary_missing() == 0


def test_nih_heads_variant_switches_the_full_pass_heads():
    variants = nih.parse_variants("layer=1,heads=calibrated", nih.EXACT)
    assert list(variants) == ["ours L1 heads calibrated"]
    assert variants["ours L1 heads calibrated"].full_pass_heads == "calibrated"


def test_realdocs_slices_cut_around_the_evidence_and_compare_variants(tiny_model, haystack, tmp_path):
    import devset
    import realdocs_slices

    document, question = _genesis_question(tmp_path, haystack[:20000])
    span = devset.evidence_span(document.text, question.evidence)
    assert span is not None

    def count(i: int) -> int:
        s = document.sentences[i]
        return len(tiny_model.tokenizer(document.text[s.start : s.end])["input_ids"])

    piece = realdocs_slices.slice_around(document, span, 800, 0.5, count)
    assert piece.text[piece.evidence[0] : piece.evidence[1]] == document.text[span[0] : span[1]]
    assert 400 < piece.tokens <= 800
    assert all(piece.text[s.start : s.end].strip() for s in piece.sentences)
    variants = realdocs_slices.parse_variants("precision=float32;precision=bfloat16,window=256")
    assert variants["precision=bfloat16,window=256"].window_tokens == 256
    assert variants["precision=float32"].mode == "full" and variants["precision=float32"].precision == "float32"
    rows = realdocs_slices.run_question(tiny_model, piece, question, variants)
    table = realdocs_slices.summary(rows, list(variants))
    assert [row[0] for row in table] == list(variants) and table[0][-1] == "100%"


def test_answer_replay_reads_kept_passages_and_answers_each_way(tiny_model, haystack, tmp_path):
    import answer_replay

    document, question = _genesis_question(tmp_path, haystack[:6000])
    evidence = question.evidence
    start = document.text.index(evidence)
    kept = [(s.start, s.end, 1.0 / (rank + 1), "loop") for rank, s in enumerate(document.sentences[:6])]
    kept.append((start, start + len(evidence), 0.5, "meaning"))
    passages = answer_replay.passages_of(document, kept)
    assert passages[-1].text == evidence and passages[-1].kept_by == "meaning"
    for strategy in ("shipped", "pick2", "yes3"):
        reply, shown = answer_replay.replay(tiny_model, document, question, passages, strategy, max_new_tokens=4)
        assert isinstance(reply, str) and shown in passages, strategy
