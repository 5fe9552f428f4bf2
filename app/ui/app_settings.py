"""User settings kept with QSettings: the model and device choice, retrieval knobs, indexing, recent files."""

from __future__ import annotations

from dataclasses import dataclass, replace

from PySide6.QtCore import QSettings

from app.retrieval.types import RetrievalSettings
from app.ui.workers.model_holder import ModelChoice

MODEL_KINDS = ("bundled", "folder", "gguf", "hub")
DEVICES = ("auto", "cpu", "cuda", "mps")
METHODS = ("auto", "full")  # "Fast (recommended)" or "Exact full pass (slow)"
PASSAGE_ORDERS = ("score", "page")
MAX_RECENT = 10
WINDOW_TOKENS_RANGE = (128, 32768)  # what the settings dialog offers
TOP_K_RANGE = (1, 4096)
CANDIDATE_TOKENS_RANGE = (512, 65536)  # what the fast method's loop may read per question
_DEFAULTS = RetrievalSettings()
_OLD_FOLLOW_UPS_KEY = "retrieval/fast_follow_ups"  # before the Method setting: True meant the fast method


@dataclass(frozen=True)
class AppSettings:
    model_kind: str = "bundled"
    model_path: str = ""  # folder, .gguf file or hub id, by kind
    device: str = "auto"
    window_tokens: int = _DEFAULTS.window_tokens
    top_k: int = _DEFAULTS.top_k
    candidate_tokens: int = _DEFAULTS.candidate_tokens  # the fast method: tokens of the best sentences the loop reads
    method: str = "auto"  # "auto": keyword search and sentence meaning choose what the loop reads; "full"
    index_on_open: bool = True  # build the document's attention index in the background when it opens
    deep_meaning: bool = True  # ... and then read its sentences with the deep embedder (ranks by meaning once done)
    passage_order: str = "score"  # the passage list: best first ("score") or in document order ("page")

    @property
    def model_spec(self) -> str:
        if self.model_kind == "bundled" or not self.model_path.strip():
            return "bundled"
        return self.model_path.strip()

    def model_choice(self) -> ModelChoice:
        return ModelChoice(self.model_spec, self.device)

    def retrieval(self, full_pass: bool = False) -> RetrievalSettings:
        """Retrieval settings for one question; `full_pass` forces the paper's exact method."""
        mode = "full" if full_pass or self.method == "full" else "auto"
        return replace(_DEFAULTS, window_tokens=self.window_tokens, top_k=self.top_k, mode=mode,
                       candidate_tokens=self.candidate_tokens, deep_meaning=self.deep_meaning)

    # persistence ----------------------------------------------------------------------------------
    @classmethod
    def load(cls, store: QSettings | None = None) -> AppSettings:
        """The stored settings; a value that is missing, of the wrong type or out of range is the default."""
        store = store or QSettings()
        kind = store.value("model/kind", "bundled", type=str)
        device = store.value("model/device", "auto", type=str)
        window_tokens = store.value("retrieval/window_tokens", _DEFAULTS.window_tokens, type=int)
        top_k = store.value("retrieval/top_k", _DEFAULTS.top_k, type=int)
        candidates = store.value("retrieval/candidate_tokens", _DEFAULTS.candidate_tokens, type=int)
        order = store.value("view/passage_order", "score", type=str)
        return cls(
            model_kind=kind if kind in MODEL_KINDS else "bundled",
            model_path=store.value("model/path", "", type=str),
            device=device if device in DEVICES else "auto",
            window_tokens=_within(window_tokens, WINDOW_TOKENS_RANGE, _DEFAULTS.window_tokens),
            top_k=_within(top_k, TOP_K_RANGE, _DEFAULTS.top_k),
            candidate_tokens=_within(candidates, CANDIDATE_TOKENS_RANGE, _DEFAULTS.candidate_tokens),
            method=_stored_method(store),
            index_on_open=store.value("indexing/on_open", True, type=bool),
            deep_meaning=store.value("indexing/deep_meaning", True, type=bool),
            passage_order=order if order in PASSAGE_ORDERS else "score",
        )

    def save(self, store: QSettings | None = None) -> None:
        store = store or QSettings()
        store.setValue("model/kind", self.model_kind)
        store.setValue("model/path", self.model_path)
        store.setValue("model/device", self.device)
        store.setValue("retrieval/window_tokens", self.window_tokens)
        store.setValue("retrieval/top_k", self.top_k)
        store.setValue("retrieval/candidate_tokens", self.candidate_tokens)
        store.setValue("retrieval/method", self.method)
        store.remove(_OLD_FOLLOW_UPS_KEY)
        store.setValue("indexing/on_open", self.index_on_open)
        store.setValue("indexing/deep_meaning", self.deep_meaning)
        store.setValue("view/passage_order", self.passage_order)
        store.sync()


def _within(value: int, bounds: tuple[int, int], default: int) -> int:
    """`value` when the settings dialog could have given it (inside `bounds`), else `default`."""
    return value if bounds[0] <= value <= bounds[1] else default


def _stored_method(store: QSettings) -> str:
    """The Method setting; from the old Follow-ups checkbox when only that was stored (off meant full)."""
    method = store.value("retrieval/method", "", type=str)
    if method in METHODS:
        return method
    if store.contains(_OLD_FOLLOW_UPS_KEY):
        return "auto" if store.value(_OLD_FOLLOW_UPS_KEY, True, type=bool) else "full"
    return "auto"


def recent_files(store: QSettings | None = None) -> list[str]:
    store = store or QSettings()
    return [str(v) for v in store.value("recent/files", [], type=list)][:MAX_RECENT]


def add_recent_file(path: str, store: QSettings | None = None) -> list[str]:
    store = store or QSettings()
    files = [path, *[f for f in recent_files(store) if f != path]][:MAX_RECENT]
    store.setValue("recent/files", files)
    return files


def clear_recent_files(store: QSettings | None = None) -> None:
    (store or QSettings()).setValue("recent/files", [])
