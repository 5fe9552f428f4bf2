"""Content hashes, model fingerprints and the pruning of the document and model caches (no Qt)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from app import disk_cache, hashing
from app.documents import cache as doc_cache
from app.documents import load_document
from app.history import document_key

MIB = 1 << 20


def _age(path: Path, seconds: float) -> None:
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))


# ------------------------------------------------------------------------------------------- hashes


def test_one_hash_helper_keeps_the_keys_that_are_already_stored(tmp_path):
    import hashlib

    path = tmp_path / "doc.txt"
    path.write_bytes(b"some bytes " * 300_000)  # several chunks
    data = path.read_bytes()
    assert document_key(path) == hashlib.blake2b(data, digest_size=16).hexdigest()  # history keys unchanged
    salted = hashlib.blake2b(f"{doc_cache.FORMAT_VERSION}|salt|".encode() + data, digest_size=20).hexdigest()
    assert doc_cache.file_key(path, "salt") == salted  # document cache keys unchanged
    text = "Ünïcode \ud800 lone surrogate"
    expected = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()
    assert hashing.text_hash(text) == expected  # the attention index's text hash


def test_file_hash_can_be_cancelled(tmp_path):
    path = tmp_path / "big.bin"
    path.write_bytes(b"x" * (3 * MIB))
    with pytest.raises(hashing.HashCancelled):
        hashing.file_hash(path, cancel=lambda: True)


def test_remembered_hash_is_computed_once_per_version_of_the_file(tmp_path, monkeypatch):
    path, store = tmp_path / "weights.gguf", tmp_path / "store" / "hashes.json"
    path.write_bytes(b"a" * (2 * MIB))
    calls = []
    real = hashing.file_hash
    monkeypatch.setattr(hashing, "file_hash", lambda *a, **k: calls.append(a) or real(*a, **k))
    first = hashing.remembered_file_hash(path, store)
    assert hashing.remembered_file_hash(path, store) == first and len(calls) == 1
    path.write_bytes(b"a" * (2 * MIB - 1) + b"b")  # same size, new mtime
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    assert hashing.remembered_file_hash(path, store) != first and len(calls) == 2
    store.write_text("{ damaged")
    assert hashing.remembered_file_hash(path, store) and len(calls) == 3
    assert str(path.resolve()) in store.read_text()
    path.unlink()
    third = tmp_path / "third.gguf"
    third.write_bytes(b"c")
    hashing.remembered_file_hash(third, store)
    assert str(path.resolve()) not in store.read_text(), "entries of deleted files are dropped"


def test_model_fingerprint_sees_past_the_first_mebibyte(tmp_path):
    from app.retrieval.models import file_fingerprint, folder_fingerprint

    head = os.urandom(MIB)
    a, b = tmp_path / "a" / "model.gguf", tmp_path / "b" / "model.gguf"
    for path, tail in ((a, b"\x00" * MIB), (b, b"\x00" * (MIB - 1) + b"\x01")):
        path.parent.mkdir()
        path.write_bytes(head + tail)  # same name, same size, same first MiB
    assert file_fingerprint(a) != file_fingerprint(b)
    assert len(file_fingerprint(a)) == 16 and file_fingerprint(a).isalnum()
    moved = tmp_path / "elsewhere"
    (tmp_path / "a").rename(moved)
    (moved / "config.json").write_text("{}")
    (tmp_path / "b" / "config.json").write_text("{}")
    assert folder_fingerprint(moved) != folder_fingerprint(tmp_path / "b")
    copy = tmp_path / "copy"
    copy.mkdir()
    for item in moved.iterdir():
        (copy / item.name).write_bytes(item.read_bytes())
    assert folder_fingerprint(copy) == folder_fingerprint(moved), "the folder's place does not matter"


def test_hub_fingerprint_is_fit_for_a_file_name():
    from app.retrieval.models import hub_fingerprint

    value = hub_fingerprint("Qwen/Qwen2.5-0.5B-Instruct", "abc123")
    assert value.isalnum() and value != hub_fingerprint("Qwen/Qwen2.5-0.5B-Instruct", "def456")


def test_the_bundled_model_keeps_its_shipped_calibration():
    from app.retrieval import calibration
    from app.retrieval.models import ModelLoadError, bundled_gguf_path, file_fingerprint

    try:
        gguf = bundled_gguf_path()
    except ModelLoadError as exc:
        pytest.skip(str(exc))
    assert calibration.stored_layer(file_fingerprint(gguf)) == 18


# ------------------------------------------------------------------------------------------- pruning


def test_prune_deletes_least_recently_used_entries_and_stale_leftovers(tmp_path):
    root = tmp_path / "cache"
    root.mkdir()
    for i, name in enumerate(["old.npz", "mid.npz", "new.npz"]):
        (root / name).write_bytes(b"x" * 1000)
        _age(root / name, 300 - 100 * i)
    stale, fresh = root / "tmpabc.tmp", root / "tmpdef.tmp"
    stale.write_bytes(b"x" * 5000)
    fresh.write_bytes(b"x" * 5000)
    _age(stale, 2 * disk_cache.STALE_SECONDS)
    folder = root / "model.partial"
    folder.mkdir()
    (folder / "weights").write_bytes(b"x")
    _age(folder, 2 * disk_cache.STALE_SECONDS)

    removed = disk_cache.tidy(root, 2000, keep=[root / "old.npz"])
    assert set(removed) == {stale, folder, root / "mid.npz"}, "old.npz is kept on request, new.npz fits"
    assert fresh.exists(), "a young .tmp may belong to a save in progress"
    disk_cache.mark_used(root / "old.npz")
    assert disk_cache.prune(root, 1000) == [root / "new.npz"]


def test_document_cache_is_pruned_and_killed_saves_are_cleaned(tmp_path, monkeypatch):
    directory = tmp_path / "documents"
    monkeypatch.setattr(doc_cache, "default_dir", lambda: directory)
    monkeypatch.setattr(doc_cache, "CACHE_LIMIT_BYTES", 1)  # only the newest document fits
    directory.mkdir()
    killed = directory / "tmp123.tmp"
    killed.write_bytes(b"half a document")
    _age(killed, 2 * disk_cache.STALE_SECONDS)
    paths = []
    for i in range(3):
        path = tmp_path / f"doc{i}.txt"
        path.write_text(f"Document number {i}. It has two sentences.", encoding="utf-8")
        paths.append(path)
        load_document(path)
        time.sleep(0.02)
    assert len(list(directory.glob("*.npz"))) == 1
    assert not killed.exists()
    monkeypatch.setattr(doc_cache, "CACHE_LIMIT_BYTES", 10**9)
    load_document(paths[0])
    assert len(list(directory.glob("*.npz"))) == 2


def test_model_cache_is_pruned_least_recently_used_first(tmp_path, monkeypatch, tiny_model):
    from app.retrieval import models

    monkeypatch.setattr(models, "models_cache_dir", lambda: tmp_path / "models")
    real = models._from_pretrained

    def fake_pretrained(source, dtype, **kwargs):
        if "gguf_file" in kwargs:  # stands in for dequantising a GGUF
            return tiny_model.model, tiny_model.tokenizer
        return real(source, dtype, **kwargs)

    monkeypatch.setattr(models, "_from_pretrained", fake_pretrained)
    ggufs = []
    for name in ("one.gguf", "two.gguf"):
        gguf = tmp_path / name
        gguf.write_bytes(name.encode() * 1000)
        ggufs.append(gguf)
    killed = tmp_path / "models" / "abc.partial"
    killed.mkdir(parents=True)
    _age(killed, 2 * disk_cache.STALE_SECONDS)
    models._load_gguf_cached(ggufs[0], tiny_model.dtype, None, None)
    first = tmp_path / "models" / models.file_fingerprint(ggufs[0])
    assert (first / models.COMPLETE_MARKER).is_file() and not killed.exists()
    size = disk_cache.entry_bytes(first)
    monkeypatch.setattr(models, "MODEL_CACHE_LIMIT_BYTES", size + size // 2)  # room for one
    models._load_gguf_cached(ggufs[1], tiny_model.dtype, None, None)
    second = tmp_path / "models" / models.file_fingerprint(ggufs[1])
    assert second.is_dir() and not first.exists()


def test_model_load_stops_between_steps_when_cancelled(tmp_path):
    from app.retrieval.models import load_model
    from app.retrieval.types import Cancelled

    with pytest.raises(Cancelled):
        load_model(str(tmp_path), "cpu", cancel=lambda: True)
