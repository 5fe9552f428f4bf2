"""Quick meaning: a sentence's vector as the weighted mean of its tokens' vectors, ready in seconds.

The sentence embedder (all-MiniLM-L6-v2, see embeddings.py) reads about 200 sentences a second on two cores:
a minute for a 300-page manual, several for a thousand pages. Until it has read the document, and beside it
afterwards, we rank by static token vectors distilled from the same model, as model2vec does: each token of
its vocabulary read alone ([CLS] token [SEP]) gives the token's output vector, computed the first time a
document or question uses the token (and for the whole vocabulary once per machine: as the app starts, or
as a document's indexes begin) and kept in the cache folder. A sentence's vector is the mean of its tokens'
vectors weighted by inverse document frequency (frequent tokens say little), so building it for a whole
document is a pass over its token ids, not a forward pass. Its ranking differs from the embedder's: on the
real-document dev and held-out sets each held paraphrased evidence among its best 36 that the other did not
(see the benchmark notes).

Memory stays small: per document we keep the token ids, each sentence's weight and vector length, and the
neighbourhood lengths, not the vectors; a question's cosine to each sentence follows from its dot product
with every vocabulary vector.
"""

from __future__ import annotations

import os
import tempfile
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from app.paths import cache_dir
from app.retrieval import embeddings
from app.retrieval.embeddings import DIMENSIONS, NeighbourhoodLengths, SentenceEmbedder
from app.retrieval.types import Progress, ProgressCallback
from app.retrieval.units import SpanLike
from app.retrieval.workspace import text_key

TABLE_VERSION = 1
TABLE_BATCH = 1024  # vocabulary tokens read per forward pass
SAVE_AFTER = 64  # new token vectors worth writing the table again (a document's, not a question's)
CHUNK_TOKENS = 16384  # document tokens turned into sentence vectors at a time (memory stays flat)
TOKENIZE_SENTENCES = 2048  # sentences tokenised per call: a shorter hold of the GIL (the GUI thread stays live)
DOCUMENTS_KEPT = 2  # documents whose token ids stay in memory (the open one and the one before)
PREPARING = "Preparing the word vectors for quick first answers (once per machine)"


@dataclass
class DocumentTokens:
    """What scoring a question against one document needs: its token ids and per-sentence constants."""

    ids: np.ndarray  # every sentence's token ids, one after another (int32)
    lengths: np.ndarray  # each sentence's number of tokens
    idf: np.ndarray  # per vocabulary token, its inverse document frequency in this document (the weight)
    scale: np.ndarray  # per sentence, 1 / (sum of its token weights x its mean vector's length); 0 when empty
    neighbourhoods: NeighbourhoodLengths

    @property
    def starts(self) -> np.ndarray:
        return (np.cumsum(self.lengths) - self.lengths).astype(np.int64)


_tables: dict[str, TokenTable] = {}
_documents: OrderedDict[str, DocumentTokens] = OrderedDict()
_lock = threading.Lock()


def token_scores(text: str, sentences: Sequence[SpanLike], question: str, neighbourhood: bool = True
                 ) -> np.ndarray | None:
    """Per sentence, the question's cosine to the sentence's static vector or, with `neighbourhood`, the
    better of that and its cosine to the sum of the sentence's and its two neighbours' unit vectors (as
    embeddings.embedding_scores). None when the embedder is not installed or there are no sentences."""
    opened = _opened(text, sentences)
    if opened is None:
        return None
    embedder, table, document = opened
    query = _question_vector(question, embedder, table, document)
    if query is None:
        return np.full(len(sentences), -np.inf, dtype=np.float32)
    contributions = document.idf[document.ids] * (table.vectors @ query)[document.ids]
    sums = segment_sums(contributions.astype(np.float64), document.lengths)
    own = np.where(document.lengths > 0, sums * document.scale, -np.inf).astype(np.float32)
    if not neighbourhood:
        return own
    return np.maximum(own, document.neighbourhoods.cosines(own))


def prepare(text: str, sentences: Sequence[SpanLike]) -> bool:
    """Compute what a question will need (the document's token vectors and ids), as a document opens;
    False when the embedder is not installed or there are no sentences."""
    return _opened(text, sentences) is not None


def _opened(text: str, sentences: Sequence[SpanLike]) -> tuple[SentenceEmbedder, TokenTable, DocumentTokens] | None:
    """The embedder, its token table and the document's tokens; None without an embedder or sentences."""
    embedder = embeddings.sentence_embedder()
    if not isinstance(embedder, SentenceEmbedder) or not sentences:
        return None
    table = token_table(embedder)
    return embedder, table, document_tokens(text, sentences, embedder, table)


class TokenTable:
    """The vocabulary's token vectors, computed for the tokens documents and questions use, when first
    needed (a few seconds for a manual's 5,000-10,000 distinct tokens), or for all of them at once
    (`complete`), and kept in the cache folder."""

    def __init__(self, embedder: SentenceEmbedder) -> None:
        self.embedder = embedder
        size = int(embedder.model.get_input_embeddings().weight.shape[0])
        self.path = cache_dir() / "token-vectors" / f"{embedder.fingerprint}-v{TABLE_VERSION}.npz"
        self.vectors = np.zeros((size, DIMENSIONS), dtype=np.float32)
        self.known = np.zeros(size, dtype=bool)
        self._lock = threading.Lock()
        self._load()

    def ensure(self, ids: np.ndarray) -> None:
        """Compute (and store) the vectors of the `ids` not known yet."""
        with self._lock:
            wanted = np.unique(ids)
            missing = wanted[~self.known[wanted]] if len(wanted) else wanted
            if not len(missing):
                return
            for start in range(0, len(missing), TABLE_BATCH):
                self._compute(missing[start : start + TABLE_BATCH])
            if len(missing) >= SAVE_AFTER:  # a question's few new tokens are cheaper to recompute than to save
                self._save()

    def missing(self) -> int:
        """How many vocabulary tokens have no vector yet."""
        return int((~self.known).sum())

    def complete(self, check: Callable[[], None] | None = None, on_progress: ProgressCallback | None = None) -> int:
        """Compute every vector not known yet, a batch at a time, and return how many were computed; `check`
        runs between batches and may raise to stop (what is computed so far is kept and stored)."""
        computed, total = 0, self.missing()
        try:
            while True:
                if check is not None:
                    check()
                with self._lock:
                    batch = np.flatnonzero(~self.known)[:TABLE_BATCH]
                    if not len(batch):
                        return computed
                    if on_progress is not None:
                        on_progress(Progress("vectors", computed, total, message=PREPARING))
                    self._compute(batch)
                    computed += len(batch)
        finally:
            if computed:
                with self._lock:
                    self._save()

    def _compute(self, ids: np.ndarray) -> None:
        """The vectors of `ids`, rounded as stored (float16); the caller holds the lock."""
        self.vectors[ids] = self._read_alone(ids).astype(np.float16)
        self.known[ids] = True

    def _read_alone(self, ids: np.ndarray) -> np.ndarray:
        """Each token read alone between the model's [CLS] and [SEP]: its output vector at its own position."""
        import torch

        tokens = torch.from_numpy(ids.astype(np.int64))
        first, last = self.embedder.tokenizer.cls_token_id, self.embedder.tokenizer.sep_token_id
        inputs = torch.stack([torch.full_like(tokens, first), tokens, torch.full_like(tokens, last)], dim=1)
        with torch.inference_mode():
            hidden = self.embedder.model(input_ids=inputs, attention_mask=torch.ones_like(inputs)).last_hidden_state
        return hidden[:, 1].float().numpy()

    def _load(self) -> None:
        try:
            with np.load(self.path) as stored:
                vectors, known = stored["vectors"], stored["known"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return  # missing or damaged: recomputed as needed
        if vectors.shape == self.vectors.shape and known.shape == self.known.shape:
            self.vectors, self.known = vectors.astype(np.float32), known.astype(bool)

    def _save(self) -> None:
        """Written whole or not at all (a temporary file renamed); a full disk only costs recomputing."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            with os.fdopen(handle, "wb") as stream:
                np.savez(stream, vectors=self.vectors.astype(np.float16), known=self.known)
            os.replace(temporary, self.path)
        except OSError:
            pass


def vocabulary_missing() -> int:
    """How many of the embedder's vocabulary tokens have no stored vector yet (0 without an embedder)."""
    embedder = embeddings.sentence_embedder()
    return token_table(embedder).missing() if isinstance(embedder, SentenceEmbedder) else 0


def complete_vocabulary(check: Callable[[], None] | None = None, on_progress: ProgressCallback | None = None) -> int:
    """Every vocabulary token's vector, computed once per machine (16 s on two cores, in the background as
    the app starts, or as a document's indexes begin), so that a document opened later needs none computed
    before its first question: the tokens a manual uses took 2-4.5 s of its first answer (see the benchmark
    notes). Returns how many vectors were computed now (0 without an embedder or when all are stored)."""
    embedder = embeddings.sentence_embedder()
    if isinstance(embedder, SentenceEmbedder):
        return token_table(embedder).complete(check, on_progress)
    return 0


def token_table(embedder: SentenceEmbedder) -> TokenTable:
    """The embedder's token table, one per process."""
    with _lock:
        table = _tables.get(embedder.fingerprint)
        if table is None:
            table = _tables[embedder.fingerprint] = TokenTable(embedder)
        return table


def document_tokens(text: str, sentences: Sequence[SpanLike], embedder: SentenceEmbedder, table: TokenTable
                    ) -> DocumentTokens:
    """The document's token ids and sentence constants, kept in memory for the last few documents."""
    key = f"{text_key(text, sentences)}-{embedder.fingerprint}"
    with _lock:
        found = _documents.get(key)
        if found is not None:
            _documents.move_to_end(key)
            return found
    built = _tokenize_document(text, sentences, embedder, table)
    with _lock:
        _documents[key] = built
        while len(_documents) > DOCUMENTS_KEPT:
            _documents.popitem(last=False)
    return built


def _tokenize_document(text: str, sentences: Sequence[SpanLike], embedder: SentenceEmbedder,
                       table: TokenTable) -> DocumentTokens:
    encoded: list[list[int]] = []
    for first in range(0, len(sentences), TOKENIZE_SENTENCES):
        batch = [text[s.start : s.end] for s in sentences[first : first + TOKENIZE_SENTENCES]]
        encoded += embedder.tokenizer(batch, add_special_tokens=False, return_attention_mask=False,
                                      return_token_type_ids=False)["input_ids"]
    lengths = np.fromiter((len(ids) for ids in encoded), dtype=np.int64, count=len(encoded))
    ids = np.fromiter((i for sentence in encoded for i in sentence), dtype=np.int32, count=int(lengths.sum()))
    table.ensure(ids)
    frequency = document_frequency(ids, lengths, len(table.known))
    idf = (np.log((len(encoded) + 1) / (frequency + 1)) + 1).astype(np.float32)
    document = DocumentTokens(ids, lengths, idf, np.zeros(len(encoded)), NeighbourhoodLengths(len(encoded)))
    _sentence_constants(document, table.vectors)
    return document


def _sentence_constants(document: DocumentTokens, table: np.ndarray) -> None:
    """Each sentence's scale and its neighbourhood lengths, from its weighted mean vector, a chunk of whole
    sentences at a time (memory stays flat)."""
    starts, lengths = document.starts, document.lengths
    weight_sums = segment_sums(document.idf[document.ids].astype(np.float64), lengths)
    first = 0
    while first < len(lengths):
        last = int(np.searchsorted(starts, starts[first] + CHUNK_TOKENS, side="right"))
        last = max(last, first + 1)
        ids = document.ids[starts[first] : starts[first] + lengths[first:last].sum()]
        totals = segment_sums(table[ids] * document.idf[ids][:, None], lengths[first:last])
        with np.errstate(divide="ignore", invalid="ignore"):
            vectors = totals / weight_sums[first:last, None]
        vectors = np.nan_to_num(vectors.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        norms = np.linalg.norm(vectors, axis=1)
        usable = (norms > 0) & (weight_sums[first:last] > 0)
        document.scale[first:last] = np.where(usable, 1.0 / np.maximum(weight_sums[first:last] * norms, 1e-30), 0.0)
        document.neighbourhoods.add(first, vectors / np.maximum(norms, 1e-12)[:, None])
        first = last


def document_frequency(ids: np.ndarray, lengths: np.ndarray, vocabulary: int) -> np.ndarray:
    """Per vocabulary token, the number of sentences that hold it."""
    owners = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    pairs = np.unique(owners * vocabulary + ids)
    return np.bincount(pairs % vocabulary, minlength=vocabulary).astype(np.float64)


def segment_sums(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Sums of consecutive runs of `values` (along the first axis), one run per length; 0 for empty runs."""
    if len(lengths) == 0:
        return np.zeros((0, *values.shape[1:]), dtype=values.dtype)
    padded = np.concatenate([values, np.zeros((1, *values.shape[1:]), dtype=values.dtype)])
    starts = (np.cumsum(lengths) - lengths).astype(np.int64)
    sums = np.add.reduceat(padded, starts, axis=0)
    sums[lengths == 0] = 0
    return sums


def _question_vector(question: str, embedder: SentenceEmbedder, table: TokenTable, document: DocumentTokens
                     ) -> np.ndarray | None:
    """The question's weighted mean token vector, normalised; None when it has no tokens."""
    ids = np.asarray(embedder.tokenizer(question, add_special_tokens=False)["input_ids"], dtype=np.int64)
    if not len(ids):
        return None
    table.ensure(ids)
    weights = document.idf[ids]
    vector = weights @ table.vectors[ids] / weights.sum()
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else None
