"""User settings kept with QSettings: the model and device choice, retrieval knobs, recent files."""

from __future__ import annotations

from dataclasses import dataclass, replace

from PySide6.QtCore import QSettings

from app.retrieval.types import RetrievalSettings
from app.workers import ModelChoice

MODEL_KINDS = ("bundled", "folder", "gguf", "hub")
DEVICES = ("auto", "cpu", "cuda", "mps")
MAX_RECENT = 10
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
        """Retrieval settings for one question; `full_pass` forces the exact method even when indexed."""
        mode = "indexed" if self.fast_follow_ups and not full_pass else "full"
        return replace(_DEFAULTS, window_tokens=self.window_tokens, top_k=self.top_k, mode=mode)

    # persistence ----------------------------------------------------------------------------------
    @classmethod
    def load(cls, store: QSettings | None = None) -> AppSettings:
        store = store or QSettings()
        kind = str(store.value("model/kind", "bundled"))
        device = str(store.value("model/device", "auto"))
        return cls(
            model_kind=kind if kind in MODEL_KINDS else "bundled",
            model_path=str(store.value("model/path", "")),
            device=device if device in DEVICES else "auto",
            window_tokens=_int(store.value("retrieval/window_tokens"), _DEFAULTS.window_tokens),
            top_k=_int(store.value("retrieval/top_k"), _DEFAULTS.top_k),
            fast_follow_ups=_bool(store.value("retrieval/fast_follow_ups"), True),
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


def _int(value: object, default: int) -> int:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def _bool(value: object, default: bool) -> bool:
    """QSettings gives back "true"/"false" strings from INI files and bools from native stores."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    return default


def recent_files(store: QSettings | None = None) -> list[str]:
    store = store or QSettings()
    value = store.value("recent/files", [])
    if isinstance(value, str):
        value = [value]
    return [str(v) for v in (value or [])][:MAX_RECENT]


def add_recent_file(path: str, store: QSettings | None = None) -> list[str]:
    store = store or QSettings()
    files = [path, *[f for f in recent_files(store) if f != path]][:MAX_RECENT]
    store.setValue("recent/files", files)
    return files


def clear_recent_files(store: QSettings | None = None) -> None:
    (store or QSettings()).setValue("recent/files", [])
