"""Sentence segmentation: readable units, exact offsets, bounded length, speed."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.documents import Sentence, split_sentences


def sentences(text: str, **kwargs: int) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text, **kwargs)]


def check_invariants(text: str, result: list[Sentence], max_chars: int) -> None:
    previous_end = 0
    covered: set[int] = set()
    for s in result:
        piece = text[s.start : s.end]
        assert s.start >= previous_end and s.end > s.start
        assert piece == piece.strip()
        assert len(piece) <= max_chars
        covered.update(range(s.start, s.end))
        previous_end = s.end
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_abbreviations_numbers_and_quotes() -> None:
    text = (
        "Dr. Smith met Mr. Jones at 3.14 p.m. on Jan. 5. They talked, e.g. about pi, i.e. a number, etc. "
        "The U.S. Army came. Version 1.2.3 was released... Really? Yes! See Fig. 3 and No. 5. "
        'He said "Go home." Then he left (quietly.) The end'
    )
    assert sentences(text) == [
        "Dr. Smith met Mr. Jones at 3.14 p.m. on Jan. 5.",
        "They talked, e.g. about pi, i.e. a number, etc.",
        "The U.S. Army came.",
        "Version 1.2.3 was released...",
        "Really?",
        "Yes!",
        "See Fig. 3 and No. 5.",
        'He said "Go home."',
        "Then he left (quietly.)",
        "The end",
    ]


def test_ellipsis_inside_a_sentence_and_numbers_at_the_end() -> None:
    assert sentences("Wait... what happened? It cost 12. Then 2.5 more.") == [
        "Wait... what happened?",
        "It cost 12.",
        "Then 2.5 more.",
    ]


def test_headings_lists_and_wrapped_lines() -> None:
    text = (
        "Introduction\nThis paper describes a method for doing things that is\n"
        "quite long and wraps onto the next line. And another sentence\nthat also wraps.\n\n"
        "1. First item\n2. Second item without punctuation\n- bullet one\n- bullet two\n\n"
        "# Heading\nText here.\n\nA title without a full stop\n\nBody text."
    )
    assert sentences(text) == [
        "Introduction",
        "This paper describes a method for doing things that is\nquite long and wraps onto the next line.",
        "And another sentence\nthat also wraps.",
        "1. First item",
        "2. Second item without punctuation",
        "- bullet one",
        "- bullet two",
        "# Heading",
        "Text here.",
        "A title without a full stop",
        "Body text.",
    ]


def test_roman_and_numbered_section_headings() -> None:
    assert sentences("I. Introduction\nII. Methods\n\nSo am I. Then we left.") == [
        "I. Introduction",
        "II. Methods",
        "So am I.",
        "Then we left.",
    ]


def test_code_blocks_split_on_lines() -> None:
    text = "Run this:\n\n```python\ndef f(x):\n    return x. y\n\nprint(f(1))\n```\nAfter code. Done."
    assert sentences(text) == [
        "Run this:",
        "```python",
        "def f(x):",
        "return x. y",
        "print(f(1))",
        "```",
        "After code.",
        "Done.",
    ]
    assert sentences("x = 1;\ny = compute(x);\nif (y > 2) {\n  z = y;\n}") == [
        "x = 1;",
        "y = compute(x);",
        "if (y > 2) {",
        "z = y;",
        "}",
    ]


def test_prose_that_mentions_code_tokens_is_split_into_sentences() -> None:
    # Writing R Extensions, p. 12: the second line names tools::toTitleCase; the lines were kept whole as code.
    text = ("The mandatory Title field should give a short description of the package.\n"
            "Some package listings may truncate the title to 65 characters. It should use title case "
            "(tools::toTitleCase can help you with this), not use any markup.")
    assert sentences(text) == [
        "The mandatory Title field should give a short description of the package.",
        "Some package listings may truncate the title to 65 characters.",
        "It should use title case (tools::toTitleCase can help you with this), not use any markup.",
    ]
    assert sentences("if x == y: swap(a, b)\nelse z -> w\nstd::vector<int> v") == [
        "if x == y: swap(a, b)",
        "else z -> w",
        "std::vector<int> v",
    ]


def test_prose_lines_of_a_paragraph_that_ends_in_code_are_split_into_sentences() -> None:
    # The TikZ manual, p. 36: a prose line, then the example it introduces; kept whole as code, the five
    # sentences were one 600-character piece.
    text = ("Using styles makes your graphics code more flexible. You can change the way things look easily. "
            "In this situation you can use the \\tikzset command at the beginning of the document as in\n"
            "\\tikzset{help lines/.style=very thin}")
    assert sentences(text) == [
        "Using styles makes your graphics code more flexible.",
        "You can change the way things look easily.",
        "In this situation you can use the \\tikzset command at the beginning of the document as in",
        "\\tikzset{help lines/.style=very thin}",
    ]
    # memoir, p. 2: a line of prose that ends in the command it shows.
    assert sentences("VERSE stanzas can be numbered, as can individual lines within a poem. Also you can define "
                     "an indentation pattern as shown below. \\indentpattern{00110}\n\\begin{verse}") == [
        "VERSE stanzas can be numbered, as can individual lines within a poem.",
        "Also you can define an indentation pattern as shown below.",
        "\\indentpattern{00110}",
        "\\begin{verse}",
    ]
    code_between = ("x = compute(a);\nThe value is kept for later use. It is never freed by the caller here,\n"
                    "so call free() on it when done with it at the end.\ny = x + 1;")
    assert sentences(code_between) == [
        "x = compute(a);",
        "The value is kept for later use.",
        "It is never freed by the caller here,\nso call free() on it when done with it at the end.",
        "y = x + 1;",
    ]


def test_cjk_punctuation() -> None:
    assert sentences("这是第一句。这是第二句！是吗？「好的。」然后") == [
        "这是第一句。",
        "这是第二句！",
        "是吗？",
        "「好的。」",
        "然后",
    ]


def test_table_of_contents_dot_leaders_stay_whole() -> None:
    assert sentences("Colorspec . . . . . . . . . . . 50\n\nBackground color . . . . . . . 51") == [
        "Colorspec . . . . . . . . . . . 50",
        "Background color . . . . . . . 51",
    ]


def test_long_sentences_are_split_at_soft_breaks() -> None:
    text = "word, " * 400 + "end."
    result = split_sentences(text, max_chars=100)
    check_invariants(text, result, 100)
    assert all(text[s.start : s.end].endswith(",") for s in result[:-1])
    cjk = "这是一个很长的句子没有标点符号" * 100
    result = split_sentences(cjk, max_chars=600)
    check_invariants(cjk, result, 600)
    assert max(s.end - s.start for s in result) <= 150  # CJK characters weigh four
    unbroken = "x" * 1000
    check_invariants(unbroken, split_sentences(unbroken, max_chars=64), 64)


def test_rejects_nonsense_bound() -> None:
    with pytest.raises(ValueError):
        split_sentences("text", max_chars=0)


def test_five_megabytes_in_a_few_seconds() -> None:
    paragraph = (
        "The quick brown fox, e.g. a vulpine mammal, jumps over 3.5 lazy dogs. Dr. Who watched it\n"
        "happen at 10 p.m. and wrote it down! Did anyone else see it? Nobody knows... The end.\n\n"
    )
    text = paragraph * (5_000_000 // len(paragraph))
    started = time.perf_counter()
    result = split_sentences(text)
    elapsed = time.perf_counter() - started
    assert len(result) == 5 * (5_000_000 // len(paragraph))
    assert elapsed < 10, f"{elapsed:.1f} s"


_texts = st.text(
    st.characters(blacklist_categories=("Cs",)) | st.sampled_from(list(" \n\n\t.!?。…\"')-•#`~1aAe")),
    max_size=400,
)


@settings(max_examples=400, deadline=None)
@given(_texts, st.integers(min_value=1, max_value=80))
def test_offsets_round_trip_on_arbitrary_text(text: str, max_chars: int) -> None:
    check_invariants(text, split_sentences(text, max_chars=max_chars), max_chars)


@settings(max_examples=200, deadline=None)
@given(_texts)
def test_default_bound_on_arbitrary_text(text: str) -> None:
    check_invariants(text, split_sentences(text), 600)
