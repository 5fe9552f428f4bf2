"""InfiniRetri Desktop: ask questions of very long documents with a local model's own attention."""

__version__ = "0.1.0"
