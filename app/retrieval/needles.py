"""Needle-in-a-haystack cases on real text, used by calibration, tests and benchmarks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from app.paths import resources_dir


@dataclass(frozen=True)
class Needle:
    sentence: str
    question: str
    value: str  # what a correct answer must contain


CALIBRATION_NEEDLES = [
    Needle("The secret password for the old vault is BLUE HERON.", "What is the secret password for the old vault?", "BLUE HERON"),
    Needle("Doctor Miriam Okafor keeps her spare keys inside the green teapot.", "Where does Doctor Okafor keep her spare keys?", "teapot"),
    Needle("The lantern festival of Port Aldine always begins on the ninth of March.", "When does the lantern festival of Port Aldine begin?", "ninth of March"),
    Needle("The oldest clock in the town museum was built by a watchmaker named Ferdinand Holm.", "Who built the oldest clock in the town museum?", "Ferdinand Holm"),
    Needle("The best fertiliser for the orchids in the glasshouse is crushed eggshell.", "What is the best fertiliser for the orchids in the glasshouse?", "eggshell"),
]

TEST_NEEDLES = [
    Needle("The magic number for the submarine launch code is 4817.", "What is the magic number for the submarine launch code?", "4817"),
    Needle("The hidden treasure of Captain Ilse Marrow is buried under the lighthouse.", "Where is the hidden treasure of Captain Ilse Marrow buried?", "lighthouse"),
    Needle("The chef at the Copper Kettle restaurant is a woman called Rosalind Pike.", "Who is the chef at the Copper Kettle restaurant?", "Rosalind Pike"),
]


def haystack_text(path: Path | None = None) -> str:
    """Real public-domain text (KJV Genesis) shipped in resources/haystack."""
    return (path or resources_dir() / "haystack" / "genesis.txt").read_text(encoding="utf-8")


def insert_needle(haystack: str, needle: str, depth: float) -> tuple[str, int]:
    """Insert `needle` at a sentence boundary near `depth` (0..1); return the text and the needle's offset."""
    target = int(len(haystack) * min(max(depth, 0.0), 1.0))
    boundary = _sentence_boundary_after(haystack, target)
    joined = haystack[:boundary] + " " + needle + " " + haystack[boundary:].lstrip(" ")
    return joined, boundary + 1


def _sentence_boundary_after(text: str, offset: int) -> int:
    match = re.compile(r"[.!?]\s").search(text, offset)
    return match.start() + 1 if match else len(text)


def repeat_to_length(text: str, chars: int) -> str:
    """Repeat real text (paragraph-wise) until it is at least `chars` long, for long haystacks."""
    if not text:
        return text
    copies = -(-chars // len(text))
    return ("\n\n".join([text.strip()] * copies))[: max(chars, 0)].rsplit(". ", 1)[0] + "."
