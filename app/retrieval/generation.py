"""The answer: written by the model from the few best retained sentences (with their neighbours), streamed
to a callback; an answer that echoes the instructions, does not address the question, leans on a lesser
passage, only restates the best one or lacks the default, number or file that the question asks for and the
best one gives is replaced by the best evidence sentence, quoted."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from transformers import StoppingCriteria, StoppingCriteriaList, TextStreamer

from app.documents.navigation import is_navigation, without_leaders
from app.retrieval.answer_kind import (
    asks_for_default,
    asks_for_file,
    asks_for_quantity,
    file_names,
    fitting_first,
    numbers,
)
from app.retrieval.answer_model import answer_model
from app.retrieval.lexical import stem
from app.retrieval.models import LoadedModel
from app.retrieval.prompt import answer_prompt_ids
from app.retrieval.types import CancelToken, Passage, TokenCallback

QUOTED_PREFIX = "From the document: "
QUOTE_MAX_CHARS = 320  # a quote goes on (an unfinished sentence, the next one of its paragraph) up to this length
QUOTE_MAX_UNITS = 6
MIN_WORDS = 4  # fewer words than this is a fragment: a term, a label, a code line
REPEAT_SPAN = 5  # an answer that says the same this many words twice has gone round in a loop
RESTATES_SHARE = 0.5  # an answer with more than this share of its content words from the best passage restates it
_ENDS_A_SENTENCE = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*\s*$")
_WORD = re.compile(r"[^\W_]+(?:[.'][^\W_]+)*", re.UNICODE)
_STOPWORD_TEXT = (
    "a an the of to in on at by for with from and or not no is are was were be been being it its this that these "
    "those what which who whom whose when where why how do does did done can could should would will shall may "
    "might must there here than then as if so such any all each some into out up down over under about you your "
    "i me my we our they them their he she his her one has have had get gets"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_QUANTITY_WORDS = frozenset({"one", "half", "twice", "double", "triple", "quarter", "third"})  # besides numbers()
_AFTER_DEFAULT = re.compile(r"\b(?:defaults?|defaulted|initially)\b\W*((?:\S+\s*){1,4})", re.IGNORECASE)
_BOILERPLATE = (
    "helpful ai assistant", "as an ai", "i'm sorry", "i am sorry", "i cannot", "i can't", "i don't know",
    "not mentioned", "does not mention", "no information", "not provided", "does not provide", "doesn't provide",
    "the document is", "the passages", "the question", "answer briefly", "not specified", "cannot be determined",
    "passages from a document", "short answer taken from",
)

# Replies that are not answers, whatever words they share with the passages (seen on the held-out manuals,
# tests/benchmarks/realdocs/README.md): a question ("2.7.11 Who uploaded the package?"), a description of the
# passage ("The passage provides a brief explanation of …"), a copied section heading ("1.8 Internationalization").
_NOT_AN_ANSWER = (
    re.compile(r"\?\s*$"),
    re.compile(r"^(?:the|this) (?:passage|text|document|section|excerpt)s? (?:provides|describes|explains|discusses"
               r"|talks about|is about|gives|offers|covers|presents|contains)\b"),
    re.compile(r"^\d+(?:\.\d+)+\.?(?:\s+[^\s.]+){1,8}\s*:?$"),
    # An introduction with nothing after it ("The library that provides it is:", "The answer is:"): what it
    # introduces came after a blank line, where decoding stops. Letting it go on gave the 135M model's own,
    # often wrong, continuation where the quoted best passage was right (held-out: 3 answers lost).
    re.compile(r":$"),
    re.compile(r"(\d+)[.,]\s*(?:\1[.,]\s*){5,}|([^\w\s])\2{5,}"),  # decoding astray: "1. 1.1.1.1.1.1", "......"
)
# A numbered heading or chapter title ("Chapter 9: Command-line options 170", "3.2 Drawing in interactive mode"):
# it names a topic and never answers, so it is not the passage quoted or shown as the evidence.
_HEADING = re.compile(r"^(?:[Cc]hapter|CHAPTER|[Ss]ection|SECTION|[Pp]art|PART|[Aa]ppendix|APPENDIX)\s+(?:[\dIVXLC]+|[A-Z])\b"
                      r"|^\d{1,3}(?:\.\d{1,3})*\.?\s+[A-Z]")
_HEADING_MAX_WORDS = 10
# An unnumbered title ("Filtering Out Call Frames", "Fitting Generalized Linear Models": the R reference manual
# heads every help page so): its words capitalised, the small ones aside.
_TITLE_SMALL_TEXT = "a an the of to in on at by for with from and or nor but vs via into as per"
_TITLE_SMALL_WORDS = frozenset(_TITLE_SMALL_TEXT.split())
_TITLE_CAPITALISED_SHARE = 0.75
_SENTENCE_END = re.compile(r"(?<=[.!?])(\s+)(?=\S)")
# Where a reply's next sentence begins: an end mark (closing quotes or brackets after it), space, then a capital,
# an opening quote or bracket, a backslash or a backquote ("e.g. between", "2.54 cm" and "v. 3" go on).
_NEXT_SENTENCE = re.compile(r"([.!?][\"'\u201d\u2019)\]]*)\s+(?=[A-Z\"'(\u201c\u2018`\\])")


@dataclass(frozen=True)
class AnswerContext:
    """The text the model answers from, and the best passage (the evidence shown under the answer)."""

    text: str
    best: Passage | None
    ranked: tuple[Passage, ...] = ()  # the best passages it was built from, best first


class _PieceStreamer(TextStreamer):
    """transformers' own incremental decoder, handing each finished piece of text to a callback."""

    def __init__(self, tokenizer: Any, on_token: TokenCallback | None) -> None:
        super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
        self.on_token = on_token

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        if self.on_token and text:
            self.on_token(text)


class _StopOnCancel(StoppingCriteria):
    def __init__(self, cancel: CancelToken | None) -> None:
        self.cancel = cancel

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        stop = bool(self.cancel and self.cancel.cancelled)
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)


class _StopOnLoop(StoppingCriteria):
    """Stops greedy decoding stuck in a loop: the answer's tail is one short pattern repeated over and over."""

    def __init__(self, prompt_length: int, max_period: int = 8, min_span: int = 24) -> None:
        self.prompt_length = prompt_length
        self.max_period = max_period
        self.min_span = min_span

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        looping = [is_looping(row[self.prompt_length :].tolist(), self.max_period, self.min_span) for row in input_ids]
        return torch.tensor(looping, dtype=torch.bool, device=input_ids.device)


class _StopAtAnswerEnd(StoppingCriteria):
    """Stops once the answer's first paragraph (a line of text, then a blank line) or its first sentence (see
    first_sentence) is over: a short answer is one sentence."""

    def __init__(self, tokenizer: Any, prompt_length: int) -> None:
        self.tokenizer = tokenizer
        self.prompt_length = prompt_length

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        done = []
        for row in input_ids:
            text = str(self.tokenizer.decode(row[self.prompt_length :].tolist(), skip_special_tokens=True))
            answer = text.strip()
            paragraph = bool(answer) and "\n\n" in text.lstrip() and len(row) - self.prompt_length > 2
            done.append(paragraph or first_sentence(answer) != answer)
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def first_sentence(reply: str, min_words: int = MIN_WORDS) -> str:
    """The reply up to the end of its first sentence of at least `min_words` words; all of it when no other
    sentence begins after that. On the three real-document sets asked cold (131 questions) the sentences after
    the first changed no answer's outcome and took 5 of the 25 tokens an answer had on average (2026-12-04)."""
    for match in _NEXT_SENTENCE.finditer(reply):
        head = reply[: match.end(1)]
        if len(head.split()) >= min_words:
            return head
    return reply


def is_looping(ids: Sequence[int], max_period: int = 8, min_span: int = 24) -> bool:
    """True when the last `min_span` tokens repeat one pattern of at most `max_period` tokens."""
    if len(ids) < min_span:
        return False
    tail = list(ids[-min_span:])
    return any(all(tail[i] == tail[i - period] for i in range(period, min_span)) for period in range(1, max_period + 1))


def best_passage(passages: Sequence[Passage], min_words: int = MIN_WORDS) -> Passage | None:
    """The highest-scoring passage, preferring real sentences to fragments (headings, page furniture) and
    to navigation (contents and index entries)."""
    if not passages:
        return None
    return max(_sentences(passages, min_words) or list(passages), key=lambda p: p.score)


def _sentences(passages: Sequence[Passage], min_words: int) -> list[Passage]:
    return [p for p in passages if says_something(p.text, min_words)]


def says_something(sentence: str, min_words: int = MIN_WORDS) -> bool:
    """At least `min_words` words, not a contents or index entry, and not a heading: a sentence, not a
    fragment ("shift [n]", "I", "Chapter 9: Command-line options 170")."""
    return len(sentence.split()) >= min_words and not is_navigation(sentence) and not is_heading(sentence)


def reading_order(passages: Sequence[Passage]) -> list[Passage]:
    """Passages as a reader wants them listed: the ones that say something by score, then the fragments."""
    return sorted(passages, key=reading_key)


def reading_key(passage: Passage) -> tuple[bool, float, int]:
    """The sort key of `reading_order`: fragments last, then best score first, then document order."""
    return (not says_something(passage.text), -passage.score, passage.start)


def is_heading(sentence: str) -> bool:
    """A heading or chapter title: short, not ending a sentence, and numbered or with its words capitalised."""
    words = sentence.split()
    if len(words) > _HEADING_MAX_WORDS or _ENDS_A_SENTENCE.search(sentence):
        return False
    return _HEADING.match(sentence.strip()) is not None or _is_title(words)


def _is_title(words: list[str]) -> bool:
    """Title case: at least three words past the small ones, nearly all of them capitalised."""
    big = [word for word in words if word.lower() not in _TITLE_SMALL_WORDS]
    capitalised = sum(word[:1].isupper() for word in big)
    return len(big) >= 3 and capitalised >= _TITLE_CAPITALISED_SHARE * len(big)


def answer_context(
    text: str, sentence_spans: np.ndarray, passages: Sequence[Passage], tokenizer: Any,
    budget_tokens: int, best_count: int = 3, min_words: int = MIN_WORDS, neighbours: bool = True,
    question: str = "",
) -> AnswerContext:
    """The `best_count` best passages, each with the sentence before and after it in the document (when
    `neighbours`), within `budget_tokens`, the best last: nearest the question, where a small model looks first
    (on the real-document dev set, from the meaning ranking's passages, best last answered 28 of 67 questions
    against 25 with best first). Small models answer well from a small, focused context. Given the `question`,
    the best passage is the one that fits what it asks for (answer_kind.py), of a few best by score."""
    ordered = sorted(_sentences(passages, min_words) or passages, key=lambda p: -p.score)  # best_passage's order
    ordered = fitting_first(question, ordered)
    ranked = ordered[:best_count]
    groups: list[list[tuple[int, int]]] = []
    seen: set[tuple[int, int]] = set()
    used = 0
    for with_neighbours in (False, True)[: 1 + neighbours]:  # the best sentences, then their neighbours if room
        for rank, passage in enumerate(ranked):
            spans = _neighbour_spans(sentence_spans, passage) if with_neighbours else [(passage.start, passage.end)]
            for span in spans:
                if span in seen or _covered(span, seen):
                    continue
                cost = len(tokenizer(text[span[0] : span[1]], add_special_tokens=False)["input_ids"])
                if seen and used + cost > budget_tokens:
                    continue
                seen.add(span)
                used += cost
                while len(groups) <= rank:
                    groups.append([])
                groups[rank].append(span)
    blocks = [" ".join(" ".join(text[s:e].split()) for s, e in sorted(group)) for group in groups if group]
    return AnswerContext("\n\n".join(reversed(blocks)), ordered[0] if ordered else None, tuple(ranked))


def _neighbour_spans(sentence_spans: np.ndarray, passage: Passage) -> list[tuple[int, int]]:
    if sentence_spans.size == 0:
        return [(passage.start, passage.end)]
    index = int(np.searchsorted(sentence_spans[:, 0], passage.start, side="right")) - 1
    chosen = range(max(index - 1, 0), min(index + 2, len(sentence_spans)))
    return [(int(sentence_spans[i, 0]), int(sentence_spans[i, 1])) for i in chosen]


def _covered(span: tuple[int, int], seen: set[tuple[int, int]]) -> bool:
    return any(s <= span[0] and span[1] <= e for s, e in seen)


def content_words(text: str) -> set[str]:
    """Lower-case words of `text` that carry meaning (no stopwords), stemmed as BM25 stems them (the crude
    suffix rule before made "gives" and "give" two words, so "The shell gives HISTSIZE after reading the
    startup files." did not count as repeating the question it was asked)."""
    words = (w.lower() for w in _WORD.findall(text))
    return {stem(w) for w in words if w not in _STOPWORDS}


# Words after "default" that name no value: "The default value is", "defaults to", "(no default, initially 2) Sets …"
_NOT_A_VALUE = content_words("default defaults value values setting settings set sets initially initial")


def is_unhelpful(answer: str, question: str, context: str) -> bool:
    """An answer that echoes the instructions, apologises, says nothing, asks, describes the passages or copies
    a heading instead of answering, goes round in a loop, repeats the question, shares no word with the passages
    it was meant to come from, or states a number they do not hold."""
    lowered = " ".join(answer.lower().split())
    if not lowered or any(phrase in lowered for phrase in _BOILERPLATE):
        return True
    if any(pattern.search(lowered) for pattern in _NOT_AN_ANSWER) or repeats_itself(lowered):
        return True
    every, known = content_words(answer), content_words(context)
    numbers = {w for w in every if any(c.isdigit() for c in w)}
    if numbers - known - content_words(question):
        return True  # a number the passages do not hold is made up
    words = every - numbers
    if not words:
        return False  # punctuation or numbers the passages hold: keep the answer
    if words <= content_words(question) and not numbers:
        return True
    return not (words & known)


def repeats_itself(answer: str, span: int = REPEAT_SPAN) -> bool:
    """The same `span` words twice in a row or apart: decoding going round ("The algorithm that determines where
    each new sheet starts is a function of the algorithm that determines where each new sheet starts."). Over
    the three real-document sets asked cold (131 questions) it found 3 of the 22 answers kept, all wrong, and
    the quote put in their place turned one right (2026-12-04)."""
    words = _WORD.findall(answer.lower())
    runs = [tuple(words[i : i + span]) for i in range(len(words) - span + 1)]
    return len(runs) != len(set(runs))


def leans_elsewhere(answer: str, question: str, ranked: Sequence[Passage]) -> bool:
    """The answer's own words (those the question does not hold) are found more in another of the `ranked`
    passages than in the best one, `ranked[0]`: the model took its answer from a passage that retrieval ranked
    lower. Over the three real-document sets (121 questions) 27 answers were such; quoting the best passage
    instead turned 7 wrong answers right and 4 right ones wrong (offline)."""
    if len(ranked) < 2:
        return False
    own = content_words(answer) - content_words(question)
    if not own:
        return False
    support = [len(own & content_words(passage.text)) for passage in ranked]
    return max(support[1:]) > support[0]


def restates(answer: str, best: Passage) -> bool:
    """More than half of the answer's content words are the best passage's: the model restated it, and the
    passage says it better. A restatement adds nothing and often drops or swaps the detail asked for ("The
    \\keyword entry should always be a data frame." from "… should always be 'datasets'."; "The JVM starts with 64
    megabytes of initial memory." from a sentence naming the file that does it). On both real-document sets,
    quoting the best passage instead turned 7 wrong answers right and none wrong (auto, run 55; asked cold: 4
    and none)."""
    words = content_words(answer)
    return bool(words) and len(words & content_words(best.text)) > RESTATES_SHARE * len(words)


def misses_what_is_asked(answer: str, question: str, best: Passage) -> bool:
    """The question asks for a default, a file or a quantity (answer_kind.py), the best passage offers one the
    question does not hold, and the answer has none of what it offers (for a quantity, no number at all): "What
    do the names … begin with, unless the name option is used?" answered "… begin with the name option" from
    "The name option causes the default prefix "STATS" to be replaced …". A default is offered in the few words
    after "default" or "initially"."""
    if asks_for_default(question):
        offered = default_words(best.text) - content_words(question) - _NOT_A_VALUE
        return bool(offered) and not offered & content_words(answer)
    if asks_for_file(question):
        named = {name.rsplit("/", 1)[-1] for name in file_names(best.text) - file_names(question)}
        return bool(named) and not any(name in answer.lower() for name in named)
    if asks_for_quantity(question):  # any number of its own will do ("one and a half" for "1.5")
        own = numbers(answer) - numbers(question) or _QUANTITY_WORDS & set(answer.lower().split())
        return bool(numbers(best.text) - numbers(question)) and not own
    return False


def default_words(text: str) -> set[str]:
    """The content words in the few words after each "default" or "initially" of `text`."""
    return {word for match in _AFTER_DEFAULT.finditer(text) for word in content_words(match.group(1))}


def quote_reason(answer: str, question: str, context: AnswerContext) -> str:
    """Why the best passage is quoted instead of the model's `answer`: "unhelpful" (see is_unhelpful),
    "elsewhere" (see leans_elsewhere), "restates" (see restates), "misses" (see misses_what_is_asked), or ""
    to keep the answer."""
    if is_unhelpful(answer, question, context.text):
        return "unhelpful"
    if leans_elsewhere(answer, question, context.ranked):
        return "elsewhere"
    if context.best is not None and restates(answer, context.best):
        return "restates"
    return "misses" if context.best is not None and misses_what_is_asked(answer, question, context.best) else ""


def quoted(passage: Passage, text: str = "", sentence_spans: np.ndarray | None = None) -> str:
    """The passage as the answer, labelled as a quote, without dot leaders and their page numbers. Given the
    document's `text` and sentence spans, a passage that does not end a sentence ("For a package with Fortran
    code using OpenMP the appropriate lines are") goes on with what follows it, and then with the next
    sentence of its paragraph, up to `QUOTE_MAX_CHARS`: manuals often name a topic in one sentence and give
    the detail in the next ("… instead of calling it n times. Note that …, n will be either 15 or 21.")."""
    words = " ".join(passage.text.split())
    if not text or sentence_spans is None or sentence_spans.size == 0 or is_navigation(passage.text):
        return f'{QUOTED_PREFIX}"{without_leaders(words)}"'
    following = int(np.searchsorted(sentence_spans[:, 0], passage.end, side="left"))  # the sentence after it
    follows = _what_follows(text, sentence_spans, following, passage, QUOTE_MAX_CHARS - len(words))
    words = " ".join([words, *follows])
    end = int(sentence_spans[following + len(follows) - 1, 1]) if follows else passage.end
    words = " ".join([words, *_next_in_paragraph(text, sentence_spans, following + len(follows), end,
                                                 QUOTE_MAX_CHARS - len(words))])
    return f'{QUOTED_PREFIX}"{without_leaders(words)}"'


def _next_in_paragraph(text: str, sentence_spans: np.ndarray, unit: int, end: int, room: int) -> list[str]:
    """Sentence `unit`, the one after the quote (which ends at `end`), when it is in the same paragraph (no
    blank line between), says something and fits in `room` characters."""
    if unit >= len(sentence_spans):
        return []
    start, stop = (int(v) for v in sentence_spans[unit])
    piece = " ".join(text[start:stop].split())
    if "\n\n" in text[end:start] or len(piece) > room or not says_something(piece):
        return []
    return [piece]


def _what_follows(text: str, sentence_spans: np.ndarray, following: int, passage: Passage, room: int) -> list[str]:
    """The sentences from `following` on after an unfinished `passage` (a list or code it introduces, the rest
    of a sentence cut by a page break), until one ends a sentence or `room` characters are used."""
    pieces: list[str] = []
    if _ENDS_A_SENTENCE.search(passage.text):
        return pieces
    for start, end in sentence_spans[following : following + QUOTE_MAX_UNITS].tolist():
        piece = " ".join(text[start:end].split())
        if len(piece) > room or is_navigation(piece):
            break
        pieces.append(piece)
        room -= len(piece) + 1
        if _ENDS_A_SENTENCE.search(piece):
            break
    return pieces


def generate_text(
    model: LoadedModel,
    context: str,
    question: str,
    on_token: TokenCallback | None = None,
    cancel: CancelToken | None = None,
    max_new_tokens: int = 200,
    precision: str = "native",
) -> str:
    """Greedy answer to `question` from `context`; "" when decoding got stuck in a loop (". . . . .",
    "stylestylestyle…": what it said is no answer); raises Cancelled if cancelled. `precision`: of the
    model that writes it (answer_model.py)."""
    ids = answer_prompt_ids(model.tokenizer, context, question)
    input_ids = torch.tensor([ids], device=model.device)
    eos = model.tokenizer.eos_token_id
    with torch.inference_mode():
        output = answer_model(model, precision).generate(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            streamer=_PieceStreamer(model.tokenizer, on_token),
            stopping_criteria=StoppingCriteriaList(
                [_StopOnCancel(cancel), _StopOnLoop(len(ids)), _StopAtAnswerEnd(model.tokenizer, len(ids))]
            ),
            pad_token_id=eos,
        )
    if cancel:
        cancel.raise_if_cancelled()
    answer_ids = output[0, len(ids) :].tolist()
    if is_looping(answer_ids):
        return ""
    reply = str(model.tokenizer.decode(answer_ids, skip_special_tokens=True)).strip()
    return first_sentence(without_repeats(reply.split("\n\n")[0].strip()))


def without_repeats(reply: str) -> str:
    """The reply with every sentence said a second time left out ("The file is special. The file is special.")."""
    pieces = _SENTENCE_END.split(reply)  # sentence, space after it, sentence, ...
    seen: set[str] = set()
    kept: list[str] = []
    for index in range(0, len(pieces), 2):
        key = " ".join(pieces[index].lower().split())
        if key and key in seen:
            continue
        seen.add(key)
        kept += [pieces[index - 1], pieces[index]] if kept else [pieces[index]]
    return "".join(kept)
