"""qa.answer.question_shape: the parts of a question that a follow-up borrows."""

from __future__ import annotations

import pytest

from qa.answer.question_shape import is_place, parse


def texts(phrases):
    return [p.text for p in phrases]


def test_question_phrase_auxiliary_subject_and_place():
    shape = parse("How many troops does the UN have in Mali?")
    assert shape.wh_noun is not None and shape.wh_noun.text == "troops"
    assert shape.aux is not None and shape.words[shape.aux] == "does"
    assert shape.subject is not None and shape.subject.text == "the UN"
    assert [(p, ph.text) for p, ph in shape.places] == [("in", "Mali")]
    assert texts(shape.names) == ["the UN", "Mali"]


@pytest.mark.parametrize(
    ("question", "subject"),
    [
        ("Why are France and its allies leaving Mali?", "France and its allies"),
        ("What did the junta do about the elections?", "the junta"),
        ("Who is the spokesman for MINUSMA?", "the spokesman for MINUSMA"),
        ("When did France first send troops to Mali?", "France"),
        ("How many French soldiers died in Mali?", "French soldiers"),  # the question phrase
        ("What new plans were announced on Thursday?", "new plans"),
        ("Did Macron admit failure?", "Macron"),
    ],
)
def test_subject(question, subject):
    shape = parse(question)
    assert shape.subject is not None and shape.subject.text == subject


def test_objects_and_phrases():
    shape = parse("What do European countries say about the Russian contractors?")
    assert texts(shape.objects) == ["the Russian contractors"]
    assert [p for p, _ in shape.phrases] == ["about"]


@pytest.mark.parametrize(
    ("preposition", "words", "place"),
    [
        ("in", ["Mali"], True),
        ("to", ["the", "Sahel", "region"], True),
        ("in", ["the", "region"], True),
        ("in", ["total"], False),
        ("in", ["response"], False),
        ("for", ["MINUSMA"], False),
    ],
)
def test_is_place(preposition, words, place):
    assert is_place(preposition, words) is place


def test_a_question_without_a_question_word():
    shape = parse("takuba misson members")
    assert shape.wh is None and shape.aux is None and shape.subject is None
