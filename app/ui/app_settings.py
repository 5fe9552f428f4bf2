"""User settings kept with QSettings: the model and device choice, retrieval knobs, recent files."""

from __future__ import annotations

from dataclasses import dataclass, replace

from PySide6.QtCore import QSettings

from app.retrieval.types import RetrievalSettings
from app.ui.workers.model_holder import ModelChoice

MODEL_KINDS = ("bundled", "folder", "gguf", "hub")
DEVICES = ("auto", "cpu", "cuda", "mps")
MAX_RECENT = 10
WINDOW_TOKENS_RANGE = (128, 32768)  # what the settings dialog offers
TOP_K_RANGE = (1, 4096)
_DEFAULTS = RetrievalSettings()


@dataclass(frozen=True)
class AppSettings:
    model_kind: str = "bundled"
    model_path: str = ""  # folder, .gguf file or hub id, by kind
    device: str = "auto"
    window_tokens: int = _DEFAULTS.window_tokens
    top_k: int = _DEFAULTS.top_k
    fast_follow_ups: bool = True  # answer later questions on a document from its attention index

    @property
    def model_spec(self) -> str:
        if self.model_kind == "bundled" or not self.model_path.strip():
            return "bundled"
        return self.model_path.strip()

    def model_choice(self) -> ModelChoice:
        return ModelChoice(self.model_spec, self.device)

    def retrieval(self, full_pass: bool = False) -> RetrievalSettings:
        """Retrieval settings for one question; `full_pass` forces the paper's exact method."""
        mode = "auto" if self.fast_follow_ups and not full_pass else "full"
        return replace(_DEFAULTS, window_tokens=self.window_tokens, top_k=self.top_k, mode=mode)

    # persistence ----------------------------------------------------------------------------------
    @classmethod
    def load(cls, store: QSettings | None = None) -> AppSettings:
        """The stored settings; a value that is missing, of the wrong type or out of range is the default."""
        store = store or QSettings()
        kind = store.value("model/kind", "bundled", type=str)
        device = store.value("model/device", "auto", type=str)
        window_tokens = store.value("retrieval/window_tokens", _DEFAULTS.window_tokens, type=int)
        top_k = store.value("retrieval/top_k", _DEFAULTS.top_k, type=int)
        return cls(
            model_kind=kind if kind in MODEL_KINDS else "bundled",
            model_path=store.value("model/path", "", type=str),
            device=device if device in DEVICES else "auto",
            window_tokens=window_tokens if WINDOW_TOKENS_RANGE[0] <= window_tokens <= WINDOW_TOKENS_RANGE[1]
            else _DEFAULTS.window_tokens,
            top_k=top_k if TOP_K_RANGE[0] <= top_k <= TOP_K_RANGE[1] else _DEFAULTS.top_k,
            fast_follow_ups=store.value("retrieval/fast_follow_ups", True, type=bool),
        )

    def save(self, store: QSettings | None = None) -> None:
        store = store or QSettings()
        store.setValue("model/kind", self.model_kind)
        store.setValue("model/path", self.model_path)
        store.setValue("model/device", self.device)
        store.setValue("retrieval/window_tokens", self.window_tokens)
        store.setValue("retrieval/top_k", self.top_k)
        store.setValue("retrieval/fast_follow_ups", self.fast_follow_ups)
        store.sync()


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
