"""qa.answer.conversation: follow-ups completed from the questions before them, and questions
that stand alone left exactly as typed. No model: these are the rules themselves."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.answer.conversation import MAX_HISTORY, read_in_context
from qa.cli import DEFAULT_FOLLOWUPS, DEFAULT_QUESTIONS
from qa.evaluation.quality import load_questions

UN = "How many troops does the UN have in Mali?"


@pytest.mark.parametrize(
    ("history", "question", "read_as"),
    [
        # Ellipsis: the new thing takes the place of the subject or of the place.
        ([UN], "And France?", "How many troops does France have in Mali?"),
        ([UN], "What about in the Sahel?", "How many troops does the UN have in the Sahel?"),
        (["Why is France leaving Mali?"], "What about the UN?", "Why is the UN leaving Mali?"),
        ([UN], "Takuba?", "How many troops does Takuba have in Mali?"),
        (
            ["How many foreign troops are in the Sahel?"],
            "What about French ones?",
            "How many French troops are in the Sahel?",
        ),
        # Not a place: added, not put in the place of "in Mali".
        (
            ["How many French soldiers died in Mali?"],
            "In total?",
            "How many French soldiers died in Mali in total?",
        ),
        # A bare question word takes the earlier question's frame.
        (
            ["Where will the allies stay engaged?"],
            "By when?",
            "By when will the allies stay engaged?",
        ),
        (
            ["What new plans were announced on Thursday?"],
            "Why?",
            "Why were new plans announced on Thursday?",
        ),
        # Pronouns, by role and agreement: a person for "he", a plural for "they".
        (
            ["Who is the spokesman for MINUSMA?"],
            "What did he say?",
            "What did the spokesman for MINUSMA say?",
        ),
        (
            ["Who is Emmanuel Macron?"],
            "Did he admit failure?",
            "Did Emmanuel Macron admit failure?",
        ),
        (
            ["Why are France and its allies leaving Mali?"],
            "Where will they stay?",
            "Where will France and its allies stay?",
        ),
        (
            ["What do European countries say about the Russian contractors?"],
            "Who deployed them?",
            "Who deployed the Russian contractors?",
        ),
        (
            ["How many troops does MINUSMA have?"],
            "Who is its spokesman?",
            "Who is MINUSMA's spokesman?",
        ),
        (
            ["Which UN mission is in Mali?"],
            "How many troops does it have there?",
            "How many troops does the UN mission have in Mali?",
        ),
        # A subject pronoun with no subject before it: the earlier object (issue 21).
        (
            ["Who signed the joint statement?"],
            "When was it issued?",
            "When was the joint statement issued?",
        ),
        # "this"/"that" for a thing: after a verb, or before a participle.
        (
            ["Who signed the joint statement?"],
            "Who issued that?",
            "Who issued the joint statement?",
        ),
        (
            ["Who signed the joint statement?"],
            "When was that issued?",
            "When was the joint statement issued?",
        ),
        # An object pronoun never means its own clause's subject ("European
        # countries"): the earlier object, or the people an earlier "whom" asks about.
        (
            ["Whom has the junta deployed?"],
            "What do European countries say about them?",
            "What do European countries say about those the junta has deployed?",
        ),
        (
            ["Whom did the junta deploy?"],
            "Why do some European countries object to them?",
            "Why do some European countries object to those the junta did deploy?",
        ),
        (
            ["Who deployed the Russian contractors?"],
            "What do European countries say about them?",
            "What do European countries say about the Russian contractors?",
        ),
        # "they" after "Who ...?": the people asked about; "it" then has its antecedent
        # in the question and is left as it is.
        (
            ["Who signed the joint statement?"],
            "Why did they sign it?",
            "Why did those who signed the joint statement sign it?",
        ),
        (["Who leads MINUSMA?"], "What did he say?", "What did the one who leads MINUSMA say?"),
        # "their" before a role: the organisation or country that fills it, not the
        # troops it has; with no such name, the plural.
        (
            ["How many troops does France have in Mali?"],
            "Who is their spokesman?",
            "Who is France's spokesman?",
        ),
        (
            ["How many peacekeepers does MINUSMA have in Mali?"],
            "Who is their spokesman?",
            "Who is MINUSMA's spokesman?",
        ),
        (
            ["How many French soldiers are in the Sahel?"],
            "Who is their commander?",
            "Who is the French soldiers' commander?",
        ),
        # The most recent turn first, skipping one with nothing that agrees: "French"
        # in "French soldiers" is an adjective, not a person.
        (
            ["Who is Emmanuel Macron?", "How many French soldiers died in Mali?"],
            "What did he deny?",
            "What did Emmanuel Macron deny?",
        ),
        (
            ["Who is the spokesman for MINUSMA?", "Who is Emmanuel Macron?"],
            "What did he say?",
            "What did Emmanuel Macron say?",
        ),
        # A name used as a modifier still counts: "the UN spokesman" -> "it" = the UN.
        (
            ["Who is the UN spokesman in Mali?"],
            "How many troops does it have there?",
            "How many troops does the UN have in Mali?",
        ),
        # "there" with no place before it is dropped rather than guessed.
        (
            ["What does the UN say about France's withdrawal?"],
            "And how many troops does it have there?",
            "How many troops does the UN have?",
        ),
        # "How many of them": the group counted before, owned by its subject.
        (
            ["How many French soldiers are in the Sahel?"],
            "How many of them died in Mali?",
            "How many French soldiers died in Mali?",
        ),
        (
            ["When did France first send troops to Mali?"],
            "How many of its soldiers died there?",
            "How many of France's soldiers died in Mali?",
        ),
    ],
)
def test_follow_ups_are_completed(history, question, read_as):
    assert read_in_context(question, history) == read_as


def test_a_chain_of_follow_ups_reads_each_in_turn():
    history = [UN, "And France?"]
    assert read_in_context("How many of them died there?", history) == (
        "How many of France's troops died in Mali?"
    )


@pytest.mark.parametrize(
    "question",
    [
        "Who won the World Cup?",
        "How many French soldiers died in Mali?",
        "Why are France and its allies leaving Mali?",  # "its" has France before it
        "What has the UN said it will do in response?",
        "How many French troops lost their lives in the Barkhane operation?",
        "Why is Paris pulling its army out?",
        "How many troops are there in the Sahel?",  # "there are": no place meant
        "russian mercenries in mali",  # a keyword search, not a fragment
        "how much does the barkhane operation cost",
        "What is MINUSMA?",
        "Really?",
        "Thanks!",
        # "this"/"that" for a whole event, or as a conjunction, is not a thing.
        "Why is that?",
        "Is that true?",
        "Is it true?",
        "Why did it happen?",
        "What does the statement that France signed say?",
        # A pronoun with an antecedent before it in the question itself.
        "What do European countries say about their mission?",
        "Why did France and its allies say they were leaving?",
        "What did Macron tell reporters he rejected?",
    ],
)
def test_a_question_that_stands_alone_is_returned_exactly(question):
    assert read_in_context(question, [UN, "Who is the spokesman for MINUSMA?"]) is question


def test_no_history_no_change():
    assert read_in_context("And France?", []) == "And France?"
    assert read_in_context("What did he say?") == "What did he say?"


def test_nothing_to_borrow_leaves_the_question_alone():
    # An earlier question with no person in it gives "he" nothing to stand for.
    assert read_in_context("What did he say?", ["Why?"]) == "What did he say?"
    # A day is a name, but not of anyone "he" could be.
    assert read_in_context("What did he say?", ["What did reporters hear on Thursday?"]) == (
        "What did he say?"
    )


def test_the_shipped_question_set_is_never_rewritten_after_another_of_its_questions():
    """The main set's stand-alone questions, each after every other one: no cue, no
    change."""
    questions = [q.question for q in load_questions(DEFAULT_QUESTIONS)]
    for question in questions:
        for previous in questions:
            if previous != question:
                assert read_in_context(question, [previous]) == question, (question, previous)


def test_follow_up_set_standalone_lines_are_kept():
    for line in DEFAULT_FOLLOWUPS.read_text("utf-8").splitlines():
        item = json.loads(line)
        if item.get("standalone"):
            assert read_in_context(item["question"], item["history"]) == item["question"]


def test_history_is_cleaned_and_bounded():
    # Markup and blanks in earlier questions are cleaned away; only the last few count.
    history = ["", "  ", "<b>How many troops does the UN have in Mali?</b>"]
    assert read_in_context("And France?", history) == "How many troops does France have in Mali?"
    old = ["Who is the spokesman for MINUSMA?"] + ["What is the weather like?"] * MAX_HISTORY
    assert read_in_context("What did he say?", old) == "What did he say?"


@pytest.mark.parametrize("history", ["How many troops?", b"bytes", 42, [1, 2], [None]])
def test_history_must_be_a_list_of_strings(history):
    with pytest.raises(TypeError, match="history must"):
        read_in_context("And France?", history)


def test_none_history_is_no_history():
    assert read_in_context("And France?", None) == "And France?"  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    question=st.text(min_size=1, max_size=80),
    history=st.lists(st.text(max_size=80), max_size=4),
)
def test_any_text_gives_a_question_and_never_crashes(question, history):
    read = read_in_context(question, history)
    assert isinstance(read, str) and read
    assert read == question or read.endswith("?")


@pytest.mark.slow
def test_the_issue_21_follow_ups_find_the_right_passage_first(real_retriever):
    """Issue 21's pronoun follow-ups and the README's "And France?", on the real model
    and the real article."""

    def ask(question: str, earlier: list[str]):
        return real_retriever.ask(question, history=earlier)

    answer = ask("And France?", [UN])
    assert answer.read_as == "How many troops does France have in Mali?"
    assert "around 4,300 French soldiers" in answer.passages[0].text  # not the 2013 one
    answer = ask("What do European countries say about them?", ["Whom has the junta deployed?"])
    assert answer.read_as == "What do European countries say about those the junta has deployed?"
    assert "incompatible with their mission" in answer.passages[0].text
    # The article names no spokesman for France: read as a person means it, the reply
    # is no longer a confident "Olivier Salgado" (MINUSMA's spokesman).
    answer = ask("Who is their spokesman?", ["How many troops does France have in Mali?"])
    assert answer.read_as == "Who is France's spokesman?"
    assert not answer.confident
    answer = ask("Who is their spokesman?", ["How many peacekeepers does MINUSMA have in Mali?"])
    assert answer.read_as == "Who is MINUSMA's spokesman?"
    assert answer.confident and "Olivier Salgado" in answer.passages[0].text
    # Read right; the date ("a joint statement said on Thursday") is in a passage the
    # retriever ranks below the one that says who issued it (docs/conversation.md).
    answer = ask("When was it issued?", ["Who signed the joint statement?"])
    assert answer.read_as == "When was the joint statement issued?"
    assert "joint statement was issued" in answer.passages[0].text
