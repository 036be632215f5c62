"""qa.answer.question: a question as typed to the question read."""

from __future__ import annotations

import json

import pytest

from qa.answer.question import echo, prepare_question
from qa.limits import MAX_QUESTION_CHARS


def test_prepare_question_cleans_and_cuts():
    assert prepare_question("  Who\tleads\x00 Mali?\n") == "Who leads Mali?"
    assert len(prepare_question("x" * 100_000)) == MAX_QUESTION_CHARS


@pytest.mark.parametrize("blank", ["", "   ", "\x00\n"])
def test_prepare_question_refuses_an_empty_question(blank):
    with pytest.raises(ValueError, match="question is empty"):
        prepare_question(blank)


def test_echo_repeats_only_what_is_read_and_what_json_takes():
    assert echo("Who leads Mali?") == "Who leads Mali?"
    long = echo("x" * 5_000)
    assert len(long) == MAX_QUESTION_CHARS + 2 and long.endswith(" …")
    json.dumps(echo("a \ud800 b")).encode("utf-8")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Who \x1b[1;31mleads\x1b[0m Mali?", "Who leads Mali?"),
        ("<script>alert(1)</script>Who leads Mali?", "Who leads Mali?"),
        ("<SCRIPT type='x'>alert(1)</script >Who leads Mali?", "Who leads Mali?"),
        ("<b>Who</b> leads <i>Mali</i>?", "Who leads Mali ?"),
        ("[Who leads Mali?](javascript:alert(1))", "Who leads Mali?"),
        ("![a map](http://x/y.png) Where is Gao?", "a map Where is Gao?"),
        ("<script>alert(1)", "alert(1)"),  # an unclosed element: only the tag goes
        # Not markup: kept as typed.
        ("Is 3 < 4 and 5 > 2?", "Is 3 < 4 and 5 > 2?"),
        ("What does [sic] mean (in 2022)?", "What does [sic] mean (in 2022)?"),
        ("Who is <Macron>?", "Who is <Macron>?"),
        ("Was Mali [sic](2012) involved?", "Was Mali [sic](2012) involved?"),
        ("What does the <style> tag do?", "What does the tag do?"),
    ],
)
def test_markup_around_a_question_is_dropped(raw, clean):
    assert prepare_question(raw) == clean


def test_a_question_of_markup_only_is_empty():
    with pytest.raises(ValueError, match="question is empty"):
        prepare_question("<script>alert(1)</script><br/>")
