"""How an answer was found, in words: a few for the status bar and a sentence under the answer. No Qt."""

from __future__ import annotations

from typing import Any

FULL_PASS_HINT = "Question ▸ Ask with a Full Pass reads everything."


def method_summary(stats: dict[str, Any]) -> str:
    """A few words for the status bar on how the answer was found."""
    mode = stats.get("mode")
    if mode == "indexed":
        return "fast follow-up from the attention index"
    if mode == "auto":
        return f"fast: {int(stats.get('focus_tokens', 0)):,} best tokens read"
    return f"full pass over {stats.get('windows', 0):,} windows"


def method_note(stats: dict[str, Any], requested: str = "") -> str:
    """One sentence under the answer saying which method answered it (`requested`: the mode asked for)."""
    mode = stats.get("mode")
    if mode == "auto":
        note = _auto_note(stats)
    elif mode == "indexed":
        note = (f"Fast follow-up: the whole document was scored against its attention index, then its best "
                f"{_focus(stats)} were read again in full. {FULL_PASS_HINT}")
    else:
        note = _full_note(stats, requested)
    warning = stats.get("index_warning")
    if warning:
        note += f" The attention index could not be saved: {warning}"
    return note


_SOURCE_NAMES = {"lexical": "keyword search", "meaning": "sentence meaning", "attention": "the attention index"}


def _auto_note(stats: dict[str, Any]) -> str:
    indexed, total = int(stats.get("indexed_tokens", 0)), int(stats.get("document_tokens", 0))
    sources = [s for s in stats.get("sources") or (["lexical", "attention"] if indexed else ["lexical"])
               if s in _SOURCE_NAMES]
    names = [_SOURCE_NAMES[s] for s in sources] or [_SOURCE_NAMES["lexical"]]
    if "meaning" in sources and stats.get("meaning_reading") == "token vectors":
        names[sources.index("meaning")] = "word meaning (the document is not yet read for sentence meaning)"
    if "attention" in sources and total and 0 < indexed < total:
        names[sources.index("attention")] += f" ({int(100 * indexed / total)}% built)"
    rankers = f"{names[0]} ranks" if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]} rank"
    # answers of versions whose stats named no sources: auto read the attention index once it was built
    missing = " (the attention index is not built yet)" if "sources" not in stats and not indexed else ""
    beside = int(stats.get("kept_beside_loop", 0))
    extra = f" {beside} passages closest in meaning to the question were kept beside its choice." if beside else ""
    return f"Read the {_focus(stats)} that {rankers} best{missing}, with the InfiniRetri loop.{extra} {FULL_PASS_HINT}"


def _full_note(stats: dict[str, Any], requested: str) -> str:
    windows = int(stats.get("windows", 0))
    if requested == "auto":
        note = f"Full pass: the document is short, so all {windows:,} windows were read."
    else:
        note = f"Full pass: all {windows:,} windows were read."
    if stats.get("index_bytes") and not stats.get("index_warning"):
        note += " The attention index is saved, so later questions take seconds."
    return note


def _focus(stats: dict[str, Any]) -> str:
    focus, total = int(stats.get("focus_tokens", 0)), max(int(stats.get("document_tokens", 0)), 1)
    return f"{focus:,} tokens ({focus / total:.1%})"
