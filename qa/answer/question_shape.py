"""The shape of an English question, as far as word lists can tell it: the question
phrase ("How many troops"), the auxiliary ("does"), the subject ("the UN"), the
prepositional phrases ("in Mali") and the names. ``qa.answer.conversation`` borrows these
parts from an earlier question to complete a follow-up. No tagger or parser: a word
is a verb when it is in ``VERB_HINTS`` or ends in -ed/-ing, so the shape can be wrong.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

WH = frozenset("what who whom whose which when where why how".split())
AUX = frozenset(
    "is are was were be been do does did has have had will would can could should "
    "shall may might must".split()
)
COPULA = frozenset("is are was were".split())
OPENERS = frozenset("and but so also then okay ok well now".split())
DETERMINERS = frozenset(
    "the a an its their his her this that these those some all most any each every "
    "our your my".split()
)
PREPOSITIONS = frozenset(
    "in at to into from across within inside outside near throughout on over under "
    "for of by with about during until till since after before against among between "
    "towards toward through per".split()
)
PLACE_PREPOSITIONS = frozenset(
    "in at to into from across within inside outside near throughout".split()
)
SUBJECT_PRONOUNS = frozenset("he she it they".split())
# Words that follow a subject and start its verb phrase: where a subject ends.
VERB_HINTS = frozenset(
    "say said says tell told think thought want wants mean means include includes "
    "blame blamed decide decided leave leaving left stay stayed remain remained "
    "send sent deploy deployed have has had do does did go going come came make made "
    "bring brought keep kept plan plans propose proposed admit admitted deny denied "
    "reject rejected sign signed issue issued announce announced continue continued "
    "die died kill killed lose lost hold held start started begin began work works "
    "agree agreed vow vowed pull pulling withdraw withdrawing fight fighting study "
    "studying adapt react respond view see know call called hire hired".split()
)
PLACE_NOUNS = frozenset(
    "region regions country countries area areas city cities town towns village "
    "villages capital north south east west world border borders state states "
    "province provinces continent abroad home there".split()
)
# Words that end a noun phrase without being part of it: "France first sent ...".
PHRASE_BREAKS = frozenset(
    "first ever also still now initially already finally just never not recently "
    "currently really actually".split()
)
BE = frozenset("is are was were be been".split())
# Punctuation around a word, straight and curly quotes included.
PUNCTUATION = "?!.,;:\"'()\u201c\u201d\u2018\u2019"
TRAILING = re.compile(r"[\s?!.…;:,]+$")


@dataclass(frozen=True)
class Phrase:
    """A noun phrase of a question: its words and where it stands (word positions)."""

    words: tuple[str, ...]
    start: int
    end: int

    @property
    def text(self) -> str:
        return " ".join(self.words)

    @property
    def head(self) -> str:
        return bare_word(self.words[-1])


@dataclass(frozen=True)
class Shape:
    """The parts of a question that a follow-up can borrow."""

    words: tuple[str, ...]
    wh: tuple[int, int] | None  # the question phrase, e.g. "How many troops" (positions)
    wh_noun: Phrase | None  # the noun in it: "troops"
    aux: int | None  # position of the auxiliary after it ("does")
    subject: Phrase | None  # "the UN"
    phrases: tuple[tuple[str, Phrase], ...]  # prepositional phrases: ("in", "Mali"), ...
    places: tuple[tuple[str, Phrase], ...]  # those that name a place
    objects: tuple[Phrase, ...]  # noun phrases after the verb, not places
    names: tuple[Phrase, ...]  # capitalised names and acronyms


def parse(question: str) -> Shape:
    """Find the question phrase, auxiliary, subject, places, objects and names."""
    words = tuple(TRAILING.sub("", question).split())
    bare = [bare_word(w) for w in words]
    i = 1 if bare and bare[0] in OPENERS else 0
    while i < len(bare) and bare[i] in PREPOSITIONS and i + 1 < len(bare) and bare[i + 1] in WH:
        i += 1  # "By when", "In which country"
    wh = wh_noun = None
    aux = subject = None
    if i < len(bare) and bare[i] in WH:
        start = i
        i += 1
        if bare[start] == "how" and i < len(bare) and bare[i] in ("many", "much"):
            i += 1
        elif bare[start] == "how" and i < len(bare) and bare[i] not in AUX:
            i += 1  # "how big", "how long"
        noun_start = i
        if bare[start] in ("how", "which", "what", "whose"):
            while i < len(bare) and nounish(bare[i]):
                if verb_like(bare[i]) and not (i + 1 < len(bare) and bare[i + 1] in AUX):
                    break  # a verb ("What made ..."), unless an auxiliary follows ("plans were")
                i += 1
        if (i > noun_start and bare[start] != "how") or (
            bare[start] == "how" and i > noun_start and bare[noun_start - 1] in ("many", "much")
        ):
            wh_noun = Phrase(words[noun_start:i], noun_start, i)
        wh = (start, i)
        if i < len(bare) and bare[i] in AUX:
            aux = i
            subject = noun_phrase(words, bare, i + 1, copula=bare[i] in COPULA)
            if subject is None and wh_noun is not None:
                subject = wh_noun  # "What new fears have emerged?"
        elif wh_noun is not None:
            subject = wh_noun  # "How many French soldiers died?"
    elif i < len(bare) and bare[i] in AUX:
        aux = i  # "Did Macron admit failure?"
        subject = noun_phrase(words, bare, i + 1, copula=False)
    phrases: list[tuple[str, Phrase]] = []
    objects: list[Phrase] = []
    # Prepositional phrases anywhere after the question phrase, inside the subject too
    # ("the UN spokesman in Mali"); other noun phrases only after the subject.
    after = subject.end if subject is not None else (wh[1] if wh else 0)
    j = wh[1] if wh else 0
    while j < len(bare):
        if bare[j] in PREPOSITIONS:
            phrase = noun_phrase(words, bare, j + 1, copula=False)
            if phrase is not None:
                phrases.append((bare[j], phrase))
                if not is_place(bare[j], phrase.words):
                    objects.append(phrase)
                j = phrase.end
                continue
        elif j >= after and (bare[j] in DETERMINERS or words[j][:1].isupper()):
            phrase = noun_phrase(words, bare, j, copula=False)
            if phrase is not None:
                objects.append(phrase)
                j = phrase.end
                continue
        j += 1
    places = tuple((p, ph) for p, ph in phrases if is_place(p, ph.words))
    return Shape(
        words, wh, wh_noun, aux, subject, tuple(phrases), places, tuple(objects), names_in(words)
    )


def noun_phrase(words: tuple[str, ...], bare: list[str], i: int, *, copula: bool) -> Phrase | None:
    """The noun phrase starting at ``i``: an optional article or possessive, then
    words up to the verb; over "X and Y", "X's Y", and (after "is") "of"/"for" Z."""
    start = i
    if i < len(bare) and bare[i] in DETERMINERS:
        i += 1
    begin = i
    if i < len(bare) and verb_like(bare[i]) and not words[i][:1].isupper():
        return None  # "are deployed ...": a verb, no noun phrase here
    while i < len(bare):
        word = bare[i]
        if word in AUX | WH | SUBJECT_PRONOUNS | PHRASE_BREAKS or word in ("him", "them"):
            break
        if word in PREPOSITIONS:
            if copula and word in ("of", "for", "in") and i > begin:
                i += 1
                continue
            break
        if word == "and" and i > begin and i + 1 < len(bare):
            nxt = bare[i + 1]
            if nxt in DETERMINERS or words[i + 1][:1].isupper():
                i += 1
                continue
            break
        if i > begin and verb_like(word) and not words[i][:1].isupper():
            break
        i += 1
    if i == begin:
        return None
    return Phrase(words[start:i], start, i)


def names_in(words: tuple[str, ...]) -> tuple[Phrase, ...]:
    """Runs of capitalised words and acronyms (not the first word unless it is not a
    question word), with a preceding "the"."""
    found: list[Phrase] = []
    i = 0
    while i < len(words):
        word = words[i]
        low = bare_word(word)
        capital = word[:1].isupper() and low not in WH | AUX | OPENERS | DETERMINERS
        if capital and low not in PREPOSITIONS:
            start = i - 1 if i and bare_word(words[i - 1]) == "the" else i
            while i + 1 < len(words) and words[i + 1][:1].isupper():
                i += 1
            found.append(Phrase(words[start : i + 1], start, i + 1))
        i += 1
    return tuple(found)


def nounish(word: str) -> bool:
    return (
        bool(word)
        and word not in AUX | WH | PREPOSITIONS | OPENERS
        and word
        not in (
            "and",
            "or",
            "not",
        )
    )


def verb_like(word: str) -> bool:
    return word in VERB_HINTS or (len(word) > 4 and word.endswith(("ed", "ing")))


def bare_word(word: str) -> str:
    return word.strip(PUNCTUATION).lower()


def is_place(preposition: str, words: Sequence[str]) -> bool:
    """Whether a prepositional phrase names a place: a place preposition before a name
    or a place noun ("in Mali", "to the Sahel region"; not "in total", "in response")."""
    if preposition not in PLACE_PREPOSITIONS or not words:
        return False
    return any(w[:1].isupper() for w in words) or bare_word(words[-1]) in PLACE_NOUNS
