"""qa.answer.confidence: what gives away an answer sentence that answers another question."""

from __future__ import annotations

import pytest

from qa.answer import answering
from qa.answer.confidence import (
    confidence_doubt,
    is_bare_group,
    names_in,
    question_names,
)
from qa.answer.phrase_patterns import speaks_of_the_future
from qa.answer.question_kind import asks_about_the_future
from qa.index.lexical import words
from qa.types import Hit

UN = "Olivier Salgado spoke for the UN mission. It currently has about 12,000 troops."
SAHEL = "There are 25,000 foreign troops in the Sahel, including around 4,300 French soldiers."
DEPLOYED = "France initially deployed troops against militants in Mali in 2013."
PLANS = "They agreed to set out plans on how to remain in the region by June 2022."


def hit(passage: str, sentence: str | None = None, score: float = 0.9) -> Hit:
    """A hit whose answer sentence is ``sentence`` (the passage's last one by default)."""
    sentence = sentence or passage.split(". ")[-1]
    start = passage.index(sentence)
    return Hit(
        passage, score, "a.txt", "T", 0, len(passage), sentence, start, start + len(sentence)
    )


def doubt(question: str, passage: str) -> str | None:
    found = hit(passage)
    return confidence_doubt(question, found, answering.quote(question, found))


@pytest.mark.parametrize(
    ("question", "passage", "expected"),
    [
        # A name the question uses that the passage never mentions, in any form.
        ("How many troops does Niger have?", UN, "names"),
        ("How many troops does the UN have in Niger?", UN, "names"),  # one of two is enough
        ("How many troops does the UN have?", UN, None),
        ("How many troops does France have in the Sahel?", SAHEL, None),  # French, France
        ("How many Malian troops are there?", "Malians and Mali: 5 troops.", None),
        ("how many troops does niger have", UN, None),  # lower case: no names to check
        ("How many troops were there in 2019?", SAHEL, "names"),  # a number is a name too
        # A who-question answered by a lone plural noun for people.
        ("Who fought alongside France against the militants?", DEPLOYED, "bare group"),
        # A question about what will happen, a sentence about what is.
        ("How many French troops will stay in the Sahel?", SAHEL, "not the future"),
        ("How many soldiers does the UN plan to withdraw?", UN, "not the future"),
        ("When will the allies set out their plans?", PLANS, None),
        ("How many French soldiers are in the Sahel?", SAHEL, None),
    ],
)
def test_what_gives_an_answer_away(question, passage, expected):
    assert doubt(question, passage) == expected


def test_a_doubted_answer_is_never_confident_however_high_it_scores():
    question, found = "How many troops does Niger have?", hit(UN, score=1.0)
    answer = answering.quote(question, found)
    assert answer.key == "about 12,000 troops"  # a count of troops, as asked ...
    assert answering.is_confident([found], answer)  # ... confident by score and kind alone
    assert not answering.is_confident([found], answer, question)  # but the UN's, not Niger's


def test_the_names_of_a_question():
    assert question_names("How many troops does the UN have in West Africa?") == [
        ["UN"],
        ["West", "Africa"],
    ]
    assert question_names("Did Macron's troops stay in 2013?") == [["Macron"], ["2013"]]
    assert question_names("What Did Macron Say?") == []  # Title Case: acronyms and numbers
    assert question_names("who is olivier salgado") == []


@pytest.mark.parametrize(
    ("name", "text", "named"),
    [
        ("Mali", "Malian troops", True),
        ("Russia", "Russian contractors", True),
        ("Italy", "Italian troops", True),
        ("France", "4,300 French soldiers", True),  # an irregular demonym
        ("Macrons", "Macron said", True),
        ("Niger", "Nice is in France", False),
        ("Chad", "the UN mission", False),
    ],
)
def test_a_name_is_found_in_its_other_forms(name, text, named):
    assert names_in(name, set(words(text))) is named


def test_a_bare_group_is_a_lone_plural_noun_for_people():
    assert is_bare_group("troops") and is_bare_group("militants")
    assert not is_bare_group("the ruling junta")
    assert not is_bare_group("Russian private military contractors")
    assert not is_bare_group("Olivier Salgado")
    assert not is_bare_group("junta")  # a singular group is one group


def test_questions_and_sentences_about_the_future():
    assert asks_about_the_future("How many troops will stay?")
    assert asks_about_the_future("How many soldiers does MINUSMA plan to withdraw?")
    assert not asks_about_the_future("How many soldiers have the plans cost?")
    assert not asks_about_the_future("When was the deadline to set out plans?")
    assert speaks_of_the_future(PLANS)
    assert speaks_of_the_future("The junta proposed holding power until 2025.")
    assert speaks_of_the_future('The pullout is "bound to impact" the mission.')
    assert speaks_of_the_future("We'll stay.")
    assert not speaks_of_the_future(SAHEL)
