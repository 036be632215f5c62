"""Stage 7: the key phrase of an answer sentence, the words a reader looks for first.

A featured snippet quotes the sentence that answers and marks the few words in it that
are the answer: "It currently has **about 12,000 troops** in the country". What those
words are follows from what the question asks for (``answering.expected_answer``):

- "how many / how much": a quantity and what it counts ("about 12,000 troops");
- "when": a date or a time ("in 2013", "on Thursday", "by June 2022");
- "who": a name, a run of capitalised words ("Olivier Salgado");
- "where": a place after a word of place ("including Niger", "in the Gulf of Guinea");
- "why": the clause that gives the reason ("because ...", "since ...", or the cause
  before "meant that", "had forced", "led to").

Candidates of that kind are found by patterns over the sentence; the one nearest the
words the question shares with the sentence wins, and words the question itself
names are never its answer ("Who is the spokesman of MINUSMA?" is not "MINUSMA").
When the sentence holds nothing of the kind there is no key phrase: the whole
sentence is the answer. Nothing here rewrites text: a key phrase is a span of the
sentence, so it is always the article's own words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import Stemmer

from qa.lexical import STOPWORDS, words

# ---- Patterns -------------------------------------------------------------------------
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
    "fifty|sixty|seventy|eighty|ninety|dozens?|hundreds?|"
    "thousands?|millions?|billions?"
)
# A quantity: an optional qualifier, a number, an optional scale, then up to two words
# of what it counts ("foreign troops"), stopping at a function word, an adverb or a verb
# form, or the phrase "of them" ("48 of them").
_QUALIFIER = (
    r"(?:(?:about|around|some|nearly|almost|over|under|roughly|approximately|at least|"
    r"at most|more than|fewer than|less than|up to|a total of|an estimated|only|just)\s+)?"
)
_COUNTED = r"(?:\s+(?!(?:[a-z]+ly|[a-z]+ing|[a-z]+ed)\b)[A-Za-z][a-z-]+){0,2}"
_QUANTITY = re.compile(
    rf"\b{_QUALIFIER}(?:\d[\d,.]*\d|\d|(?:{_NUMBER_WORDS})\b)"
    rf"(?:\s+(?:per ?cent|percent|%|thousand|million|billion))?"
    rf"(?:\s+of\s+(?:them|those|these|us)\b|{_COUNTED})",
    re.IGNORECASE,
)
_YEAR = re.compile(r"^(?:1[89]|20)\d\d$")
_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December)"
)
_DAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_TIME = re.compile(
    r"\b(?:(?:on|in|by|until|since|from|before|after|during|at|early|late)\s+)?"
    rf"(?:(?:the\s+)?(?:{_DAY}|{_MONTH}(?:\s+\d{{1,2}})?(?:,?\s+(?:1[89]|20)\d\d)?"
    r"|(?:1[89]|20)\d\d(?:s)?|yesterday|today|tomorrow|last\s+(?:week|month|year)"
    r"|next\s+(?:week|month|year)|this\s+(?:week|month|year)))\b"
)
# A name: capitalised words, joined by the small words names contain ("Gulf of Guinea").
_NAME = re.compile(
    r"\b[A-Z][\w'\u2019.-]*(?:\s+(?:(?:of|the|de|du|al|bin|van|von|der|la|le)\s+)*"
    r"[A-Z][\w'\u2019.-]*)*"
)
# Words after which a name is a place. "from" and "out of" are where something
# leaves, not where it is, and are left out on purpose.
_PLACE_BEFORE = re.compile(
    r"\b(?:in|at|to|into|across|near|including|notably|throughout|inside|within|towards?)"
    r"\s+(?:(?:the|other|neighbouring|neighboring|countries|such|as|like|and)\s+)*$",
    re.IGNORECASE,
)
# The cue that a reason follows ("because ..."), or that one comes before ("X meant
# that ..."): the two ways English gives a reason inside one sentence.
_REASON_AFTER = re.compile(
    r"\b(?:because(?:\s+of)?|since(?!\s+(?:the\s+)?(?:\d|"
    + _MONTH
    + r"|"
    + _DAY
    + r"|last|then|when|early|late))|due\s+to|owing\s+to|thanks\s+to|as\s+a\s+result\s+of"
    r"|given\s+that|in\s+order\s+to|so\s+that)\s+",
    re.IGNORECASE,
)
# Each pattern that starts with spaces starts at the first of a run ("(?<!\s)"): else a
# long run of spaces would be tried from each of them, which costs its length squared.
_REASON_BEFORE = re.compile(
    r"(?<!\s)\s+(?:(?:had|has|have|would|will)\s+)?(?:meant|means|forced|forces|led\s+to"
    r"|leads\s+to|caused|causes|prompted|prompts)\b",
    re.IGNORECASE,
)
# Where the cause in "X meant that" starts: after "said (that)", a colon, or the start.
_CLAUSE_START = re.compile(
    r"(?:\b(?:said|says|stated|added|argued|explained)(?:\s+that)?|\bthat|[:;,])\s+",
    re.IGNORECASE,
)
# A reason clause ends at the end of its clause.
_CLAUSE_END = re.compile(r"[,;:.!?](?:\s|$)|(?<!\s)\s+(?:but|while|whereas|although)\s+")
# Sentence words that are never a name on their own.
_NOT_NAMES = frozenset(
    "the a an it its this that these those there they he she we i his her their our "
    "even however but and or of in on at by for with after before when while".split()
)

_stemmer = Stemmer.Stemmer("english")
# Longer text is looked at up to here: a sentence is rarely a tenth of this, and the
# patterns above must stay cheap on anything a person pastes.
MAX_CHARS = 2_000


@dataclass(frozen=True)
class KeyPhrase:
    """``sentence[start:end]``: the words that answer, and which kind of answer they are."""

    start: int
    end: int
    kind: str


def find_key_phrase(question: str, sentence: str, kind: str | None) -> KeyPhrase | None:
    """The key phrase of ``sentence`` for ``question``, whose answer is of ``kind``
    (``answering.expected_answer``), or None when the sentence holds none."""
    sentence = sentence[:MAX_CHARS]
    if kind is None:
        return None
    finder = _FINDERS.get(kind)
    if finder is None:
        return None
    asked = {_stemmer.stemWord(w) for w in words(question) if w not in STOPWORDS}
    candidates = [
        (start, end)
        for start, end in finder(sentence)
        if end > start and not _only_question_words(sentence[start:end], asked, kind)
    ]
    if not candidates:
        return None
    anchors = _anchor_positions(sentence, asked)

    def rank(span: tuple[int, int]) -> tuple[int, int, int]:
        # A count or a date: most question words in its clause ("48 of them died in
        # Mali"). A name or a place often stands in apposition ("Olivier Salgado, the
        # spokesman ..."), so for those only the nearest question word counts.
        shared = _shared_in_clause(sentence, span, asked) if kind in ("number", "time") else 0
        return (-shared, _distance(span, anchors), span[0])

    start, end = min(candidates, key=rank)
    return KeyPhrase(start, end, kind)


def has_kind(text: str, kind: str) -> bool:
    """Whether ``text`` holds a candidate answer of ``kind`` (a count, a date ...)."""
    finder = _FINDERS.get(kind)
    return finder is not None and any(True for _ in finder(text[:MAX_CHARS]))


def gives_reason(text: str) -> bool:
    """Whether ``text`` gives a reason in one of the two ways ``_reasons`` finds."""
    return any(True for _ in _reasons(text[:MAX_CHARS]))


def has_place(text: str) -> bool:
    """Whether ``text`` names a place after a word of place ("in Niger")."""
    return any(True for _ in _places(text[:MAX_CHARS]))


def _quantities(sentence: str) -> Iterator[tuple[int, int]]:
    for match in _QUANTITY.finditer(sentence):
        number = re.sub(r"^\D*", "", match.group())
        if _YEAR.match(number.split()[0] if number else ""):
            continue  # "in 2013" is a date, not a count
        yield match.start(), _trim(sentence, match.start(), match.end())


def _times(sentence: str) -> Iterator[tuple[int, int]]:
    for match in _TIME.finditer(sentence):
        yield match.start(), match.end()


def _names(sentence: str) -> Iterator[tuple[int, int]]:
    for match in _NAME.finditer(sentence):
        start, end = match.start(), match.end()
        text = sentence[start:end]
        first = text.split()[0].lower().strip("'\u2019")
        if start == _first_word(sentence) and first in _NOT_NAMES:
            rest = text.split(None, 1)
            if len(rest) == 1:
                continue
            start += len(text) - len(rest[1])  # "The MINUSMA mission" -> "MINUSMA mission"
        if re.fullmatch(rf"{_MONTH}|{_DAY}", sentence[start:end]):
            continue
        yield start, _strip_possessive(sentence, start, end)


def _places(sentence: str) -> Iterator[tuple[int, int]]:
    for start, end in _names(sentence):
        before = _PLACE_BEFORE.search(sentence[max(0, start - 80) : start])
        if before:
            yield max(0, start - 80) + before.start(), end


def _reasons(sentence: str) -> Iterator[tuple[int, int]]:
    for match in _REASON_AFTER.finditer(sentence):
        end = _CLAUSE_END.search(sentence, match.end())
        yield match.start(), end.start() if end else len(sentence.rstrip(" .!?\"'\u201d"))
    clause_starts = [m.end() for m in _CLAUSE_START.finditer(sentence)]  # one pass
    for match in _REASON_BEFORE.finditer(sentence):
        earlier = [c for c in clause_starts if c <= match.start()]
        start = earlier[-1] if earlier else _first_word(sentence)
        if match.start() - start > 2:
            yield start, match.start()


_FINDERS = {
    "number": _quantities,
    "time": _times,
    "name": _names,
    "place": _places,
    "reason": _reasons,
}


def _only_question_words(text: str, asked: set[str], kind: str) -> bool:
    """Whether a candidate only repeats what the question names (not an answer).

    A quantity, a date or a reason is kept even when the question shares its words:
    "How many of the 53 soldiers died?" still wants the number marked.
    """
    if kind not in ("name", "place"):
        return False
    stems = {_stemmer.stemWord(w) for w in words(text) if w not in STOPWORDS}
    return bool(stems) and stems <= asked


def _anchor_positions(sentence: str, asked: set[str]) -> list[int]:
    """Character offsets of the sentence's words that the question also uses."""
    return [
        m.start()
        for m in re.finditer(r"[^\W_]+", sentence)
        if _stemmer.stemWord(words(m.group())[0] if words(m.group()) else "") in asked
    ]


def _shared_in_clause(sentence: str, span: tuple[int, int], asked: set[str]) -> int:
    """How many of the question's words the clause around a candidate holds: in "Of
    the 53 soldiers killed ..., 48 of them died in Mali", "died" and "Mali" belong to
    the clause of 48."""
    cuts = [m.end() for m in re.finditer(r"[,;:]\s", sentence)]
    start = max((c for c in cuts if c <= span[0]), default=0)
    end = min((c for c in cuts if c > span[1]), default=len(sentence))
    return len({_stemmer.stemWord(w) for w in words(sentence[start:end])} & asked)


def _distance(span: tuple[int, int], anchors: list[int]) -> int:
    """Characters between a candidate and the nearest word the question shares with
    the sentence (0 when none: then the first candidate wins)."""
    if not anchors:
        return 0
    start, end = span
    return min(0 if start <= a < end else min(abs(a - start), abs(a - end)) for a in anchors)


def _trim(sentence: str, start: int, end: int) -> int:
    """End of a quantity without the trailing stop words the pattern took."""
    text = sentence[start:end]
    tokens = list(re.finditer(r"\S+", text))
    while len(tokens) > 1 and tokens[-1].group().lower() in STOPWORDS:
        if tokens[-1].group().lower() in ("them", "those", "these", "us"):
            break
        tokens.pop()
    return start + tokens[-1].end()


def _strip_possessive(sentence: str, start: int, end: int) -> int:
    """End of a name without a possessive or a full stop that ends the sentence
    ("Mali's" -> "Mali", "in Niger." -> "in Niger"; "U.S." keeps its stops)."""
    text = sentence[start:end]
    match = re.search(r"['\u2019]s?$", text)
    if match:
        return end - len(match.group())
    if text.endswith(".") and "." not in text[:-1]:
        return end - 1
    return end


def _first_word(sentence: str) -> int:
    match = re.search(r"[^\W_]", sentence)
    return match.start() if match else 0
