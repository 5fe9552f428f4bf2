"""The lexical index: BM25 (bm25s, with Snowball stemming) over the document's sentences, built when a
document opens and cached on disk beside the other per-document data; with it, which sentences are navigation
(contents and index entries) and which repeat one a few sentences before (an example's code and its output):
every ranking puts those last."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app import disk_cache
from app.documents.navigation import is_navigation
from app.documents.repeats import nearby_repeats
from app.paths import cache_dir
from app.retrieval.units import SpanLike
from app.retrieval.workspace import text_key

LEXICAL_VERSION = 3  # 2: the question words and auxiliaries below are stopwords; 3: compound terms
# A compound term: words joined by dots, hyphens, slashes or colons ("1.4.0", "set.seed", "sys/select.h",
# "unattended-upgrades"). The tokenizer keeps words of two characters or more and splits at punctuation, so
# "R 1.4.0" was no word at all and "set.seed" only "set" and "seed"; each compound is indexed as one more term
# beside its parts.
_COMPOUND = re.compile(r"\w+(?:[.\-/:]\w+)+")
_JOINER = re.compile(r"[.\-/:]")
# Lucene's English stopwords (bm25s's default), plus the words a question is made of but a manual's answer
# rarely shares: "What does the -e option of the set builtin do?" ranked "This is what the login program
# does." first on "what" and "does".
_STOPWORD_TEXT = (
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these "
    "they this to was will with "
    "what which who whom whose when where why how "
    "do does did done doing can could should would shall may might must am were been being has have had having "
    "i me my mine we us our you your he him his she her its them"
)
STOPWORDS = sorted(set(_STOPWORD_TEXT.split()))
CACHE_LIMIT_BYTES = 512 * 1024**2  # lexical indexes beyond this, least recently used first, are deleted
_KEEP = 3
_cache: OrderedDict[str, LexicalIndex] = OrderedDict()
_lock = threading.Lock()


@dataclass(eq=False)  # compared and hashed by identity: the key of what is kept beside it (sources.sentence_facts)
class LexicalIndex:
    """BM25 over sentences; `spans` are the sentences' character spans, in document order."""

    retriever: object  # bm25s.BM25
    spans: np.ndarray  # (sentences, 2)
    navigation: np.ndarray  # per sentence: 1.0 for a contents or index entry, else 0.0
    repeats: np.ndarray  # per sentence: True when it repeats one of the few sentences before it

    def demoted(self) -> np.ndarray:
        """Per sentence, whether every ranking puts it after the rest: navigation and nearby repeats."""
        return (self.navigation > 0) | self.repeats

    def scores(self, question: str) -> np.ndarray:
        """BM25 score of every sentence for `question` (zeros when no question word is in the document)."""
        import bm25s

        words = bm25s.tokenize([with_compounds(question)], stopwords=STOPWORDS, stemmer=_stemmer(), return_ids=False,
                               show_progress=False)[0]
        known = [w for w in words if w in self.retriever.vocab_dict]  # type: ignore[attr-defined]
        if not known:
            return np.zeros(len(self.spans), dtype=np.float32)
        return np.asarray(self.retriever.get_scores(known), dtype=np.float32)  # type: ignore[attr-defined]


def lexical_index(text: str, sentences: Sequence[SpanLike]) -> LexicalIndex:
    """The document's lexical index: from memory, from the disk cache, or built now (about a second for
    a 300-page manual) and cached."""
    key = text_key(text, sentences)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    spans = _spans(text, sentences)
    folder = cache_dir() / "lexical" / f"{key}-v{LEXICAL_VERSION}"
    navigation = _navigation(text, spans)
    repeats = nearby_repeats(text[start:end] for start, end in spans.tolist())
    index = _load(folder, spans, navigation, repeats) or _build(text, spans, navigation, repeats, folder)
    with _lock:
        _cache[key] = index
        while len(_cache) > _KEEP:
            _cache.popitem(last=False)
    return index


def with_compounds(text: str) -> str:
    """`text` followed by each of its compound terms written as one word ("set.seed" -> "set_seed")."""
    compounds = [_JOINER.sub("_", term) for term in _COMPOUND.findall(text)]
    return " ".join([text, *compounds]) if compounds else text


def _spans(text: str, sentences: Sequence[SpanLike]) -> np.ndarray:
    if sentences:
        return np.asarray([(s.start, s.end) for s in sentences], dtype=np.int64)
    return np.asarray([(0, len(text))], dtype=np.int64)


def _navigation(text: str, spans: np.ndarray) -> np.ndarray:
    return np.asarray([is_navigation(text[start:end]) for start, end in spans.tolist()], dtype=np.float32)


def _build(text: str, spans: np.ndarray, navigation: np.ndarray, repeats: np.ndarray, folder: Path) -> LexicalIndex:
    import bm25s

    corpus = [with_compounds(text[start:end]) for start, end in spans.tolist()]
    tokens = bm25s.tokenize(corpus, stopwords=STOPWORDS, stemmer=_stemmer(), show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    _save(retriever, folder)
    return LexicalIndex(retriever, spans, navigation, repeats)


def _save(retriever: object, folder: Path) -> None:
    """Write through a temporary folder renamed into place; a failure only costs the cache."""
    temporary = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
    try:
        shutil.rmtree(temporary, ignore_errors=True)
        retriever.save(str(temporary), show_progress=False)  # type: ignore[attr-defined]
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(temporary, folder)
    except OSError:
        shutil.rmtree(temporary, ignore_errors=True)
    disk_cache.tidy(folder.parent, CACHE_LIMIT_BYTES, keep=[folder])


def _load(folder: Path, spans: np.ndarray, navigation: np.ndarray, repeats: np.ndarray) -> LexicalIndex | None:
    import bm25s

    if not folder.is_dir():
        return None
    try:
        retriever = bm25s.BM25.load(str(folder), show_progress=False, verbosity=0)
        if int(retriever.scores["num_docs"]) != len(spans):
            raise ValueError("the cached index has another number of sentences")
        disk_cache.mark_used(folder)
        return LexicalIndex(retriever, spans, navigation, repeats)
    except Exception:  # a damaged cache is rebuilt, never trusted
        with contextlib.suppress(OSError):
            shutil.rmtree(folder)
        return None


_stemmer_instance: Any | None = None


def _stemmer() -> Any | None:
    """English Snowball stemming when PyStemmer is installed (it is a dependency), else none."""
    global _stemmer_instance
    if _stemmer_instance is None:
        try:
            import Stemmer

            _stemmer_instance = Stemmer.Stemmer("english")
        except ImportError:
            return None
    return _stemmer_instance


def stem(word: str) -> str:
    """`word` (lower case) stemmed as the index stems it: "gives" and "give" both become "give"."""
    stemmer = _stemmer()
    return str(stemmer.stemWord(word)) if stemmer is not None else word
