"""Questions not in English (qa.answer.language): refused with the language named, nothing
quoted, through ``Retriever.ask`` and ``ask_batch``; every English question of the
question sets stays English, short ones and French names included."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from conftest import ROOT

import qa
from qa.answer.language import MIN_WORDS, NAMES, detect, not_english, word_count
from qa.cli import DEFAULT_FOLLOWUPS, DEFAULT_QUESTIONS

FOUR = ("French", "Spanish", "German", "Italian")


def _rows(name: str) -> list[dict]:
    return [
        json.loads(line)
        for line in (ROOT / "qa" / "evaluation" / "sets" / name).read_text("utf-8").splitlines()
    ]


def english_questions() -> list[str]:
    """Every question, and every earlier question of a follow-up, of both question
    sets, and the English rows of tests/data/languages.jsonl."""
    found: dict[str, None] = {}
    for row in _rows(DEFAULT_QUESTIONS) + _rows(DEFAULT_FOLLOWUPS):
        found.update(dict.fromkeys([*row.get("history", []), row["question"]]))
    found.update(dict.fromkeys(r["question"] for r in LANGUAGES if r["language"] == "English"))
    return list(found)


LANGUAGES = _rows(ROOT / "tests" / "data" / "languages.jsonl")
OTHERS = [r for r in LANGUAGES if r["language"] != "English"]


def test_every_english_question_of_the_question_sets_stays_english() -> None:
    english = english_questions()
    assert len(english) > 300
    for short in ("Takuba?", "And France?", "Why?", "MINUSMA?", "What is Barkhane?"):
        assert short in english
    refused = {q: not_english(q) for q in english}
    assert [q for q, language in refused.items() if language is not None] == []


def test_the_data_holds_four_languages_and_more() -> None:
    count = Counter(r["language"] for r in OTHERS)
    assert all(count[language] >= 10 for language in FOUR), count
    assert len(set(count) - set(FOUR)) >= 5
    assert set(count) <= set(NAMES.values())


def test_questions_in_other_languages_are_caught_and_named_right() -> None:
    """Almost all are refused, each in its own language, and none in the wrong one."""
    said = [(r["language"], not_english(r["question"])) for r in OTHERS]
    assert [(want, got.name) for want, got in said if got and got.name != want] == []
    for language in FOUR:
        mine = [got for want, got in said if want == language]
        assert sum(got is not None for got in mine) >= 0.8 * len(mine), language
    assert sum(got is not None for _, got in said) >= 0.9 * len(said)


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Quand la France quittera-t-elle le Mali ?", "French"),
        ("¿Cuántos soldados tiene la ONU en Malí?", "Spanish"),
        ("Wie viele Soldaten hat Frankreich in Mali?", "German"),
        ("Perché la Francia lascia il Mali?", "Italian"),
    ],
)
def test_a_question_in_another_language_is_told_so_and_not_answered(
    real_retriever: qa.Retriever, question: str, language: str
) -> None:
    answer = real_retriever.ask(question)
    assert (answer.kind, answer.found, answer.confident) == ("not_english", False, False)
    assert answer.answer is None and answer.passages == () and answer.overview == ()
    assert answer.language == language
    assert answer.message.startswith(f"This question looks like {language}.")
    assert "English" in answer.message and "What is this article about?" in answer.message
    data = answer.to_dict()
    assert (data["kind"], data["found"], data["language"]) == ("not_english", False, language)
    assert data["answer"] is None and data["passages"] == []
    # A batch (the app's HTTP ask goes through one) says the same.
    batch = real_retriever.ask_batch([question, "How many troops does the UN have in Mali?"])
    assert batch[0] == answer
    assert (batch[1].kind, batch[1].found) == ("answer", True)


def test_search_still_searches_a_question_in_another_language(real_retriever) -> None:
    """``search`` ranks passages and never refuses (its docstring says so)."""
    hits = real_retriever.search("Combien de soldats sont au Mali ?", k=2)
    assert len(hits) == 2


def test_short_or_unsure_questions_are_searched_as_usual() -> None:
    assert word_count("Takuba?") == 1 and word_count("Coup d'état in Mali?") == 5
    assert word_count("法国在马里有多少士兵？") == 10  # each character of an unspaced script
    for question in ("Takuba?", "¿Por qué?", "Und Frankreich?", "Coup d'état in Mali?"):
        assert not_english(question) is None, question
    assert word_count("¿Por qué?") < MIN_WORDS
    assert detect("Wie viele Soldaten hat Frankreich in Mali?").code == "de"
    assert detect("How many soldiers does France have in Mali?").name == "English"
