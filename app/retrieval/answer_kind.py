"""What a question asks for, where that changes which retained passage answers it.

Manual readers often ask for a setting's default ("What is the default rotation angle?", "How long does each
frame linger, out of the box?"), a quantity ("How many points make an inch?") or a file ("Which file gets the
keyboard settings?"). Retrieval keeps the sentences on the subject, but the best scored is often the one that
introduces the setting ("where <rot x> and <rot z> control the rotation angles …"), not the one that states
its default ("… with a default of 60 degrees"), its number ("… the bitmap fonts only go up to 25pt") or its
file ("… updates configuration parameters in /etc/default/keyboard"). For such a question the best passage
is the best scored of the few best that can answer it. On the real-document dev set the default rule alone
put the evidence sentence first for 33 of 67 questions against 25, and auto answered 44 right against 38
(run 59); with the quantity and file rules: tests/benchmarks/README.md, eighteenth session.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence

from app.retrieval.types import Passage

DEFAULT_WITHIN = 10  # the passage that fits the question is looked for among this many of the best

# A question about a default, said plainly or in other words: "out of the box", "left to itself", "turned on
# automatically", "unless changed", "unless the name option is used", "if I don't pick one", "if you never set
# it", "when nobody has picked one", "when the user has configured nothing", "absent any configuration", "with
# no extra setup", "if I choose no theme", "if no speed is given", "if left unset", "before any change", "what
# does it fall back to", "What is the initial …", or a question opening "Without a size modifier, …".
_CHOOSING = (r"(?:set|sets|choose|chooses|chose|chosen|pick|picks|picked|select|selects|selected|specif(?:y|ies|ied)"
             r"|change|changes|changed|give|gives|given|configure|configures|configured|provide|provides|provided"
             r"|pass|passes|passed|supply|supplies|supplied|override|overrides|overridden|customi[sz]e[sd]?"
             r"|use|uses|used|tell|tells|told|ask|asks|asked|request|requests|requested)")
_ASKS_FOR_DEFAULT = re.compile(
    r"\bdefaults?\b|\bout of the box\b|\bleft to (?:it|them)sel(?:f|ves)\b|\bautomatically\b|\bfactory settings?\b"
    r"|\bunless (?:\w+ ){0,2}(?:changed|configured|told|set|specified|overridden|given|otherwise)\b"
    r"|\bunless\b[^?,;]*\b(?:is|are) (?:used|given|set|specified|supplied|passed|present)\b"
    rf"|\b(?:if|when|unless|as long as)\b[^?,;]{{0,40}}?\b(?:do not|don't|does not|doesn't|did not|didn't|never"
    rf"|have not|haven't|has not|hasn't) (?:\w+ )?{_CHOOSING}\b"
    rf"|\b(?:nobody|no one|no-one)\b (?:\w+ ){{0,2}}?{_CHOOSING}\b|\b{_CHOOSING} nothing\b"
    rf"|\b(?:if|when)\b[^?,;]{{0,30}}?\b{_CHOOSING} no\b"
    rf"|\b(?:if|when) (?:not|nothing|none|no \w+(?: \w+)?) (?:is|are|was|were|has been|have been) {_CHOOSING}\b"
    r"|\bwhen not (?:set|given|specified)\b"  # "when nothing is set", "when no size is given": just above
    r"|\babsent (?:any|an?|explicit|other|further)\b|\bwith no (?:\w+ )?(?:setup|set-up|configuration|settings?"
    r"|options?|arguments?|changes?|customi[sz]ation|preferences?|choices?)\b"
    r"|\bleft (?:unset|unspecified|alone|blank|empty|untouched|out)\b|\bbefore any (?:change|setting|configuration)"
    r"|\bfalls? back\b|\bwhat (?:is|are|was|were) the initial\b|\binitially\b"
    r"|^\s*without\b[^,?]*,",  # "Without a size modifier, how wide …"
    re.IGNORECASE,
)
_STATES_DEFAULT = re.compile(r"\bdefault", re.IGNORECASE)

# A question whose answer is a number: "How many …", "…, how long …", "Under how many …", "What share …",
# "What is the biggest point size …"; not "What sets how many …" (a setting's name).
_ASKS_FOR_QUANTITY = re.compile(
    r"(?:^|[,;:]\s*)how (?:many|much|long|big|large|small|wide|tall|high|far|deep|often|old|fast|quickly|soon)\b"
    r"|\b(?:under|for|after|with|in|of|to|by|at|within|than|up to|about|over|into) how (?:many|much)\b"
    r"|\b(?:what|which) (?:share|percentage|proportion|fraction|ratio)\b"
    r"|\b(?:what|which) (?:is|are) the (?:biggest|largest|greatest|highest|maximum|smallest|lowest|fewest"
    r"|minimum)\b",  # not "the most": "the most common use"
    re.IGNORECASE,
)
# A question whose answer is a file or folder: "Which file …", "which startup files …", "Which system header …".
_ASKS_FOR_FILE = re.compile(
    r"\b(?:which|what) (?:[\w-]+ ){0,2}(?:files?|director(?:y|ies)|folders?|paths?|headers?|filenames?)\b",
    re.IGNORECASE,
)
# A file's name or path: "/etc/default/keyboard", "~/.zshrc", "sys/select.h", "java.opts".
_FILE_NAME = re.compile(
    r"(?<![\w/])(?:~|\.{1,2})?(?:/[\w.+-]+)+"  # from the root, home or here: "/etc/profile", "~/.zshrc"
    r"|(?<![\w/.~$])(?:[\w+-]+/)*[\w+-]{2,}\.[a-z]{1,4}\b(?!\()",  # with an extension: "sys/select.h", "java.opts"
)
# A number standing alone, with its unit if any ("25pt", "72.27", "1,000", "5%", "2GB"), not part of a name
# ("SIGUSR1", "x86_64"; for "UTF-8" see below), a footnote mark ("7pt.1", "1It is possible …") or a range in
# code ("for(i in 1:n)"), or a number word from two on ("one" is more often a pronoun).
_NUMBER = re.compile(
    r"(?<![\w.\\])\d+(?:[.,]\d+)*(?:[a-z]{1,5}|[A-Z]{1,3})?%?(?![\w]|\.\w|:[^\W\d])"
    r"|\b(?i:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty"
    r"|hundred|thousand|million|billion)\b",
)
# A name joined by hyphens with a number in it ("UTF-8", "ISO-8859-1", "x86-64"), not a quantity ("24-bit" is).
_NUMBERED_NAME = re.compile(r"\b[^\W\d_]\w*(?:-\w+)*-\d\w*(?:-\w+)*")
# A number that points elsewhere ("Section 5.15", "page 180", "Table 2", "[22]"), not a quantity.
_REFERENCE = re.compile(
    r"\b(?:sections?|pages?|pp?\.|chapters?|tables?|figures?|fig\.|appendix|equations?|eq\.|§)\s*\d[\d.]*"
    r"|\[\d+(?:[,\u2013-]\s*\d+)*\]|^\s*\d+(?=\s+[^\W\d_])",
    re.IGNORECASE,
)


def asks_for_default(question: str) -> bool:
    """The question asks what something is when nobody sets it."""
    return _ASKS_FOR_DEFAULT.search(question) is not None


def states_default(sentence: str) -> bool:
    """The sentence speaks of a default ("default", "defaults to", "by default")."""
    return _STATES_DEFAULT.search(sentence) is not None


def asks_for_quantity(question: str) -> bool:
    """The question asks how many, how much, how long …, or for the biggest, smallest, maximum … of something."""
    return _ASKS_FOR_QUANTITY.search(question) is not None


def asks_for_file(question: str) -> bool:
    """The question asks which file, folder, path or header."""
    return _ASKS_FOR_FILE.search(question) is not None


def file_names(text: str) -> set[str]:
    """The names and paths of files in `text`, lower-cased, without surrounding dots."""
    return {match.group(0).strip(".").lower() for match in _FILE_NAME.finditer(text)}


def numbers(text: str) -> set[str]:
    """The numbers standing alone in `text` that are not references, lower-cased with their units."""
    plain = _NUMBERED_NAME.sub(" ", _REFERENCE.sub(" ", text))
    return {match.group(0).lower() for match in _NUMBER.finditer(plain)}


class SentenceFacts:
    """What each of a document's sentences states that a question may ask for (a default, numbers, file
    names), each kind worked out once, when a question first asks for it, not again for every question.

    A question about a default wants a sentence that states one; about a file, a file's name the question does
    not hold; about a quantity, a number the question does not hold, in figures first ("up to 25pt"), then in
    words ("Slovenian has four"), since number words are often no answer ("Which two depend on the class …")."""

    def __init__(self, texts: Sequence[str]) -> None:
        self._texts = list(texts)

    @functools.cached_property
    def defaults(self) -> list[bool]:
        return [states_default(text) for text in self._texts]

    @functools.cached_property
    def numbers(self) -> list[frozenset[str]]:
        return [frozenset(numbers(text)) for text in self._texts]

    @functools.cached_property
    def files(self) -> list[frozenset[str]]:
        return [frozenset(file_names(text)) for text in self._texts]

    def fitting(self, question: str) -> list[bool] | None:
        """Which sentences can answer `question`, by its most telling test that some sentence passes; None
        when the question asks for nothing in particular or none passes."""
        for mask in self._tiers(question):
            if any(mask):
                return mask
        return None

    def _tiers(self, question: str) -> Iterator[list[bool]]:
        """The tests, most telling first: for a question about a default that also asks for a file or a
        quantity ("How long does it wait by default?"), a default stated with a file or a number, then any
        default; otherwise the file or quantity tests alone."""
        if asks_for_default(question):
            for mask in self._kind_tiers(question):
                yield [default and fits for default, fits in zip(self.defaults, mask)]
            yield self.defaults
        else:
            yield from self._kind_tiers(question)

    def _kind_tiers(self, question: str) -> Iterator[list[bool]]:
        if asks_for_file(question):
            named = file_names(question)
            yield [bool(found - named) for found in self.files]
        elif asks_for_quantity(question):
            asked = numbers(question)
            yield [any(number[0].isdigit() for number in found - asked) for found in self.numbers]
            yield [bool(found - asked) for found in self.numbers]


def fitting_sentences(question: str, texts: Sequence[str]) -> list[bool] | None:
    """Which of `texts` can answer `question` (see `SentenceFacts`), by its most telling test that some text passes;
    None when the question asks for nothing in particular or no text passes any of its tests."""
    return SentenceFacts(texts).fitting(question)


def fitting_first(question: str, ranked: Sequence[Passage], within: int = DEFAULT_WITHIN) -> list[Passage]:
    """`ranked` (best first) with the best of its first `within` that fits the question (see `SentenceFacts`)
    moved to the front; unchanged when the question asks for nothing in particular or none of them fits."""
    order = list(ranked)
    mask = fitting_sentences(question, [item.text for item in order[:within]])
    found = mask.index(True) if mask else 0
    if found:  # 0: the best already fits, or none does
        order.insert(0, order.pop(found))
    return order
