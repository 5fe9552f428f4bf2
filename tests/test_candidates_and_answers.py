"""Choosing candidate sentences (rankings, fusion, neighbours, budget), the lexical index, and the answer
step (context from the best sentences, unhelpful answers replaced by quoted evidence)."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

from app.documents import split_sentences
from app.retrieval import answer_kind, lexical, sources
from app.retrieval.answer_kind import (
    asks_for_default,
    asks_for_file,
    asks_for_quantity,
    file_names,
    fitting_first,
    fitting_sentences,
    numbers,
)
from app.retrieval.candidates import (
    WEIGHTS,
    choose_interleaved,
    choose_units,
    fuse,
    ranks,
    sentence_to_unit_scores,
    shares,
    token_to_unit_scores,
    with_a_share,
)
from app.retrieval.generation import (
    QUOTED_PREFIX,
    answer_context,
    best_passage,
    first_sentence,
    is_heading,
    is_unhelpful,
    leans_elsewhere,
    quoted,
    reading_order,
    says_something,
    without_repeats,
)
from app.retrieval.lexical import lexical_index
from app.retrieval.pipeline import keep_beside_loop, rank_with_meaning
from app.retrieval.types import Passage
from app.retrieval.units import TokenizedDocument


def _doc(lengths: list[int]) -> TokenizedDocument:
    """Units of the given token lengths, each unit 10 characters per token."""
    ends = np.cumsum(lengths)
    starts = ends - np.asarray(lengths)
    tokens = np.stack([starts, ends], axis=1)
    return TokenizedDocument(np.zeros(int(ends[-1]), dtype=np.int64), tokens, tokens * 10)


def test_ranks_put_unscored_units_nowhere():
    assert ranks(np.array([0.2, np.nan, 0.9, -np.inf])).tolist() == [2.0, np.inf, 1.0, np.inf]


def test_fusion_rewards_agreement_between_rankings():
    lexical_scores = np.array([3.0, 2.0, 1.0, 0.0])
    meaning = np.array([0.1, 0.9, 0.2, 0.8])
    fused = fuse([lexical_scores, meaning])
    assert int(np.argmax(fused)) == 1, "second in one ranking and first in the other beats first and last"
    assert np.argmax(fuse([lexical_scores, meaning], [5.0, 1.0])) == 0, "weights shift the balance"


def test_chosen_units_come_with_their_neighbours_within_the_budget():
    doc = _doc([10] * 20)
    scores = np.zeros(20)
    scores[[5, 15]] = [2.0, 1.0]
    assert choose_units(doc, scores, budget_tokens=60) == [4, 5, 6, 14, 15, 16]
    assert choose_units(doc, scores, budget_tokens=40) == [4, 5, 6], "the next group does not fit"
    assert choose_units(doc, np.zeros(20), budget_tokens=60) == [], "no evidence, no candidates"


def test_rankings_take_turns_by_their_shares_and_a_source_without_one_gives_nothing():
    doc = _doc([10] * 30)
    words, meaning, attention = np.zeros(30), np.zeros(30), np.zeros(30)
    words[[2, 20]] = [2.0, 1.0]
    meaning[[8, 14, 26]] = [3.0, 2.0, 1.0]
    attention[[5, 11]] = [2.0, 1.0]
    rankings = [words, meaning, attention]
    taken = choose_interleaved(doc, rankings, [1.0, 2.0, 0.0], budget_tokens=120)
    assert taken == [1, 2, 3, 7, 8, 9, 13, 14, 15, 19, 20, 21], "meaning gives two for words' one"
    assert not {4, 5, 6, 10, 11, 12} & set(taken), "a ranking with no share gives no candidates"
    assert choose_interleaved(doc, rankings, [1.0, 1.0, 1.0], budget_tokens=90) == [1, 2, 3, 4, 5, 6, 7, 8, 9]


def test_the_attention_index_alone_gets_the_whole_budget_whatever_autos_shares():
    assert WEIGHTS["attention"] == 0.0, "auto's candidates come from words and meaning (measured: see the README)"
    assert shares(["attention"]) == [1.0], "indexed mode still reads the attention index's best"
    assert shares(["lexical", "meaning", "attention"]) == [WEIGHTS["lexical"], WEIGHTS["meaning"], 0.0]
    assert shares(["lexical"]) == [1.0]
    assert with_a_share(("lexical", "meaning", "attention")) == ("lexical", "meaning"), "what auto ranks by"


def test_meaning_best_units_are_kept_beside_the_loops_choice():
    loop = {2: 0.9, 5: 0.1}
    meaning = np.array([0.0, 0.1, 0.8, 0.2, np.nan, 0.3, 0.1, 0.95, 0.0, 0.5])
    kept = keep_beside_loop(loop, meaning, [(meaning, 3)])
    assert set(kept) == {2, 5, 7, 9}, "the three best by meaning (7, 2, 9) join the loop's units, none twice"
    order = sorted(kept, key=lambda u: -kept[u])
    assert order == [2, 5, 7, 9], "both rankings count for the loop's units; the extras follow in meaning order"
    many = {u: float(100 - u) for u in range(40)}  # 40 units kept by the loop, unit 0 its best
    lifted = np.r_[np.linspace(0.5, 0.1, 40), 0.99]
    ranked = keep_beside_loop(many, lifted, [(lifted, 1)])
    assert sorted(ranked, key=lambda u: -ranked[u]).index(40) < 39, "meaning's best outranks the loop's weakest"
    assert keep_beside_loop(loop, meaning, [(meaning, 0)]) == rank_with_meaning(loop, meaning), "0: the loop's alone"
    assert 4 not in keep_beside_loop(loop, meaning, [(meaning, 10)]), "a unit meaning has not scored is never added"


def test_the_fitting_rankings_best_are_kept_beside_meanings():
    loop = {2: 0.9}
    meaning = np.array([0.0, 0.1, 0.8, 0.2, 0.05, 0.3, 0.1, 0.95, 0.0, 0.5])
    fitting = np.where(np.isin(np.arange(10), [1, 4, 7]), meaning, -np.inf)  # the units that state a default
    kept = keep_beside_loop(loop, meaning, [(meaning, 2), (fitting, 2)])
    assert set(kept) == {2, 7, 1}, "meaning's best two add 7 (2 is the loop's), fitting's best two (7, 1) add 1"
    assert set(keep_beside_loop(loop, meaning, [(meaning, 2), (fitting, 0)])) == {2, 7}
    assert 0 not in keep_beside_loop(loop, meaning, [(fitting, 5)]), "a unit that does not fit is never added"


def test_token_scores_become_unit_scores_over_the_part_scored():
    doc = _doc([2, 3, 4])
    unit = token_to_unit_scores(doc, np.array([0.1, 0.5, 0.2, 0.9, 0.3], dtype=np.float32))  # units 0 and 1 scored
    assert unit[:2].tolist() == pytest.approx([0.5, 0.9]) and unit[2] == -np.inf


def test_sentence_scores_reach_the_units_inside_each_sentence():
    doc = _doc([2, 3, 4])  # characters 0-20, 20-50, 50-90
    spans = np.array([[0, 45], [45, 90]])
    assert sentence_to_unit_scores(doc, spans, np.array([1.0, 7.0])).tolist() == [1.0, 1.0, 7.0]


def test_the_lexical_index_finds_words_is_cached_and_survives_damage(haystack):
    text = haystack[:30000]
    sentences = split_sentences(text)
    index = lexical_index(text, sentences)
    best = int(np.argmax(index.scores("Who slew his brother Abel?")))
    assert "Abel" in text[sentences[best].start : sentences[best].end]
    assert not index.scores("the of and").any(), "stop words alone match nothing"
    lexical._cache.clear()
    folder = next((lexical.cache_dir() / "lexical").iterdir())
    for item in folder.iterdir():
        item.write_bytes(b"damaged")
    again = lexical_index(text, sentences)
    assert int(np.argmax(again.scores("Who slew his brother Abel?"))) == best


def test_question_words_do_not_rank_sentences():
    text = ("This is what the login program does. The shell reads its startup files first. "
            "The -e option makes the shell exit when a command fails. Prompts can be changed.")
    sentences = split_sentences(text)
    scores = lexical_index(text, sentences).scores("What does the -e option of the shell do?")
    assert scores[0] == 0.0, "'what' and 'does' alone match nothing"
    assert int(np.argmax(scores)) == 2
    assert not lexical_index(text, sentences).scores("What does it do? How can I?").any()


def test_version_numbers_and_dotted_names_are_terms():
    text = ("The format version to use: the default is 3. The only other supported value is 2, the default from "
            "R 1.4.0 to R 3.5.0. Each format version is described in the format section. "
            "Use set.seed to set the seed. Any version of the default format can be read.")
    sentences = split_sentences(text)
    index = lexical_index(text, sentences)
    def best(question: str) -> str:
        chosen = sentences[int(np.argmax(index.scores(question)))]
        return text[chosen.start : chosen.end]

    assert "1.4.0" in best("Which format version was the default from R 1.4.0 to R 3.5.0?")
    assert "set.seed" in best("What does set.seed do?")


def _passage(text: str, needle: str, score: float) -> Passage:
    start = text.index(needle)
    return Passage(start, start + len(needle), score, needle)


def _sentence_spans(text: str) -> np.ndarray:
    return np.array([[s.start, s.end] for s in split_sentences(text)])


class _WordTokenizer:
    def __call__(self, text: str, add_special_tokens: bool = False) -> dict[str, list[int]]:
        return {"input_ids": list(range(len(text.split())))}


def test_answer_context_puts_the_best_sentences_last_with_their_neighbours():
    text = ("Intro sentence here now. The default width is four points. It applies to rules. "
            "Unrelated filler text goes here. Colours are set with a command called setcolor. Last one here.")
    spans = _sentence_spans(text)
    best = _passage(text, "The default width is four points.", 1.0)
    second = _passage(text, "Colours are set with a command called setcolor.", 0.4)
    context = answer_context(text, spans, [second, best], _WordTokenizer(), budget_tokens=200, best_count=2)
    blocks = context.text.split("\n\n")
    assert blocks[1].startswith("Intro sentence here now. The default width") and "It applies to rules." in blocks[1]
    assert "setcolor" in blocks[0], "the best passage comes last, nearest the question"
    assert context.best == best
    small = answer_context(text, spans, [second, best], _WordTokenizer(), budget_tokens=14, best_count=2)
    assert small.text.split("\n\n") == ["Colours are set with a command called setcolor.",
                                        "The default width is four points."], "neighbours only if room"


def test_the_best_passage_prefers_sentences_to_fragments():
    text = "Chapter 4\n\nThe limit is set to ten by default."
    heading, sentence = _passage(text, "Chapter 4", 1.0), _passage(text, "The limit is set to ten by default.", 0.7)
    assert best_passage([heading, sentence]) == sentence
    assert quoted(sentence) == f'{QUOTED_PREFIX}"The limit is set to ten by default."'
    entry = Passage(0, 60, 1.0, ". . . . . . . 192 leqno  Class option for\nnumbering equations at the left.")
    assert quoted(entry) == f'{QUOTED_PREFIX}"leqno Class option for numbering equations at the left."'


def test_passages_are_listed_sentences_first_then_fragments():
    text = ("I\n\nChapter 9: Command-line options\n170\n\nshift [n]\nShift the positional parameters to the left by n.\n"
            "Type asy -h to see the full list of options.")
    letter, heading = _passage(text, "I", 1.0), _passage(text, "Chapter 9: Command-line options\n170", 0.9)
    term = _passage(text, "shift [n]", 0.8)
    weak, strong = _passage(text, "Type asy -h to see", 0.2), _passage(text, "Shift the positional parameters", 0.5)
    assert not any(says_something(p.text) for p in (letter, heading, term)) and says_something(strong.text)
    assert reading_order([letter, weak, heading, term, strong]) == [strong, weak, letter, heading, term]


def test_a_list_of_numbers_is_an_answer_not_a_loop():
    context = "The sizes offered are 10, 11, 12, 14, 17, 20 and 25 points."
    assert not is_unhelpful("10, 11, 12, 14, 17, 20, 25.", "Which sizes are offered?", context)
    assert is_unhelpful("1. 1.1.1.1.1.1.1.1.", "Which sizes are offered?", context + " 1.")


@pytest.mark.parametrize(("reply", "kept"), [
    ("The init file is special. It holds key bindings. The init file is special.",
     "The init file is special. It holds key bindings."),
    ("The default is 10. the default  is 10.", "The default is 10."),
    ("Use set -e.\nThen run it.", "Use set -e.\nThen run it."),  # nothing repeated: unchanged
    ("", ""),
])
def test_a_sentence_said_twice_is_said_once(reply, kept):
    assert without_repeats(reply) == kept


@pytest.mark.parametrize(("reply", "first"), [
    ("The default delay is 5 hundredths of a second. It can be changed with set term.",
     "The default delay is 5 hundredths of a second."),
    ('The prefix is "STATS". Use name to change it.', 'The prefix is "STATS".'),
    ("It is 5. The limit can be changed with set limit. Or not.", "It is 5. The limit can be changed with set limit."),
    ("Use units, e.g. 2.54 cm or 1 in. for the width of the box.", "Use units, e.g. 2.54 cm or 1 in. for the width of the box."),
    ("The file is /etc/default/keyboard.", "The file is /etc/default/keyboard."),
    ("", ""),
])
def test_an_answer_is_its_first_sentence(reply, first):
    """A first sentence of fewer than four words ("It is 5.") goes on to the next; abbreviations and numbers
    followed by a small letter or a digit do not end one."""
    assert first_sentence(reply) == first


def test_numbered_headings_and_titles_are_recognised():
    headings = ("Chapter 9: Command-line options\n170", "3.2 Drawing in interactive mode", "14 PostScript to Asymptote",
                "APPENDIX B Tools", "Filtering Out Call Frames", "Fitting Generalized Linear Models")
    others = ("1. Install it with apt.", "10 inches by 7 inches", "The default is 10.", "Hatch patterns are drawn.",
              "The number of significant digits used for printing", "Octave is compatible with MATLAB", "See Also Section Below.",
              "R_LIBS_USER and R_LIBS_SITE")
    assert all(is_heading(t) for t in headings) and not any(is_heading(t) for t in others)


def test_a_quote_goes_on_with_the_next_sentence_of_its_paragraph_only():
    text = ("The vectorization requirement can be used to speed up the integrand. Note that in the current "
            "implementation n will be either 15 or 21.\n\nThe ex argument is a pointer passed down.")
    spans = np.asarray([(s.start, s.end) for s in split_sentences(text)], dtype=np.int64)
    topic = _passage(text, "The vectorization requirement can be used to speed up the integrand.", 1.0)
    detail = _passage(text, "Note that in the current implementation n will be either 15 or 21.", 0.5)
    assert quoted(topic, text, spans) == (f'{QUOTED_PREFIX}"The vectorization requirement can be used to speed up '
                                          'the integrand. Note that in the current implementation n will be either '
                                          '15 or 21."')
    assert quoted(detail, text, spans) == f'{QUOTED_PREFIX}"{detail.text}"', "a blank line ends the paragraph"
    assert quoted(topic) == f'{QUOTED_PREFIX}"{topic.text}"', "without the document, the passage alone"


def test_a_quote_that_does_not_end_a_sentence_goes_on_with_what_it_introduces():
    text = ("OpenMP needs flags when linking.\n\nFor a package with Fortran code using OpenMP the appropriate lines are\n"
            "PKG_FFLAGS = $(SHLIB_OPENMP_FFLAGS)\nPKG_LIBS = $(SHLIB_OPENMP_CFLAGS)\n"
            "as the C compiler will be used to link the package code.\n\nThe next paragraph is not quoted.")
    spans = np.asarray([(s.start, s.end) for s in split_sentences(text)], dtype=np.int64)
    intro = _passage(text, "For a package with Fortran code using OpenMP the appropriate lines are", 1.0)
    assert quoted(intro, text, spans) == (
        f'{QUOTED_PREFIX}"For a package with Fortran code using OpenMP the appropriate lines are PKG_FFLAGS = '
        '$(SHLIB_OPENMP_FFLAGS) PKG_LIBS = $(SHLIB_OPENMP_CFLAGS) as the C compiler will be used to link the '
        'package code."')
    assert quoted(intro) == f'{QUOTED_PREFIX}"{intro.text}"', "without the document, the passage alone"
    finished = _passage(text, "OpenMP needs flags when linking.", 1.0)
    assert quoted(finished, text, spans) == f'{QUOTED_PREFIX}"OpenMP needs flags when linking."'
    contents = "1.2 Installing . . . . . . 4\n1.3 Running . . . . . . 7\n1.4 Stopping . . . . . . 9"
    entry = _passage(contents, "1.2 Installing . . . . . . 4", 1.0)
    contents_spans = np.asarray([(s.start, s.end) for s in split_sentences(contents)], dtype=np.int64)
    assert quoted(entry, contents, contents_spans) == f'{QUOTED_PREFIX}"1.2 Installing"', "contents stay alone"


def test_contents_index_entries_and_headings_never_make_the_answer_context():
    text = ("2.3 Default limits . . . . . . . . . . . 41\n\nlimit, 41, 97, 212\n\nChapter 9: Setting limits\n170\n\n"
            "The limit is set to ten by default. Other text follows here now.")
    contents = _passage(text, "2.3 Default limits . . . . . . . . . . . 41", 1.0)
    index_entry = _passage(text, "limit, 41, 97, 212", 0.9)
    heading = _passage(text, "Chapter 9: Setting limits\n170", 0.8)
    sentence = _passage(text, "The limit is set to ten by default.", 0.5)
    spans = np.array([[s.start, s.end] for s in split_sentences(text)])
    passages = [contents, index_entry, heading, sentence]
    context = answer_context(text, spans, passages, _WordTokenizer(), 200, neighbours=False)
    assert context.text == "The limit is set to ten by default." and context.best == sentence


@pytest.mark.parametrize(("reply", "unhelpful"), [
    ("The document is a helpful AI assistant designed to provide concise answers.", True),
    ("I'm sorry, the passages do not say.", True),
    ("", True),
    ("What is the default limit?", True),  # the question repeated
    ("The moon is made of cheese.", True),  # nothing from the passages
    ("The default limit is ten.", False),
    ("ten", False),
    ("10", True),  # the passages say "ten", not "10": a number they do not hold is treated as made up
    ("The default limit is ten.", False),
    ("It is 0.5 by default.", True),
    ("Is the limit ten by default?", True),  # a question is not an answer
    ("The passage provides a brief explanation of the default limit.", True),  # describes instead of answering
    ("The passage states that the limit is ten by default.", False),  # an answer, however worded
    ("The passage is about the default limit.", True),
    ("The limit that is set by default is the limit that is set by default.", True),  # going round
    ("The limit is ten by default; set limit changes the limit.", False),  # words again, not a loop
    ("2.3 Default limits", True),  # a section heading copied
    ("2.3.1 Set limit:", True),
    ("The default limit is:", True),  # an introduction to nothing (its answer was never written)
    ("The answer is:", True),
    ("1. 1.1.1.1.1.1.1.1.1.1.1.1.", True),  # decoding gone astray, though "1" might be in the passages
])
def test_unhelpful_answers_are_recognised(reply, unhelpful):
    context = "The limit is set to ten by default. Use set limit to change it. Unlimited means 0."
    assert is_unhelpful(reply, "What is the default limit?", context) == unhelpful


@pytest.mark.parametrize("reply, unhelpful", [
    ("The shell gives HISTSIZE after reading the startup files.", True),  # the question restated, other word forms
    ("The shell gives the HISTSIZE value after it reads the startup files.", True),
    ("The shell sets HISTSIZE to 500 after reading the startup files.", False),
])
def test_a_reply_restating_the_question_in_other_word_forms_is_no_answer(reply, unhelpful):
    context = "HISTSIZE The maximum number of commands to remember. The shell sets the default value to 500 after reading any startup files."
    question = "What default value does the shell give HISTSIZE after reading the startup files?"
    assert is_unhelpful(reply, question, context) == unhelpful


def test_an_answer_leans_elsewhere_when_a_lesser_passage_holds_more_of_its_own_words():
    best = Passage(0, 10, 1.0, "You will need Bison if you modify the parser source file.")
    other = Passage(20, 30, 0.6, "If you plan to modify the lexer you will also need GNU flex.")
    question = "Which tool do you need if you modify the parser source?"
    assert leans_elsewhere("The tool you need is GNU flex.", question, [best, other])
    assert not leans_elsewhere("You need Bison.", question, [best, other])
    assert not leans_elsewhere("The tool you need is GNU flex.", question, [best])  # nothing to lean on
    assert not leans_elsewhere("You need the parser source.", question, [best, other])  # only the question's words
    tie = Passage(40, 50, 0.3, "Bison and flex are both needed.")
    assert not leans_elsewhere("You need Bison.", question, [best, tie])  # as much in the best: no lean


@pytest.mark.parametrize("question", [
    "What is the default rotation angle about the x axis?",
    "How far do the whiskers of a boxplot extend by default?",
    "When gnuplot writes a moving GIF, how long does each image linger, out of the box?",
    "Which symbol separates the sort key from the text, unless configured otherwise?",
    "Without a size modifier, how wide are whole numbers read?",
    "What do the variables' names begin with, unless the name option is used?",
    "Why isn't the tally of references turned on automatically?",
    "If I don't pick one myself, which clef starts every staff?",
    "Which generator does it use when nobody has picked one?",
    "Which shortcuts does the line editor use when the user has configured nothing?",
    "Where is the history kept, absent any configuration?",
    "What goes into the file's metadata with no extra setup?",
    "If I choose no theme at all, what does the class fall back to?",
    "How many points are drawn if no sample count is given?",
    "What is the initial frame colour of a box?",
    "What value does the timeout have if left unset?",
])
def test_questions_about_a_default_are_recognised(question):
    assert asks_for_default(question)


@pytest.mark.parametrize("question", [
    "Which file do you add a line to so that the JVM starts with 64 megabytes of initial memory?",
    "Who motivated the creation of the poster library?",
    "How do I plot without a terminal?",
    "Which commands do not change the current page?",
    "What happens when I want the figure to stay in place?",
    "Who picked the name of the project?",
])
def test_other_questions_are_not_taken_for_questions_about_a_default(question):
    assert not asks_for_default(question)


def test_a_question_about_a_default_is_answered_from_a_passage_that_states_one():
    text = ("The rotation angles are set by the view command. They control the view of the surface. "
            "The angle is bounded to the range 0 to 180 with a default of 60 degrees. Other text follows here.")
    spans = _sentence_spans(text)
    intro = _passage(text, "The rotation angles are set by the view command.", 1.0)
    states = _passage(text, "The angle is bounded to the range 0 to 180 with a default of 60 degrees.", 0.6)
    passages = [intro, states]
    asked = answer_context(text, spans, passages, _WordTokenizer(), 200, question="What is the default angle?")
    assert asked.best == states and asked.ranked[0] == states
    assert asked.text.split("\n\n")[-1].startswith("They control the view"), "the fitting passage comes last"
    other = answer_context(text, spans, passages, _WordTokenizer(), 200, question="What sets the rotation angles?")
    assert other.best == intro, "a question about something else keeps the order by score"
    unasked = answer_context(text, spans, passages, _WordTokenizer(), 200)
    assert unasked.best == intro


def test_a_passage_stating_a_default_is_looked_for_only_among_the_few_best():
    text = " ".join(f"Sentence number {i} says little of note." for i in range(12)) + " The default is five."
    ranked = [_passage(text, f"Sentence number {i} says little of note.", 1.0 - i / 20) for i in range(12)]
    far = _passage(text, "The default is five.", 0.1)
    assert fitting_first("What is the default?", [*ranked, far]) == [*ranked, far]
    assert fitting_first("What is the default?", [*ranked, far], within=13)[0] == far


@pytest.mark.parametrize(("question", "asks"), [
    ("How many bars does a double chant have?", True),
    ("When xindy is the indexer, how many page references make a range?", True),
    ("What is the biggest point size of the bitmap fonts?", True),
    ("What is the maximum number of arguments to .C?", True),
    ("Which option controls how long the shell waits?", False),
    ("Which package does the skins library load?", False),
    ("What is the most common use of the poster library?", False),
    ("Titles may be cut to how many characters?", True),
    ("Under how many pairs is the p-value exact?", True),
    ("What share of the page do the earlier sheets fill?", True),
    ("What sets how many lines the shell remembers?", False),
])
def test_questions_about_a_quantity_are_recognised(question, asks):
    assert asks_for_quantity(question) == asks


@pytest.mark.parametrize(("text", "expected"), [
    ("The bitmap fonts only go up to 25pt.", {"25pt"}),
    ("There are 72.27 points to an inch, and 1,000 of them.", {"72.27", "1,000"}),
    ("Slovenian has four plural forms.", {"four"}),
    ("Signals SIGUSR1 and SIGUSR2 on x86_64.", set()),  # parts of names
    ("It converts to UTF-8, ISO-8859-1 or x86-64 code in a 24-bit mode.", {"24"}),  # names joined by hyphens
    ("Not by points; for example not 7pt.1 The actual size varies.", set()),  # a footnote mark after a unit
    ("18 see Section 5.15 [Character encoding], page 180, for why.", set()),  # a footnote and references
    ("It loads tikz [22] and one of the other libraries.", set()),  # a citation; "one" is no quantity
    ("It must do for(i in 1:n) x[i] := f(x[i]) in a 3:2 frame.", {"3", "2"}),  # a range in code is no quantity
])
def test_numbers_are_quantities_standing_alone(text, expected):
    assert numbers(text) == expected


def test_a_question_about_a_quantity_is_answered_from_a_passage_with_a_number_it_does_not_hold():
    text = ("Which two of them depend on the class option. The bitmap fonts were drawn by Knuth in 1 size. "
            "They only go up to 25pt at most.")
    spans = _sentence_spans(text)
    words = _passage(text, "Which two of them depend on the class option.", 1.0)
    asked = _passage(text, "The bitmap fonts were drawn by Knuth in 1 size.", 0.9)
    figure = _passage(text, "They only go up to 25pt at most.", 0.5)
    question = "How many sizes, from 1 up, do the bitmap fonts come in?"
    assert fitting_first(question, [words, asked, figure]) == [figure, words, asked], "a figure first"
    assert fitting_first(question, [words, asked]) == [words, asked], "a number word when no new figure"
    assert fitting_first(question, [asked]) == [asked], "the question's own number is no answer"
    chosen = answer_context(text, spans, [words, asked, figure], _WordTokenizer(), 200, question=question)
    assert chosen.best == figure


@pytest.mark.parametrize(("question", "asks"), [
    ("After running dpkg-reconfigure, which file gets the updated parameters?", True),
    ("Which startup files does a login shell read last?", True),
    ("Which system header must be available to use R_ext/eventloop.h?", True),
    ("Which package does the skins library load?", False),
    ("How do I write the plot to a file?", False),
])
def test_questions_about_a_file_are_recognised(question, asks):
    assert asks_for_file(question) == asks


@pytest.mark.parametrize(("text", "expected"), [
    ("It updates \u201d/etc/default/keyboard\u201d and ~/.zshrc.", {"/etc/default/keyboard", "~/.zshrc"}),
    ("Note that the header sys/select.h is needed, and java.opts too.", {"sys/select.h", "java.opts"}),
    ("Read and/or write, e.g. twice, i.e. often; call foo.bar() in version 2.1.", set()),
])
def test_file_names_are_paths_and_names_with_an_extension(text, expected):
    assert file_names(text) == expected


def test_a_question_about_a_file_is_answered_from_a_passage_naming_another_file():
    text = ("The keyboard is configured with the keyboard-configuration package. Its header R_ext/kb.h says so. "
            "This updates the parameters in /etc/default/keyboard for the console.")
    package = _passage(text, "The keyboard is configured with the keyboard-configuration package.", 1.0)
    asked = _passage(text, "Its header R_ext/kb.h says so.", 0.9)
    path = _passage(text, "This updates the parameters in /etc/default/keyboard for the console.", 0.4)
    question = "Besides R_ext/kb.h, which file gets the keyboard's parameters?"
    assert fitting_first(question, [package, asked, path]) == [path, package, asked]
    assert fitting_first(question, [package, asked]) == [package, asked], "the question's own file is no answer"


def test_the_sentences_that_can_answer_a_question_are_those_of_its_most_telling_test():
    texts = ["The delay is set in hundredths of a second.", "The delay defaults to 5.", "Frames loop twice."]
    assert fitting_sentences("How long is the delay between frames, out of the box?", texts) == [False, True, False]
    figures = ["Frames loop twice.", "Up to 25pt.", "See Section 4."]
    assert fitting_sentences("How many times do frames loop?", figures) == [False, True, False], "figures first"
    words = ["Frames loop three times.", "See Section 4.", "Frames loop."]
    assert fitting_sentences("How many times do frames loop?", words) == [True, False, False], "then number words"
    assert fitting_sentences("Which file holds the keyboard settings?", ["Edit /etc/default/keyboard."]) == [True]
    assert fitting_sentences("Why do frames loop?", texts) is None, "a question asking for nothing in particular"
    assert fitting_sentences("What is the default delay?", ["Frames loop."]) is None, "no sentence fits"
    waits = ["Editing is on by default.", "The delay is 5 seconds.", "Its default is 0.4 sec."]
    assert fitting_sentences("How long does it wait by default?", waits) == [False, False, True], "a default and a number"
    assert fitting_sentences("How long does it wait by default?", waits[:2]) == [True, False], "then any default"
    files = ["By default it is on.", "The index goes into jobname.idx by default."]
    assert fitting_sentences("Which file gets the index by default?", files) == [False, True], "a default and a file"


def test_a_documents_sentence_facts_are_read_once_and_serve_each_question(monkeypatch):
    text = "The delay defaults to 5. Frames loop twice. Edit /etc/default/keyboard. Up to 25pt."
    words = lexical_index(text, split_sentences(text))
    facts = sources.sentence_facts(text, words)
    assert sources.sentence_facts(text, words) is facts, "the same document's facts are kept"
    read = []
    monkeypatch.setattr(answer_kind, "numbers", lambda sentence: read.append(sentence) or set())
    facts.fitting("How many times do frames loop?")
    facts.fitting("How many points make an inch?")
    assert len(read) == len(words.spans) + 2, "every sentence's numbers once, then only each question's"
    other = "Nothing here states a default."
    assert sources.sentence_facts(other, lexical_index(other, split_sentences(other))) is not facts


def test_a_documents_sentence_facts_go_when_its_lexical_index_goes():
    text = "The delay defaults to 5. Frames loop twice."
    words = lexical_index(text, split_sentences(text))
    facts = weakref.ref(sources.sentence_facts(text, words))
    del words
    for other in ("One more document.", "And another one.", "A third one to fill the cache."):
        lexical_index(other, split_sentences(other))  # the lexical cache keeps the last few documents only
    gc.collect()
    assert facts() is None, "facts kept beside an index the lexical cache has let go would hold it in memory"
