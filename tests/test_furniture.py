"""Page furniture: which edge lines count as running heads and page numbers, from words as MuPDF gives them."""

from __future__ import annotations

import pytest

from app.documents.furniture import edge_lines, furniture
from app.documents.pdf_layout import Word

HEIGHT = 11.0
NAMES = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"]


def line(block: int, y: float, *texts: str, x: float = 56.0) -> list[Word]:
    """One line's words, left to right from `x`, at height `y` (its top)."""
    words = []
    for number, text in enumerate(texts):
        words.append((x, y, x + 6.0 * len(text), y + HEIGHT, text, block, 0, number))
        x += 6.0 * len(text) + 4.0
    return words


def body(first_block: int, top: float, lines: list[str]) -> list[Word]:
    return [w for i, text in enumerate(lines) for w in line(first_block + i, top + 14.0 * i, *text.split())]


def page_edges(pages: list[list[Word]]) -> dict[int, list]:
    return {i: edge_lines(words) for i, words in enumerate(pages)}


def texts_of(words: list[Word], keys: set[tuple[int, int]]) -> list[str]:
    return sorted({w[4] for w in words if (w[5], w[6]) in keys})


def test_a_running_head_apart_from_the_body_is_furniture_even_where_its_title_changes() -> None:
    pages = []
    for number in range(1, 6):
        title = "Startup Files" if number < 5 else "Options"  # the last page starts a new section
        head = line(0, 40.0, "Chapter", "2:", title) + line(1, 40.0, str(number), x=500.0)
        pages.append(head + body(2, 80.0, [f"Body text about {NAMES[number]} that reads on", f"and on about {NAMES[number + 1]}."]))
    edges = page_edges(pages)
    for number, words in enumerate(pages):
        assert texts_of(words, furniture(number, edges)) == sorted({"Chapter", "2:", pages[number][2][4],
                                                                      str(number + 1)})


def test_body_lines_at_the_usual_spacing_are_not_furniture() -> None:
    pages = [body(0, 80.0, ["Syntax:", f"plot {NAMES[n]} with points, and more words of it"]) for n in range(3)]
    pages.append(body(0, 80.0, ["Another page starts with other words entirely."]))
    edges = page_edges(pages)
    assert all(furniture(number, edges) == set() for number in range(len(pages)))


@pytest.mark.parametrize("numbers", [["10", "11", "12", "13"], ["iii", "iv", "v", "vi"]])
def test_page_numbers_alone_are_furniture_at_any_spacing(numbers: list[str]) -> None:
    pages = [body(0, 80.0, [f"Text about {NAMES[n]} that goes on to the foot."]) + line(9, 94.0, numbers[n])
             for n in range(4)]
    edges = page_edges(pages)
    for number, words in enumerate(pages):
        assert texts_of(words, furniture(number, edges)) == [numbers[number]]


def test_a_page_of_one_row_has_no_bottom_row() -> None:
    words = line(0, 40.0, "Left") + line(1, 40.0, "Right", x=300.0)
    assert {e.edge for e in edge_lines(words)} == {"top"}
    assert furniture(0, {0: edge_lines(words)}) == set()
