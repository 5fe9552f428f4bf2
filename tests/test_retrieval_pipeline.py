"""The InfiniRetri loop on the tiny model: provenance, progress, cancel, streaming."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from app.documents import split_sentences
from app.retrieval.generation import QUOTED_PREFIX, generate_text
from app.retrieval.pipeline import answer, answer_from_passages, retrieve
from app.retrieval.types import Cancelled, CancelToken, Passage, Progress, RetrievalSettings

SETTINGS = RetrievalSettings(window_tokens=256, top_k=40, max_new_tokens=12)


def scripted(loaded, generated: list[int]):
    """The loaded model with its generation replaced: it always replies with the token ids `generated`."""

    class Scripted:
        def generate(self, input_ids, **kwargs):
            return torch.cat([input_ids, torch.tensor([generated])], dim=1)

    return replace(loaded, model=Scripted())


def test_passages_point_at_their_exact_text(tiny_model, haystack):
    text = haystack[:20000]
    result = retrieve(text, split_sentences(text), "Who made the firmament?", tiny_model, SETTINGS)
    assert result.passages
    for passage in result.passages:
        assert text[passage.start : passage.end] == passage.text
        assert 0.0 <= passage.score <= 1.0
    assert [p.start for p in result.passages] == sorted(p.start for p in result.passages)
    assert max(p.score for p in result.passages) == 1.0


def test_windows_cover_the_document_in_order(tiny_model, haystack):
    text = haystack[:20000]
    result = retrieve(text, split_sentences(text), "Who made the firmament?", tiny_model, SETTINGS)
    assert result.stats["windows"] == len(result.windows) > 5
    assert result.windows[0].start == 0
    assert result.windows[-1].end == len(text.rstrip())
    assert all(a.end < b.start for a, b in zip(result.windows, result.windows[1:]))
    assert max(w.score for w in result.windows) == 1.0


def test_progress_is_reported_after_every_window(tiny_model, haystack):
    text = haystack[:12000]
    reports: list[Progress] = []
    result = retrieve(text, split_sentences(text), "Where is Eden?", tiny_model, SETTINGS, reports.append)
    scored = [r for r in reports if r.stage == "retrieving"]
    assert [r.done for r in scored] == list(range(1, len(result.windows) + 1))
    assert all(r.total == len(result.windows) and r.window is not None for r in scored)
    assert scored[-1].eta_seconds == 0


def test_cancel_stops_between_windows(tiny_model, haystack):
    text = haystack[:30000]
    cancel = CancelToken()
    seen: list[int] = []

    def on_progress(progress: Progress) -> None:
        if progress.stage == "retrieving":
            seen.append(progress.done)
            cancel.cancel()

    with pytest.raises(Cancelled):
        retrieve(text, split_sentences(text), "Where is Eden?", tiny_model, SETTINGS, on_progress, cancel)
    assert seen == [1]


def test_answer_streams_the_text_it_returns(tiny_model, haystack):
    text = haystack[:6000]
    pieces: list[str] = []
    result = answer(text, split_sentences(text), "Where is Eden?", tiny_model, SETTINGS, on_token=pieces.append)
    assert pieces, "tokens were streamed"
    if result.stats["answer_source"] == "model":
        assert "".join(pieces).strip().rstrip("\ufffd") == result.answer.rstrip("\ufffd")
    else:  # the random model's babble shares no word with the passages: the best one is quoted instead
        best = result.passages[result.stats["best_passage"]]
        assert result.answer.startswith(f'From the document: "{" ".join(best.text.split())}')
    assert result.stats["generation_seconds"] >= 0
    assert result.to_json()["passages"][0]["page"] is None


def test_an_empty_question_is_rejected(tiny_model):
    with pytest.raises(ValueError):
        retrieve("Some text.", split_sentences("Some text."), "  ", tiny_model)


def test_a_looping_answer_is_detected_and_a_varied_one_is_not():
    from app.retrieval.generation import is_looping

    assert is_looping([5, 6, 7] + [10, 11, 12] * 10)
    assert is_looping([3] * 30)
    assert not is_looping(list(range(40)))
    assert not is_looping([10, 11] * 5)  # too short to call a loop


@pytest.mark.parametrize(("generated", "stuck"), [([7, 8, 9] * 12, True), (list(range(20, 60)), False)])
def test_an_answer_stuck_in_a_loop_is_no_answer(tiny_model, generated, stuck):
    """What decoding says before the stop on loops ends it (". . . . .") is returned as no answer, so the
    answer step quotes the best passage instead; a varied answer comes back as text."""
    reply = generate_text(scripted(tiny_model, generated), "Some passage.", "What?")
    assert (reply == "") == stuck
    if not stuck:
        assert reply == tiny_model.tokenizer.decode(generated, skip_special_tokens=True).strip().split("\n\n")[0].strip()


@pytest.mark.parametrize(("words", "stop", "expected"), [
    (["The", "default", "delay", "is", "five", "hundredths.", "It", "can", "be", "changed."], "It",
     "The default delay is five hundredths."),
    (["The", "delay:", "five", "hundredths\n\n", "Next", "heading"], "hundredths\n\n", "The delay: five hundredths"),
])
def test_decoding_stops_once_the_first_sentence_or_paragraph_is_over(tiny_model, words, stop, expected):
    """Decoding is stopped at the first word of a second sentence (not in the reply) or at a blank line."""
    stopped_at: list[str] = []

    class Recorder:
        def generate(self, input_ids, stopping_criteria, **kwargs):
            said: list[int] = []
            for word in words:
                said += tiny_model.tokenizer(" " + word if said else word, add_special_tokens=False)["input_ids"]
                row = torch.cat([input_ids, torch.tensor([said])], dim=1)
                if bool(stopping_criteria[-1](row, None)[0]):
                    stopped_at.append(word)
                    break
            return row

    reply = generate_text(replace(tiny_model, model=Recorder()), "Some passage.", "What?")
    assert stopped_at == [stop]
    assert reply == expected


@pytest.mark.parametrize(("reply", "because"), [
    ("One and a half box lengths beyond it.", ""),  # in its own words, nearer the best passage than the other
    ("The whiskers extend to the maximum value of the data.", "elsewhere"),  # what a lesser passage says
    ("The whiskers extend to 1.5 times the interquartile range.", "restates"),  # the best passage said again
    ("The whiskers extend to 1.5 times the standard deviation of the box.", "restates"),  # ... with a detail changed
])
def test_an_answer_leaning_on_a_lesser_passage_or_restating_the_best_gives_way_to_the_best_one_quoted(
        tiny_model, reply, because):
    """The model's words are checked against the passages it was given: when a passage ranked below the best
    one holds more of them than the best one does, or when most of them are the best passage's, the best
    passage is quoted instead, and the stats say why."""
    source = "evidence" if because else "model"
    best_text = "By default the whiskers extend to 1.5 times the interquartile range of the box."
    other_text = "Points beyond the maximum value of the data are drawn as outliers."
    text = f"{best_text} {other_text}"
    sentences = split_sentences(text)
    passages = [Passage(0, len(best_text), 1.0, best_text), Passage(len(best_text) + 1, len(text), 0.5, other_text)]
    generated = tiny_model.tokenizer(reply, add_special_tokens=False)["input_ids"]
    result = answer_from_passages(text, sentences, passages, "How far do the whiskers extend?",
                                  scripted(tiny_model, generated))
    assert result.stats["answer_source"] == source
    assert result.stats["best_passage"] == 0
    if source == "evidence":
        assert result.stats["quoted_because"] == because
        assert result.text.startswith(QUOTED_PREFIX) and "1.5 times the interquartile" in result.text
    else:
        assert result.text == reply and "quoted_because" not in result.stats


_PREFIX = 'The name option causes the default prefix "STATS" to be replaced by a user-specified string.'
_PREFIX_Q = "What do the variable names begin with, unless the name option is used?"
_SIZE = "The bitmap fonts only go up to 25pt."
_KEYBOARD = "This updates the parameters in /etc/default/keyboard for the console."


@pytest.mark.parametrize(("best_text", "question", "reply", "because"), [
    (_PREFIX, _PREFIX_Q, "Variable names start with STATS by convention.", ""),
    (_PREFIX, _PREFIX_Q, "Variable names start with an option string chosen freely.", "misses"),  # not the default
    (_SIZE, "What is the biggest point size?", "Bitmap sizes stop at 25pt in practice.", ""),
    (_SIZE, "What is the biggest point size?", "Bitmap sizes vary widely.", "misses"),  # no figure
    (_KEYBOARD, "Which file holds the keyboard settings?", "Keyboard layouts live in /etc/default/keyboard on Debian.",
     ""),
    (_KEYBOARD, "Which file holds the keyboard settings?", "Console layouts live in a folder on Debian.", "misses"),
    (_SIZE, "Why are bitmap fonts limited?", "Bitmap sizes vary widely.", ""),  # asks for nothing in particular
])
def test_an_answer_without_what_the_question_asks_for_gives_way_to_the_best_passage_quoted(
        tiny_model, best_text, question, reply, because):
    """A question about a default, a quantity or a file whose best passage offers one: an answer holding none
    of what it offers is replaced by the passage, quoted."""
    sentences = split_sentences(best_text)
    passages = [Passage(0, len(best_text), 1.0, best_text)]
    generated = tiny_model.tokenizer(reply, add_special_tokens=False)["input_ids"]
    result = answer_from_passages(best_text, sentences, passages, question, scripted(tiny_model, generated))
    assert result.stats.get("quoted_because", "") == because
    assert result.text.startswith(QUOTED_PREFIX) if because else result.text == reply
