"""InfiniRetri Desktop: ask questions of very long documents with a local model's own attention."""

import os

# Progress is ours to report (status bar, --quiet CLI): no tqdm bars from transformers' GGUF conversion.
# tqdm reads this when it is first imported, so it is set before anything imports transformers.
os.environ.setdefault("TQDM_DISABLE", "1")

__version__ = "0.1.0"
