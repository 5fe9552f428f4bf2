"""Interpreter settings that keep the GUI thread responsive while worker threads run Python.

Measured with tests/benchmarks/gui_stall.py on a 1,200-page PDF (2 cores):

* GIL hand-over: every call from Python into Qt releases the GIL, and getting it back while a worker
  runs Python code waits up to the switch interval (5 ms by default). A paint makes dozens of such
  calls, so the GUI stalled 100-300 ms during extraction. A 0.5 ms interval brings that under 35 ms.
* Garbage collection: a full collection walks every tracked object, including the hundreds of
  thousands created by importing Qt, torch and transformers, and holds the GIL while it does (40+ ms).
  ``gc.freeze()`` after start-up and after a model load moves those long-lived objects out of its way.
"""

from __future__ import annotations

import gc
import sys

GUI_SWITCH_INTERVAL = 0.0005


def tune_interpreter_for_gui() -> None:
    sys.setswitchinterval(GUI_SWITCH_INTERVAL)


def freeze_long_lived(collect: bool = False) -> None:
    """Exclude everything alive now from future collections (after start-up and after model loads).

    ``collect=True`` first collects garbage, which walks the whole heap: only at start-up, before the
    window is shown, never while the GUI is in use.
    """
    if collect:
        gc.collect()
    gc.freeze()
