"""The per-document attention index: built without a question or by a full pass, resumable, checksummed,
never used damaged, and scored exactly as the model attends."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch

from app.documents import split_sentences
from app.retrieval import segment_store, token_vectors
from app.retrieval.attention import capture_layer_inputs, decoder_layers, question_attention
from app.retrieval.index_scoring import question_queries, rotated_queries, score_document, window_keys
from app.retrieval.index_store import open_index, open_partial
from app.retrieval.indexing import build_index
from app.retrieval.pipeline import retrieve
from app.retrieval.prompt import build_prompt_parts
from app.retrieval.segment_store import IndexStorageError, partial_folder, prune_stores
from app.retrieval.types import Cancelled, CancelToken, RetrievalSettings
from app.retrieval.workspace import index_folder

FULL = RetrievalSettings(window_tokens=256, top_k=40, mode="full")
INDEXED = RetrievalSettings(window_tokens=256, top_k=40, mode="indexed", candidate_tokens=300)


@pytest.fixture
def text(haystack) -> str:
    return haystack[:15000]


def _folder(text, model):
    return index_folder(text, split_sentences(text), model, model.scoring_layer, FULL.window_tokens)


def _all_keys(index) -> np.ndarray:
    return np.concatenate([index.store.array(s) for s in index.store.segments])


def test_a_full_pass_writes_a_complete_checksummed_index(tiny_model, text):
    result = retrieve(text, split_sentences(text), "Who made the firmament?", tiny_model, FULL)
    index = open_index(_folder(text, tiny_model))
    assert index is not None and index.complete
    assert _all_keys(index).shape == (result.stats["document_tokens"], 2, 16)
    assert _all_keys(index).dtype == np.float16
    assert index.document.num_tokens == result.stats["document_tokens"]
    assert all(len(s.checksum) == 32 for s in index.store.segments)
    assert len(index.store.meta["files"]["document.npz"]) == 32
    assert result.stats["mode"] == "full"
    assert 0 < result.stats["index_bytes"] < 1024 * result.stats["document_tokens"]
    assert not partial_folder(_folder(text, tiny_model)).exists()


def test_an_index_built_without_a_question_matches_the_document(tiny_model, text):
    report = build_index(text, split_sentences(text), tiny_model, FULL)
    assert report.complete and report.windows_done == report.windows > 3
    assert report.to_json()["tokens_per_second"] > 0 and report.index_bytes > 0
    index = open_index(report.folder)
    assert index is not None and index.indexed_tokens == report.document_tokens
    again = build_index(text, split_sentences(text), tiny_model, FULL)
    assert again.complete and again.tokens_indexed_now == 0, "a complete index is found, not rebuilt"
    assert token_vectors.vocabulary_missing() == 0, "the word vectors of every token follow a complete index"


def test_follow_ups_use_the_index_and_keep_exact_offsets(tiny_model, text):
    sentences = split_sentences(text)
    retrieve(text, sentences, "Who made the firmament?", tiny_model, FULL)
    result = retrieve(text, sentences, "Where was the garden?", tiny_model, INDEXED)
    assert result.stats["mode"] == "indexed"
    assert 0 < result.stats["focus_tokens"] <= INDEXED.candidate_tokens + 200
    assert result.stats["attention_seconds"] >= 0 and result.stats["sources"] == ["attention"]
    assert result.passages
    assert all(text[p.start : p.end] == p.text for p in result.passages)
    assert result.stats["processed_tokens"] < result.stats["document_tokens"]
    assert result.windows[0].start == 0 and len(result.windows) > 3


def test_indexed_mode_without_an_index_builds_it_first(tiny_model, text):
    result = retrieve(text, split_sentences(text), "Where was the garden?", tiny_model, INDEXED)
    assert result.stats["mode"] == "indexed"
    assert open_index(_folder(text, tiny_model)) is not None


def test_a_cancelled_build_keeps_its_progress_and_resumes(tiny_model, text, monkeypatch):
    monkeypatch.setattr(segment_store, "SEGMENT_BYTES", 300 * 128)
    sentences = split_sentences(text)
    cancel = CancelToken()

    def stop_after_three_windows(progress):
        if progress.stage == "indexing" and progress.done >= 3:
            cancel.cancel()

    with pytest.raises(Cancelled):
        build_index(text, sentences, tiny_model, FULL, stop_after_three_windows, cancel)
    partial = open_partial(_folder(text, tiny_model))
    assert partial is not None and 3 <= partial.windows_done < partial.meta["steps"]
    assert open_index(_folder(text, tiny_model)) is None, "an unfinished build is never used as an index"
    resumed = build_index(text, sentences, tiny_model, FULL)
    assert resumed.complete
    assert resumed.tokens_indexed_now == resumed.document_tokens - partial.indexed_tokens
    resumed_keys = _all_keys(open_index(resumed.folder))
    shutil.rmtree(resumed.folder)
    fresh = build_index(text, sentences, tiny_model, FULL)
    assert np.array_equal(resumed_keys, _all_keys(open_index(fresh.folder)))


def test_a_paused_build_returns_early(tiny_model, text):
    report = build_index(text, split_sentences(text), tiny_model, FULL, should_pause=lambda: True)
    assert not report.complete and report.windows_done == 0


def test_asking_with_a_full_pass_keeps_the_existing_index(tiny_model, text):
    sentences = split_sentences(text)
    build_index(text, sentences, tiny_model, FULL)
    folder = _folder(text, tiny_model)
    before = _all_keys(open_index(folder))
    cancel = CancelToken()

    def cancel_at_once(progress):
        if progress.stage == "retrieving":
            cancel.cancel()

    with pytest.raises(Cancelled):
        retrieve(text, sentences, "Who?", tiny_model, FULL, cancel_at_once, cancel)
    index = open_index(folder)
    assert index is not None and np.array_equal(_all_keys(index), before)


@pytest.mark.parametrize("damage", ["zero_keys", "truncate_keys", "garbage_meta", "garbage_document"])
def test_a_damaged_index_is_never_used(tiny_model, text, damage):
    sentences = split_sentences(text)
    build_index(text, sentences, tiny_model, FULL)
    folder = _folder(text, tiny_model)
    keys = folder / open_index(folder).store.segments[0].file
    segment_store._VERIFIED.clear()  # a new process: nothing checked yet
    if damage == "zero_keys":  # what a power cut can leave: the right size, all zeros
        keys.write_bytes(bytes(keys.stat().st_size))
    elif damage == "truncate_keys":
        keys.write_bytes(keys.read_bytes()[:1000])
    elif damage == "garbage_document":
        (folder / "document.npz").write_bytes(b"PK not a zip")
    else:
        (folder / "meta.json").write_text("{not json")
    assert open_index(folder) is None
    result = retrieve(text, sentences, "Where was the garden?", tiny_model, INDEXED)
    assert result.stats["mode"] == "indexed" and open_index(folder) is not None, "rebuilt, then used"


def test_an_unlisted_segment_left_by_a_kill_is_dropped_on_resume(tiny_model, text, monkeypatch):
    monkeypatch.setattr(segment_store, "SEGMENT_BYTES", 300 * 128)
    sentences = split_sentences(text)
    build_index(text, sentences, tiny_model, FULL, should_pause=_pause_after(4))
    partial = partial_folder(_folder(text, tiny_model))
    (partial / "seg-00099.npy").write_bytes(b"half-written")
    (partial / "seg-00100.npy.tmp").write_bytes(b"half-written")
    report = build_index(text, sentences, tiny_model, FULL)
    assert report.complete
    assert not any(p.name.startswith("seg-0009") or p.name.endswith(".tmp") for p in report.folder.iterdir())


def _pause_after(windows: int):
    calls = iter(range(10**6))
    return lambda: next(calls) >= windows


def test_too_little_disk_space_is_a_clear_message_and_the_answer_still_comes(tiny_model, text, monkeypatch):
    usage = shutil.disk_usage("/")
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: usage._replace(free=10_000))
    with pytest.raises(IndexStorageError, match="Not enough free disk space"):
        build_index(text, split_sentences(text), tiny_model, FULL)
    result = retrieve(text, split_sentences(text), "Who made the firmament?", tiny_model, FULL)
    assert result.passages and "disk space" in result.stats["index_warning"]


def test_a_full_disk_while_writing_is_a_clear_message(tiny_model, text, monkeypatch):
    def no_space(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", no_space)
    with pytest.raises(IndexStorageError, match="the disk is full"):
        build_index(text, split_sentences(text), tiny_model, FULL)


def test_index_logits_equal_the_models_own_attention(tiny_model):
    """Stored keys rotated at 0..n-1 and queries rotated after them give the model's own attention: a wrong
    rotary position on either side fails this."""
    model, layer, n = tiny_model.model, 1, 64
    ids = torch.randint(3, len(tiny_model.tokenizer), (1, n + 12), generator=torch.Generator().manual_seed(3))
    captured = capture_layer_inputs(model, ids, [layer])[layer]
    hidden = captured[0]
    keys = torch.from_numpy(window_keys(model, layer, hidden[:, :n])).float()  # (n, key heads, dim)
    for shift in (n, n - 1):
        queries = rotated_queries(model, layer, hidden[:, n:], shift)  # (1, heads, rows, dim)
        groups = queries.shape[1] // keys.shape[1]
        scaling = decoder_layers(model)[layer].self_attn.scaling
        logits = torch.einsum("hrd,thd->hrt", queries[0], keys.repeat_interleave(groups, dim=1)) * scaling
        ours = torch.softmax(logits, dim=-1)
        same = True
        for head in range(queries.shape[1]):
            model_rows = question_attention(model, layer, captured, n, heads=[head])[:, :n]
            reference = model_rows / model_rows.sum(dim=1, keepdim=True)
            same &= torch.allclose(ours[head], reference, atol=1e-4)
        assert same == (shift == n), f"queries rotated at {shift} {'should' if shift == n else 'should not'} match"


def test_streaming_softmax_matches_one_chunk(tiny_model, text):
    build_index(text, split_sentences(text), tiny_model, FULL)
    index = open_index(_folder(text, tiny_model))
    prompt = build_prompt_parts(tiny_model.tokenizer, "Where was the garden?")
    queries, weights = question_queries(tiny_model.model, 1, prompt, 256)
    whole = score_document(tiny_model.model, 1, index, queries, weights, chunk=10**9)
    chunked = score_document(tiny_model.model, 1, index, queries, weights, chunk=333)
    assert np.allclose(whole, chunked, rtol=1e-4, atol=1e-7)
    heads = queries.shape[1]
    assert np.isclose(whole.sum(), heads * weights.sum().item(), rtol=1e-3), "each head's row sums to 1"
    one_head = score_document(tiny_model.model, 1, index, queries, weights, heads=[2], chunk=333)
    assert np.isclose(one_head.sum(), weights.sum().item(), rtol=1e-3)


def test_a_different_sentence_split_does_not_reuse_the_index(tiny_model, text):
    sentences = split_sentences(text)
    build_index(text, sentences, tiny_model, FULL)
    assert index_folder(text, sentences[1:], tiny_model, 1, 256) != _folder(text, tiny_model)


def test_old_indexes_are_pruned_least_recently_used_first(tmp_path):
    for number, name in enumerate(["old", "used", "new"]):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "seg-00000.npy").write_bytes(b"x" * 1000)
        (folder / "meta.json").write_text("{}")
        os.utime(folder / "meta.json", (1000 + number, 1000 + number))
    os.utime(tmp_path / "used" / "meta.json", (5000, 5000))  # opened recently
    (tmp_path / "x.old-1-2").mkdir()  # left by an interrupted replacement
    removed = prune_stores(tmp_path, limit_bytes=2100, keep=tmp_path / "new")
    assert sorted(f.name for f in removed) == ["old", "x.old-1-2"]
    assert sorted(f.name for f in tmp_path.iterdir()) == ["new", "used"]
    assert prune_stores(tmp_path, limit_bytes=0, keep=tmp_path / "new") == [tmp_path / "used"]


_KILLED_BUILD = """
import sys, time
sys.path[:0] = [{root!r}, {tests!r}]
from conftest import build_tiny_model
from app.documents import split_sentences
from app.retrieval import segment_store, token_vectors
from app.retrieval.indexing import build_index
from app.retrieval.types import RetrievalSettings
segment_store.SEGMENT_BYTES = 300 * 128
text = open({text_file!r}, encoding="utf-8").read()
model = build_tiny_model()
model.scoring_layer = 1

def report(progress):
    print("window", progress.done, flush=True)
    time.sleep(0.05)

build_index(text, split_sentences(text), model, RetrievalSettings(window_tokens=256, top_k=40), report)
print("complete", flush=True)
"""


@pytest.mark.slow
def test_kill_9_during_a_build_never_leaves_an_index_that_gets_used(tiny_model, text, tmp_path):
    """A real SIGKILL of a building process, three times at different points: each time the folder holds
    no usable index, the next build resumes, and the result equals an uninterrupted build."""
    import signal
    import subprocess
    import sys
    from pathlib import Path

    tests = Path(__file__).resolve().parent
    (tmp_path / "text.txt").write_text(text, encoding="utf-8")
    script = _KILLED_BUILD.format(root=str(tests.parent), tests=str(tests), text_file=str(tmp_path / "text.txt"))
    folder = _folder(text, tiny_model)
    windows_seen = 0
    for kill_after in (3, 7, 12):
        process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=os.environ)
        for line in process.stdout:
            if line.startswith("window") and int(line.split()[1]) >= kill_after:
                break
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        segment_store._VERIFIED.clear()
        assert open_index(folder) is None
        partial = open_partial(folder)
        assert partial is not None and partial.windows_done >= windows_seen
        windows_seen = partial.windows_done
    resumed = build_index(text, split_sentences(text), tiny_model, FULL)
    assert resumed.complete and resumed.tokens_indexed_now < resumed.document_tokens
    resumed_keys = _all_keys(open_index(folder))
    shutil.rmtree(folder)
    fresh = build_index(text, split_sentences(text), tiny_model, FULL)
    assert np.array_equal(resumed_keys, _all_keys(open_index(fresh.folder)))


def test_a_full_pass_writes_the_index_layer_keys_a_question_free_build_writes(tiny_model, text):
    """With the index at a shallower layer than the loop, the full pass keeps that layer's keys; its first
    window (no retained sentences before it yet) reads exactly what the question-free build reads."""
    import json

    from app.paths import cache_dir

    tiny_model.scoring_layer = -1
    (cache_dir() / "calibration.json").write_text(json.dumps(
        {"tiny": {"layer": 2, "index_layer": 1, "loop_heads": [0, 1], "index_heads": [2, 3]}}))
    sentences = split_sentences(text)
    result = retrieve(text, sentences, "Who made the firmament?", tiny_model, FULL)
    assert result.stats["layer"] == 2
    folder = index_folder(text, sentences, tiny_model, 1, FULL.window_tokens)
    by_full_pass = _all_keys(open_index(folder))
    first_window = open_index(folder).document.unit_tokens
    shutil.rmtree(folder)
    built = build_index(text, sentences, tiny_model, FULL)
    assert built.folder == folder
    question_free = _all_keys(open_index(folder))
    window_end = int(first_window[np.searchsorted(first_window[:, 1], 200), 1])
    # Equal up to float rounding: the two passes read sequences of different lengths, and the CPU's kernels
    # may sum in another order for another shape (seen: 4e-6 apart on one machine, bit-equal on another).
    full, free = by_full_pass.astype(np.float32), question_free.astype(np.float32)
    np.testing.assert_allclose(full[:window_end], free[:window_end], rtol=0, atol=1e-3)
    assert not np.allclose(full[window_end:], free[window_end:], rtol=0, atol=1e-3), \
        "later windows saw retained sentences first"


def test_the_loop_sums_every_head_unless_told_the_calibrated_ones_per_pass(tiny_model, text, monkeypatch):
    """By default both passes sum every head, as the paper does; the full pass and the loop over chosen
    sentences switch to the calibrated retrieval heads independently."""
    import json

    from app.paths import cache_dir
    from app.retrieval import loop

    tiny_model.scoring_layer = -1
    (cache_dir() / "calibration.json").write_text(json.dumps(
        {"tiny": {"layer": 2, "index_layer": 1, "loop_heads": [0, 1], "index_heads": [2, 3]}}))
    summed: list[object] = []

    def recording(model, layer, captured, question_start, heads=None):
        summed.append(None if heads is None else list(heads))
        return question_attention(model, layer, captured, question_start, heads)

    monkeypatch.setattr(loop, "question_attention", recording)
    sentences = split_sentences(text)
    retrieve(text, sentences, "Who made the firmament?", tiny_model, FULL)
    assert summed and set(map(str, summed)) == {"None"}
    summed.clear()
    retrieve(text, sentences, "Who made the firmament?", tiny_model, INDEXED)
    assert summed and set(map(str, summed)) == {"None"}
    summed.clear()
    retrieve(text, sentences, "Who made the firmament?", tiny_model, replace(INDEXED, loop_heads="calibrated"))
    assert summed == [[0, 1]] * len(summed) and summed
    summed.clear()
    both = RetrievalSettings(window_tokens=256, top_k=40, mode="full", full_pass_heads="calibrated")
    retrieve(text, sentences, "Who made the firmament?", tiny_model, both)
    assert summed == [[0, 1]] * len(summed) and summed


def test_windows_read_together_give_the_keys_each_window_gives_alone(tiny_model, text):
    """The GPU build reads several windows in one padded batch: padding on the right must change nothing."""
    from app.retrieval import indexing
    from app.retrieval.prompt import context_prefix_ids
    from app.retrieval.units import pack_windows
    from app.retrieval.workspace import tokenized

    doc = tokenized(tiny_model, text, split_sentences(text))
    windows = pack_windows(doc, 256)[:3]
    prefix = np.asarray(context_prefix_ids(tiny_model.tokenizer), dtype=np.int64)
    together = indexing._batch_keys(tiny_model, 1, doc, windows, prefix)
    alone = [indexing._batch_keys(tiny_model, 1, doc, [window], prefix)[0] for window in windows]
    assert len({k.shape[0] for k in alone}) > 1, "windows of different lengths, so the batch is padded"
    for batched, single in zip(together, alone):
        assert batched.shape == single.shape
        np.testing.assert_allclose(batched.astype(np.float32), single.astype(np.float32), atol=2e-3)
    sizes = [indexing._window_tokens(doc, w) for w in windows]
    assert indexing._next_batch(doc, windows, 0, sizes[0] + sizes[1]) == [0, 1]
    assert indexing._next_batch(doc, windows, 0, 0) == [0], "always at least one window"


def test_half_precision_on_gpus_and_float32_on_the_cpu(monkeypatch):
    from app.retrieval.models import choose_dtype

    assert choose_dtype("cpu") is torch.float32
    assert choose_dtype("mps") is torch.float16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert choose_dtype("cuda") is torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert choose_dtype("cuda") is torch.float16
