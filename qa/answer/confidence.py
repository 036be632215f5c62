"""Evidence that an answer sentence is about something else than the question asked.

``qa.answer.answering`` shows a sentence as *the* answer (``Answer.confident``) when its
passage scores well and the sentence holds a phrase of the kind the question asks for
(``qa.answer.key_phrase``). A sentence can do both and still answer another question: "How
many troops does Niger have?" scores 0.58 against "It currently has about 12,000
troops" (the UN's). ``confidence_doubt`` names what gives such an answer away, so that
it is shown as "the closest the article comes" whatever its score. Each check was kept
because it removed a wrong confident answer on the dev half of qa/evaluation/sets/questions.jsonl
and no right one (docs/quality.md has the numbers and what else was tried).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.answer.phrase_patterns import AGENT_NOUNS, speaks_of_the_future
from qa.answer.question_kind import asks_about_the_future
from qa.index.lexical import STOPWORDS, words
from qa.types import Hit, Quote

_QUESTION_TOKEN = re.compile(r"\d[\d,.]*\d|\d|[^\W\d_][\w'\u2019-]*")
_POSSESSIVE = re.compile(r"['\u2019]s$")
# Two forms of one name share their first letters: "Mali" and "Malian", "Italy" and
# "Italian", "Turkey" and "Turkish". At least this many, and all but two of the
# shorter word's (so "Niger" is not "Nice").
NAME_STEM = 4
# Countries whose people's adjective starts otherwise (plain English, not a list fitted
# to the question set): "How many troops does France have?" is answered by "4,300
# French soldiers".
_DEMONYMS = {
    "france": "french",
    "britain": "british",
    "england": "english",
    "scotland": "scottish",
    "wales": "welsh",
    "ireland": "irish",
    "spain": "spanish",
    "poland": "polish",
    "finland": "finnish",
    "denmark": "danish",
    "netherlands": "dutch",
    "holland": "dutch",
    "switzerland": "swiss",
    "philippines": "filipino",
}
_SAME_PLACE = {**_DEMONYMS, **{adjective: country for country, adjective in _DEMONYMS.items()}}


def confidence_doubt(question: str, hit: Hit, answer: Quote) -> str | None:
    """Why ``answer`` (the quote of ``hit``) cannot be *the* answer to ``question``
    whatever its score, in a few words; None when nothing says so.

    - "names": the passage does not name one of the names, acronyms or numbers the
      question uses (``question_names``), in any form: "How many troops does Niger
      have?" answered by the UN's "about 12,000 troops" is about someone else, and
      "How many European soldiers are in Mali?" by the 53 of the Barkhane mission. A
      pronoun can stand for a name in the sentence ("It currently has ..."), so the
      whole passage is looked at;
    - "bare group": a who-question answered by a lone plural noun for people
      ("troops", "militants"), which says what kind of people, not who;
    - "not the future": a question about what will happen ("How many French troops
      will stay in the Sahel?") answered by a sentence that says nothing of the future
      ("There are ... 4,300 French soldiers"): no modal, no plan or promise, no
      deadline (``phrase_patterns.speaks_of_the_future``).
    """
    groups = question_names(question)
    if groups:
        present = set(words(hit.text))
        if not all(any(names_in(word, present) for word in group) for group in groups):
            return "names"
    if answer.kind == "name" and is_bare_group(answer.key):
        return "bare group"
    if asks_about_the_future(question) and not speaks_of_the_future(answer.text):
        return "not the future"
    return None


def question_names(question: str) -> list[list[str]]:
    """The names, acronyms and numbers of ``question``, each as the run of words that
    makes it: [["World", "Cup"], ["2019"]].

    A name is a capitalised word that does not open the question ("Britain"), an
    acronym ("GDP", also first), or a run of them ("World Cup"); a number is any run of
    digits ("2019"). When most words are capitalised (a Title Case Question) only
    acronyms and numbers count, and a question in lower case has no names.
    """
    tokens = _QUESTION_TOKEN.findall(question)
    title_case = _is_title_case([t for t in tokens if t[0].isalpha()][1:])
    shouting = question.upper() == question
    groups: list[list[str]] = []
    previous_was_name = False
    for position, token in enumerate(tokens):
        bare = _POSSESSIVE.sub("", token)
        is_number = bare[0].isdigit()
        is_acronym = len(bare) > 1 and bare.isupper() and bare.isalpha() and not shouting
        is_name = (
            bare[0].isupper()
            and position > 0
            and not title_case
            and not shouting
            and bare.lower() not in STOPWORDS
        )
        if not (is_number or is_acronym or is_name):
            previous_was_name = False
            continue
        if previous_was_name and not is_number:
            groups[-1].append(bare)
        else:
            groups.append([bare])
        previous_was_name = not is_number
    return groups


def names_in(name: str, present: set[str]) -> bool:
    """Whether a word of ``name`` is among the words ``present`` (``lexical.words``),
    as written or in another form of it: "Malian" for "Mali", "Russia" for "Russian",
    "French" for "France" (``NAME_STEM``, ``_DEMONYMS``)."""
    for form in words(name):
        if form in present or _SAME_PLACE.get(form) in present:
            return True
        if len(form) >= NAME_STEM and any(_same_name(form, other) for other in present):
            return True
    return False


def _same_name(one: str, other: str) -> bool:
    shared = 0
    for a, b in zip(one, other, strict=False):
        if a != b:
            break
        shared += 1
    return shared >= NAME_STEM and shared >= min(len(one), len(other)) - 2


def is_bare_group(key: str) -> bool:
    """Whether ``key`` is a lone plural noun for people ("troops", "militants"), with
    no name, no word before it and no article: a kind of people, not who they are."""
    return key.endswith("s") and re.fullmatch(rf"(?:{AGENT_NOUNS})", key) is not None


def _is_title_case(words_after_first: Sequence[str]) -> bool:
    """Whether a question is written In Title Case, judged by its small words.

    In a sentence, "did", "the", "about" are in lower case even beside a name ("Who
    won the Nobel Peace Prize?"); in a title they are capitalised too.
    """
    small = [w for w in words_after_first if w.lower() in STOPWORDS]
    if small:
        return sum(w[0].isupper() for w in small) > len(small) / 2
    capitalised = sum(w[0].isupper() for w in words_after_first)
    return len(words_after_first) > 2 and capitalised > 0.6 * len(words_after_first)
