"""qa.answer.key_phrase: the words of an answer sentence that are the answer."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.answer.answering import expected_answer
from qa.answer.key_phrase import find_key_phrase, gives_reason, has_place
from qa.answer.question_kind import KINDS

UN = "It currently has about 12,000 troops in the country, according to its website."
SAHEL = (
    "There are a total of 25,000 foreign troops currently deployed in the Sahel region, "
    "including around 4,300 French soldiers."
)
DEATHS = (
    "Of the 53 soldiers killed serving in its Barkhane mission in West Africa, "
    "48 of them died in Mali."
)
SPOKESMAN = (
    "Olivier Salgado, the spokesman for the MINUSMA peacekeeping mission in Mali, said that "
    'the UN was studying the impact of the pullout and would "take the necessary steps to adapt."'
)
STATEMENT = (
    'A statement signed by France and its African and European allies said that "multiple '
    'obstructions" by the ruling junta meant that the conditions were no longer in place to '
    "operate in Mali."
)
MACRON = (
    "French President Emmanuel Macron said the attitudes of Mali's ruling junta had forced "
    "France to pull out and denied that its almost decade-long deployment had ended in failure."
)
RELATIONS = (
    "Relations between Paris and Bamako have deteriorated since the military junta went back "
    "on an agreement to organise elections in February and proposed holding power until 2025."
)
ENGAGED = (
    "Even after the pull-out from Mali, however, the allies vowed to remain engaged in "
    "fighting terror in other countries including Niger."
)
TAKUBA = (
    "The joint statement was issued by countries operating with France's Barkhane "
    "counter-terrorism force and the Takuba mission, which includes some 14 European nations."
)
QUOTE = (
    '"We cannot remain militarily engaged alongside de-facto authorities whose strategy and '
    'hidden aims we do not share," Macron told reporters on Thursday, adding he "completely" '
    "rejected the idea that France had failed in its former colony."
)
DEPLOYED = (
    "France initially deployed troops against militants in Mali in 2013 but the militancy "
    "was never fully quelled."
)


def key(question: str, sentence: str) -> str | None:
    found = find_key_phrase(question, sentence, expected_answer(question))
    return None if found is None else sentence[found.start : found.end]


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("How many troops does the UN have in Mali?", UN, "about 12,000 troops"),
        ("How many French soldiers are in the Sahel?", SAHEL, "around 4,300 French soldiers"),
        ("How many foreign troops are in the Sahel?", SAHEL, "a total of 25,000 foreign troops"),
        ("How many French soldiers died in Mali?", DEATHS, "48 of them"),
        ("How many soldiers of Barkhane were killed in total?", DEATHS, "53 soldiers"),
        ("Who is the spokesman for MINUSMA?", SPOKESMAN, "Olivier Salgado"),
        ("When did France first deploy troops in Mali?", DEPLOYED, "in 2013"),
        ("Until when does the junta want to hold power?", RELATIONS, "until 2025"),
        ("Where will the allies remain engaged?", ENGAGED, "including Niger"),
        ("Why is France leaving Mali?", STATEMENT, '"multiple obstructions" by the ruling junta'),
        ("Why is France pulling out?", MACRON, "the attitudes of Mali's ruling junta"),
        (
            "Why have relations between Paris and Bamako deteriorated?",
            RELATIONS,
            "since the military junta went back on an agreement to organise elections in "
            "February and proposed holding power until 2025",
        ),
    ],
)
def test_the_key_phrase_is_the_answer_the_question_asks_for(question, sentence, expected):
    assert key(question, sentence) == expected


def test_a_name_the_question_already_gives_is_not_its_answer():
    assert key("Who leads the MINUSMA mission?", "MINUSMA is led by Olivier Salgado.") == (
        "Olivier Salgado"
    )


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        # What a named thing is: its apposition, relative clause or the rest of its name.
        (
            "Who is Olivier Salgado?",
            SPOKESMAN,
            "spokesman for the MINUSMA peacekeeping mission in Mali",
        ),
        ("What is MINUSMA?", SPOKESMAN, "MINUSMA peacekeeping mission"),
        ("What does Takuba include?", TAKUBA, "includes some 14 European nations"),
        ("What is Emmanuel Macron's position?", MACRON, "French President"),
        ("What does the figure 4,300 refer to?", SAHEL, "around 4,300 French soldiers"),
        (
            "What happened in 2013?",
            DEPLOYED,
            "France initially deployed troops against militants in Mali in 2013",
        ),
        # Yes or no: the words that settle it.
        (
            "Did the French leader admit defeat?",
            MACRON,
            "denied that its almost decade-long deployment had ended in failure",
        ),
        ("Was the insurgency ever defeated?", DEPLOYED, "was never fully quelled"),
        # What someone said: the quotation, or what follows "said that".
        (
            "What did Macron tell reporters?",
            QUOTE,
            "We cannot remain militarily engaged alongside de-facto authorities whose strategy "
            "and hidden aims we do not share",
        ),
        (
            "What did Macron say about failure?",
            MACRON,
            "its almost decade-long deployment had ended in failure",
        ),
        # Who: a group of people when no name answers; the thing a "which" noun heads.
        ("Who leads Mali's government?", MACRON, "Mali's ruling junta"),
        (
            "Which mission does Olivier Salgado speak for?",
            SPOKESMAN,
            "MINUSMA peacekeeping mission",
        ),
    ],
)
def test_the_key_phrase_of_the_other_kinds(question, sentence, expected):
    assert key(question, sentence) == expected


# Sentences of a visitor's document (written for these tests): lengths, distances,
# money, percentages, durations and dates written "3 January".
TRAM = "Line 1 runs 14.2 kilometres from the central station to the airport and has 21 stops."
LAKE = (
    "Lake Halden froze over on 3 January, the earliest date since 1987, the weather office "
    "said on Monday."
)
BUDGET = (
    "The city council approved a budget of €2.4 million for the new tram line, about 12 per "
    "cent more than planned."
)
TURNOUT = "Turnout rose to 64.5 per cent, up from 58 per cent in 2019."
WORKS = "The works took three years and cost the city about $45 million."


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("How long is the new tram line?", TRAM, "14.2 kilometres"),  # not "1 runs"
        ("How far is the airport from the central station?", TRAM, "14.2 kilometres"),
        ("How many stops does the tram line have?", TRAM, "21 stops"),
        ("When did Lake Halden freeze?", LAKE, "on 3 January"),  # not "on Monday"
        ("When did the weather office say so?", LAKE, "on Monday"),  # when it was said
        (
            "When did Lake Halden freeze?",
            "It froze on Saturday 3 January 2026.",
            "on Saturday 3 January 2026",
        ),
        ("How much will the new tram line cost?", BUDGET, "€2.4 million"),
        ("What percentage of voters turned out?", TURNOUT, "64.5 per cent"),
        ("How long did the works take?", WORKS, "three years"),
        ("How much did the works cost?", WORKS, "about $45 million"),  # not "three years"
        ("How long had France been deployed in Mali?", MACRON, "almost decade-long"),
        ("How long does the junta want to hold power?", RELATIONS, "until 2025"),
    ],
)
def test_lengths_money_durations_and_dates(question, sentence, expected):
    assert key(question, sentence) == expected


@pytest.mark.parametrize(
    ("question", "sentence"),
    [
        ("How many helicopters does France have?", DEATHS),  # counts soldiers, not helicopters
        ("What is the population of Mali?", DEATHS),  # names no population
        # "until 2025" ends a stretch of time: it says nothing of when it began.
        ("When did the junta seize power?", "The junta proposed holding power until 2025."),
        (
            "Who leads Mali's government?",
            "The Mali deployment has been fraught with problems for France.",
        ),
        ("Is the French presence going away?", SAHEL),  # nothing settles it
        ("How many troops are there?", "The troops left quickly."),  # no number in it
        ("When did they leave?", "They left the country."),  # no date in it
        ("Why did they leave?", "They left the country."),  # no reason given
    ],
)
def test_no_key_phrase_when_the_sentence_holds_none_of_the_kind(question, sentence):
    assert key(question, sentence) is None


def test_a_year_is_not_a_count():
    assert key("How many troops went to Mali?", "Troops went to Mali in 2013.") is None


def test_reasons_and_places_are_recognised():
    assert gives_reason(STATEMENT) and gives_reason(MACRON) and gives_reason(RELATIONS)
    assert not gives_reason(UN)
    assert has_place(ENGAGED) and not has_place(UN)


@given(st.text(max_size=300), st.text(max_size=300))
def test_any_key_phrase_is_a_span_of_the_sentence(question, sentence):
    for kind in (*KINDS, None):
        found = find_key_phrase(question, sentence, kind)
        if found is not None:
            assert 0 <= found.start < found.end <= len(sentence)
            assert sentence[found.start : found.end].strip() == sentence[found.start : found.end]


def test_a_date_after_since_is_not_a_reason():
    assert not gives_reason("Troops have been deployed since 2013.")
    assert not gives_reason("Troops have been there since February.")
    assert not gives_reason("France made the announcement on Thursday.")


@pytest.mark.parametrize(
    "text",
    ["a" + " " * 8_000 + "b", "made meant forced " * 2_000, "since " * 3_000, "In Mali " * 3_000],
)
def test_hostile_text_is_read_in_linear_time(text):
    # A run of spaces used to be tried from each of its spaces: 7 s for 8,000 of them.
    began = time.perf_counter()
    gives_reason(text)
    for kind in (*KINDS, None):
        find_key_phrase("Why did the army leave Mali in 2013?", text, kind)
    assert time.perf_counter() - began < 1.0


# Issue 21's confidence work: phrases that do not answer the question they seem to.
IMPACT = (
    "France's withdrawal from Mali is \"bound to impact\" the UN's peacekeeping mission in the "
    "troubled Sahel state, the United Nations said on Thursday."
)


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        # Where something comes from: a place after "from", not where it is.
        ("Where do the contractors come from?", "The contractors come from Russia.", "from Russia"),
        ("Where does the UN's troop figure come from?", SPOKESMAN, None),
        ("Where is the UN's peacekeeping mission?", SPOKESMAN, "in Mali"),
        # A count of the dead answers "How many lives / deaths"; "what share of X" and
        # "how much of X" count X; peacekeepers are troops.
        ("How many lives has the operation cost France?", DEATHS, "48 of them"),
        ("What share of the Barkhane deaths happened in Mali?", DEATHS, "48 of them"),
        ("How many peacekeepers does the UN have?", UN, "about 12,000 troops"),
        ("How much of the Sahel do militants control?", SAHEL, None),
        # "What kind of X": the phrase headed by X; "Which X" is not answered by a count.
        ("What kind of mission is MINUSMA?", SPOKESMAN, "MINUSMA peacekeeping mission"),
        ("Which European nations are part of Takuba?", TAKUBA, None),
        ("Which mission includes some 14 European nations?", TAKUBA, "Takuba mission"),
        # A date right after "said" says when it was said.
        ("When did the UN peacekeeping mission in Mali start?", IMPACT, None),
        ("When did the United Nations comment?", IMPACT, "on Thursday"),
        ("When did Macron talk to the press?", QUOTE, "on Thursday"),
        # Who: not a place ("in West Africa"), not a phrase with a verb in it; a name
        # whose apposition ends by the question's words ("..., said that").
        ("Who are the Barkhane troops fighting?", DEATHS, None),
        ("Who fought alongside France against the militants?", DEPLOYED, "troops"),
        ("Who said the UN would take the necessary steps?", SPOKESMAN, "Olivier Salgado"),
    ],
)
def test_phrases_that_only_seem_to_answer_are_not_key_phrases(question, sentence, expected):
    assert key(question, sentence) == expected
