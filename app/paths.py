"""Where the app finds its bundled resources and keeps its caches, settings and data."""

from __future__ import annotations

import sys
from pathlib import Path

import platformdirs

APP_NAME = "InfiniRetri"
APP_AUTHOR = "InfiniRetri"


def resources_dir() -> Path:
    """The `resources/` folder: beside the package in a checkout, inside the bundle when frozen."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def sample_document() -> Path:
    """The bundled sample document the app opens on first start."""
    return resources_dir() / "samples" / "sample.pdf"


def cache_dir() -> Path:
    path = Path(platformdirs.user_cache_dir(APP_NAME, APP_AUTHOR))
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir(create: bool = True) -> Path:
    path = Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path
