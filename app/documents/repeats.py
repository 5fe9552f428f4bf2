"""Sentences that repeat one shortly before them: a manual shows a code example and then its typeset output
("[rounded corners] -- (2,0) -- (3,1)" twice within a few lines), or the same table row for several values.
A ranking that lists every copy spends its share of the loop's reading on one place."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

NEAR = 8  # sentences: a copy further away is another place that may say the same in another context


def nearby_repeats(sentences: Iterable[str], near: int = NEAR) -> np.ndarray:
    """Per sentence, whether the same text (case and whitespace aside) is one of the `near` sentences before it.
    Copies far apart ("The default is 0." under two different options) are not repeats: their neighbours differ."""
    last_seen: dict[str, int] = {}
    flags: list[bool] = []
    for index, sentence in enumerate(sentences):
        key = " ".join(sentence.lower().split())
        before = last_seen.get(key)
        flags.append(before is not None and index - before <= near)
        last_seen[key] = index
    return np.asarray(flags, dtype=bool)
