"""What a question asks for, where that changes which retained passage answers it.

Manual readers often ask for a setting's default ("What is the default rotation angle?", "How long does each
frame linger, out of the box?"). Retrieval keeps the sentences on the subject, but the best scored is often the
one that introduces the setting ("where <rot x> and <rot z> control the rotation angles …"), not the one that
states its default ("… with a default of 60 degrees"). For such a question the best passage is the best scored
of the few best that states a default. On the real-document dev set this put the evidence sentence first for
33 of 67 questions against 25, and auto answered 44 right against 38, none lost (run 59; the held-out and
trial manuals, with few such questions, unchanged; tests/benchmarks/README.md, seventeenth session).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from app.retrieval.types import Passage

DEFAULT_WITHIN = 10  # the passage that states a default is looked for among this many of the best

# A question about a default, said plainly or in other words ("out of the box", "unless changed", "if you do not
# set it", "left to itself", a question opening "Without a size modifier, …").
_ASKS_FOR_DEFAULT = re.compile(
    r"\bdefaults?\b|\bout of the box\b|\bleft to (?:it|them)sel(?:f|ves)\b"
    r"|\bunless (?:\w+ ){0,2}(?:changed|configured|told|set|specified|overridden|given|otherwise)\b"
    r"|\bif (?:you )?(?:do not|don't|never) (?:set|specify|change|give|configure)\b"
    r"|\bwhen (?:not|nothing is|no \w+ is) (?:set|given|specified)\b"
    r"|^\s*without\b[^,?]*,",  # "Without a size modifier, how wide …"
    re.IGNORECASE,
)
_STATES_DEFAULT = re.compile(r"\bdefault", re.IGNORECASE)


def asks_for_default(question: str) -> bool:
    """The question asks what something is when nobody sets it."""
    return _ASKS_FOR_DEFAULT.search(question) is not None


def states_default(sentence: str) -> bool:
    """The sentence speaks of a default ("default", "defaults to", "by default")."""
    return _STATES_DEFAULT.search(sentence) is not None


def fitting_first(question: str, ranked: Sequence[Passage], within: int = DEFAULT_WITHIN) -> list[Passage]:
    """`ranked` (best first) with, for a question about a default, the best of its first `within` that states a
    default moved to the front; otherwise unchanged."""
    order = list(ranked)
    if not asks_for_default(question):
        return order
    found = next((i for i, item in enumerate(order[:within]) if states_default(item.text)), None)
    if found:  # None: none of them states a default; 0: the best already does
        order.insert(0, order.pop(found))
    return order
