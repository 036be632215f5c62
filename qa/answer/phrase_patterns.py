"""Candidate answer phrases in a sentence, one finder per kind of answer.

Each finder yields ``(start, end)`` spans of the sentence that could be the answer to a
question of its kind (``question_kind.answer_kind``): a count ("about 12,000 troops"),
a length or a duration ("14.2 kilometres", "almost decade-long"), a date ("3 January",
"in 2013"), a person or a group ("Olivier Salgado", "the ruling junta"), a place ("in
Niger"), a reason ("because ..."), the words that settle a yes/no question ("never
fully quelled"), what someone said (a quotation, or the words after "said that"), the
words that describe a thing the question names, or a clause. ``qa.answer.key_phrase`` picks
one. Patterns only: no tagger, so a finder can miss or over-reach; every pattern is
linear in the sentence's length (no nested repetition over the same characters).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import pairwise

from qa.index.lexical import STOPWORDS

Span = tuple[int, int]

# ---- Numbers and quantities ------------------------------------------------------------
NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
    "fifty|sixty|seventy|eighty|ninety|a hundred|dozens?|hundreds?|"
    "thousands?|millions?|billions?"
)
_QUALIFIER = (
    r"(?:(?:about|around|some|nearly|almost|over|under|roughly|approximately|at least|"
    r"at most|more than|fewer than|less than|up to|a total of|an estimated|only|just)\s+)?"
)
_CURRENCY = r"(?:[$€£¥]\s?|(?:US|EUR|GBP|USD)\$?\s?)"
_NUMERAL = rf"(?:{_CURRENCY}?(?:\d[\d,.]*\d|\d)|(?:{NUMBER_WORDS})\b)"
_SCALE = r"(?:\s*(?:per ?cent|percent|%|thousand|million|billion|trillion|bn|m)\b|\s*%)?"
# What a quantity counts: up to two words, stopping at a function word, an adverb or a
# verb form ("48 of them died" keeps "48 of them").
_COUNTED = r"(?:\s+(?!(?:[a-z]+ly|[a-z]+ing|[a-z]+ed)\b)[A-Za-z][a-z-]+){0,2}"
_QUANTITY = re.compile(
    rf"(?<![\w.,]){_QUALIFIER}{_NUMERAL}{_SCALE}"
    rf"(?:\s+of\s+(?:them|those|these|us)\b|{_COUNTED})",
    re.IGNORECASE,
)
YEAR = re.compile(r"^(?:1[89]|20)\d\d$")
# A phrase that starts with a count ("some 14 European nations"): how many, not which.
QUANTITY_START = re.compile(rf"{_QUALIFIER}{_NUMERAL}\b", re.IGNORECASE)
# Units of length, area, weight, speed and time: what makes a number a measure.
_UNITS = (
    r"(?:kilomet(?:re|er)s?|km|met(?:re|er)s?|m|centimet(?:re|er)s?|cm|millimet(?:re|er)s?|"
    r"mm|miles?|feet|foot|ft|inch(?:es)?|yards?|hectares?|acres?|square\s+\w+|"
    r"tonnes?|tons?|kilo(?:gram)?s?|kg|grams?|pounds?|kph|km/h|mph|knots?|"
    r"seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?|centuries|century)"
)
_MEASURE = re.compile(
    rf"(?<![\w.,]){_QUALIFIER}(?:\d[\d,.]*\d|\d|(?:{NUMBER_WORDS}|a|an|half\s+an?)\b)"
    rf"(?:[\s-]+(?:and\s+a\s+half\s+)?){_UNITS}(?:[\s-]+long)?\b",
    re.IGNORECASE,
)
# "decade-long", "a year-long", "two-week": a duration written as one adjective.
_DURATION_WORD = re.compile(
    rf"\b{_QUALIFIER}(?:(?:a|an|\d+|{NUMBER_WORDS})[\s-])?"
    r"(?:second|minute|hour|day|week|month|year|decade|century)-long\b",
    re.IGNORECASE,
)

# ---- Dates and times ------------------------------------------------------------------
MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December)"
)
DAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_YEAR = r"(?:1[89]|20)\d\d"
# "3 January 2022", "January 3, 2022", "June 2022", "Monday 3 January", "in 2013".
_DATE = (
    rf"(?:{DAY},?\s+)?(?:\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTH}(?:,?\s+{_YEAR})?"
    rf"|{MONTH}(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?(?:,?\s+{_YEAR})?)"
)
_TIME = re.compile(
    r"\b(?:(?:on|in|by|until|till|since|from|before|after|during|at|early|late|mid)\s+)?"
    rf"(?:(?:the\s+)?(?:{_DATE}|{DAY}|{_YEAR}(?:s)?|yesterday|today|tomorrow"
    r"|(?:last|next|this)\s+(?:week|month|year|weekend)))\b"
)
# A time told right after a verb of saying is when it was said ("said on Thursday").
SAID_BEFORE = re.compile(
    r"\b(?:said|says|told\s+\w+|announced|added|stated|reported|confirmed)\s*$", re.IGNORECASE
)

# ---- Names, groups and places -------------------------------------------------------
# A name: capitalised words, joined by the small words names contain ("Gulf of Guinea").
_NAME = re.compile(
    r"\b[A-Z][\w'\u2019.-]*(?:\s+(?:(?:of|the|de|du|al|bin|van|von|der|la|le)\s+)*"
    r"[A-Z][\w'\u2019.-]*)*"
)
# Nouns for a person or a group of people: what "who" asks for when no name answers
# ("the ruling junta", "Russian private military contractors", "de-facto authorities").
AGENT_NOUNS = (
    "junta|juntas|authorities|authority|government|governments|rulers|ruler|regime|"
    "contractors|mercenaries|fighters|militants|jihadists|rebels|insurgents|troops|"
    "soldiers|forces|army|military|police|allies|partners|officials|ministers?|"
    "president|presidents|leaders?|spokesman|spokeswoman|spokesperson|commanders?|"
    "countries|nations|states|members|group|groups|coalition|alliance|committee|council|"
    "court|parliament|company|companies|firm|agency|people|residents|villagers|"
    "civilians|workers|experts|analysts|observers|diplomats|lawmakers|voters|"
    "organisation|organization|union|team|club|police|staff|volunteers|doctors"
)
# Up to three words before the noun, none of them a small word, an adverb or a past
# form ("France initially deployed troops" is no phrase for people: "troops" is).
_AGENT = re.compile(
    r"\b(?:(?:the|its|their|his|her|our|some|other|many|several|[A-Z][\w-]*['\u2019]s)\s+)?"
    r"(?:(?!(?:and|or|of|in|on|at|by|for|to|with|from|that|which|who|is|are|was|were|has|"
    r"have|had|the|a|an|against|about|over|into|through|during|after|before|between|under|"
    r"among|within|without|across|towards?|than|as|like|including|alongside|behind)\b)"
    r"(?![a-z]+(?:ly|ed)\b)[A-Za-z][\w-]*\s+){0,3}"
    rf"(?:{AGENT_NOUNS})\b"
)
# Words after which a name is a place. "from" and "out of" are where something
# leaves, not where it is, and are left out on purpose.
_PLACE_BEFORE = re.compile(
    r"\b(?:in|at|to|into|across|near|including|notably|throughout|inside|within|towards?)"
    r"\s+(?:(?:the|other|neighbouring|neighboring|countries|such|as|like|and)\s+)*$",
    re.IGNORECASE,
)
# Words after which a name is where something is or happens, not who acts.
_WHERE_BEFORE = re.compile(
    r"\b(?:in|at|into|across|near|throughout|inside|within)\s+(?:the\s+)?$", re.IGNORECASE
)
# Words after which a name is where something comes from: "Where does X come from?"
# asks for this, not for where X is.
_ORIGIN_BEFORE = re.compile(r"\b(?:from|out\s+of)\s+(?:the\s+)?$", re.IGNORECASE)
# A capitalised word that names a people's or a place's adjective ("European", "French").
_DEMONYM = re.compile(r"[A-Z][a-z]+(?:an|ese|ish|ch|ic|i)")
# Sentence words that are never a name on their own.
NOT_NAMES = frozenset(
    "the a an it its this that these those there they he she we i his her their our "
    "even however but and or of in on at by for with after before when while".split()
)

# ---- Reasons, answers to yes/no, what was said, clauses ---------------------------------
_REASON_AFTER = re.compile(
    r"\b(?:because(?:\s+of)?|since(?!\s+(?:the\s+)?(?:\d|"
    + MONTH
    + r"|"
    + DAY
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
# A clause ends at punctuation, or before a conjunction that starts another.
CLAUSE_END = re.compile(r"[,;:.!?](?:\s|$)|(?<!\s)\s+(?:but|while|whereas|although)\s+")
# The words that settle a yes/no question: a negation, a refusal or a commitment.
_POLAR = re.compile(
    r"\b(?:(?:was|were|is|are|has|have|had|will|would|did|does|do)\s+)?"
    r"(?:not|never|no\s+longer|denied|denies|deny|rejected|rejects|refused|refuses|"
    r"vowed|vows|pledged|agreed|agrees|admitted|admits|acknowledged|confirmed|"
    r"cannot|can't|won't|will\s+(?:continue|remain|stay|keep)|continues?|remains?|"
    r"still)\b",
    re.IGNORECASE,
)
_SPEECH = re.compile(
    r"\b(?:said|says|told\s+(?:reporters|journalists|\w+)|added|stated|announced|warned|"
    r"argued|insisted|claimed|denied|rejected(?:\s+the\s+idea)?|vowed|agreed|explained|"
    r"wrote|noted)(?:\s+that)?\s+(?!that\b)",
    re.IGNORECASE,
)
_QUOTE = re.compile(r"[\"\u201c]([^\"\u201c\u201d]{3,400})[\"\u201d]")
# Clause boundaries for a clause answer: punctuation, quotes and the conjunctions
# and relative words that start a new clause.
_CLAUSE_CUT = re.compile(
    r"[,;:()](?:\s|$)|[\"\u201d][,;:](?:\s|$)|(?<!\s)\s+(?=(?:but|while|whereas|although|"
    r"because|since|which|who|whose|and\s+(?:the|it|they|he|she|its|their|then|now|"
    r"denied|said|added|proposed|rejected|vowed|would|will))\b)"
)
# Words a phrase is not cut at or kept with, at either end.
_EDGE_WORDS = frozenset(
    "and or but the a an of in on at by to for with that which who while since as "
    "however even also then".split()
)


# What a sentence about the future says: a modal ("will", "would"), "bound to", a verb
# of intention or commitment ("plans", "agreed to", "vowed", "proposed"), or a
# deadline ("by June 2022", "until 2025").
_FUTURE = re.compile(
    r"\b(?:will|would|shall|won't|going\s+to|bound\s+to|set\s+to|about\s+to"
    r"|(?:plan|agree|vow|promis|pledg|propos|intend|expect|aim|decid|threaten|hope|prepar)"
    r"\w*|next|future|upcoming|soon|later)\b"
    rf"|\b(?:by|until|till)\s+(?:the\s+end\s+of\s+)?(?:{MONTH}|{_YEAR})\b"
    r"|\w['\u2019]ll\b",
    re.IGNORECASE,
)


def speaks_of_the_future(sentence: str) -> bool:
    """Whether ``sentence`` says what will or may happen (``_FUTURE``): "the allies vowed
    to remain engaged", "would take the necessary steps", "by June 2022"."""
    return bool(_FUTURE.search(sentence))


def quantities(sentence: str) -> Iterator[Span]:
    """Counts and amounts: "about 12,000 troops", "48 of them", "€2 billion"."""
    for match in _QUANTITY.finditer(sentence):
        number = re.sub(r"^\D*", "", match.group())
        if YEAR.match(number.split()[0] if number else ""):
            continue  # "in 2013" is a date, not a count
        yield match.start(), trim_end(sentence, match.start(), match.end())


def measures(sentence: str) -> Iterator[Span]:
    """How long, far or old: "14.2 kilometres", "three years", "decade-long", and the
    dates that end or start a stretch of time ("until 2025", "since 2013")."""
    for pattern in (_MEASURE, _DURATION_WORD):
        for match in pattern.finditer(sentence):
            yield match.start(), match.end()
    for start, end in times(sentence):
        if re.match(r"(?:until|till|since|from|by)\s", sentence[start:end], re.IGNORECASE):
            yield start, end


def times(sentence: str) -> Iterator[Span]:
    """Dates and times: "3 January", "on Monday 3 January", "by June 2022", "in 2013"."""
    for match in _TIME.finditer(sentence):
        yield match.start(), match.end()


def names(sentence: str) -> Iterator[Span]:
    """Runs of capitalised words that are not the sentence's first word alone."""
    for match in _NAME.finditer(sentence):
        start, end = match.start(), match.end()
        text = sentence[start:end]
        first = text.split()[0].lower().strip("'\u2019")
        if start == first_word(sentence) and first in NOT_NAMES:
            rest = text.split(None, 1)
            if len(rest) == 1:
                continue
            start += len(text) - len(rest[1])  # "The MINUSMA mission" -> "MINUSMA mission"
        if re.fullmatch(rf"{MONTH}|{DAY}", sentence[start:end]):
            continue
        if _DEMONYM.fullmatch(sentence[start:end]) and re.match(
            r"\s+(?!(?:and|or|of|in|on|at|to|for|with|by|from|who|which|that)\b)[a-z]",
            sentence[end:],
        ):
            continue  # "European nations": an adjective, not a name
        yield start, strip_possessive(sentence, start, end)


def is_group_phrase(text: str) -> bool:
    """Whether ``text`` ends in a noun for people ("the ruling junta"), not a name."""
    return bool(re.search(rf"\b(?:{AGENT_NOUNS})$", text)) and not text.split()[-1][:1].isupper()


def agents(sentence: str) -> Iterator[Span]:
    """Who did something: a name, or a phrase for a person or a group of people. A name
    where something happens ("in West Africa") is a place, not who."""
    for start, end in names(sentence):
        if not _WHERE_BEFORE.search(sentence[max(0, start - 20) : start]):
            yield start, end
    for match in _AGENT.finditer(sentence):
        yield match.start(), match.end()


def places(sentence: str) -> Iterator[Span]:
    """A name after a word of place: "including Niger", "in the Gulf of Guinea"."""
    for start, end in names(sentence):
        before = _PLACE_BEFORE.search(sentence[max(0, start - 80) : start])
        if before:
            yield max(0, start - 80) + before.start(), end


def origins(sentence: str) -> Iterator[Span]:
    """A name after "from" or "out of": where something comes from ("from Russia")."""
    for start, end in names(sentence):
        before = _ORIGIN_BEFORE.search(sentence[max(0, start - 20) : start])
        if before:
            yield max(0, start - 20) + before.start(), end


def reasons(sentence: str) -> Iterator[Span]:
    """The clause after "because", "since" ...; or the cause before "meant that"."""
    for match in _REASON_AFTER.finditer(sentence):
        end = CLAUSE_END.search(sentence, match.end())
        yield match.start(), end.start() if end else len(sentence.rstrip(" .!?\"'\u201d"))
    clause_starts = [m.end() for m in _CLAUSE_START.finditer(sentence)]  # one pass
    for match in _REASON_BEFORE.finditer(sentence):
        earlier = [c for c in clause_starts if c <= match.start()]
        start = earlier[-1] if earlier else first_word(sentence)
        if match.start() - start > 2:
            yield start, match.start()


def polar(sentence: str) -> Iterator[Span]:
    """What settles a yes/no question: a negation, denial or commitment to the end of
    its clause ("never fully quelled", "denied that ... ended in failure")."""
    cuts = clause_cuts(sentence)
    for match in _POLAR.finditer(sentence):
        end = next((c for c in cuts if c > match.end()), len(sentence))
        yield match.start(), trim_span(sentence, match.start(), end)[1]


def statements(sentence: str) -> Iterator[Span]:
    """What was said: a quotation of two words or more, or what follows a verb of
    saying up to the end of its clause ("denied that its ... deployment had ended")."""
    for match in _QUOTE.finditer(sentence):
        if len(match.group(1).split()) >= 2:
            yield trim_span(sentence, match.start(1), match.end(1))
    cuts = clause_cuts(sentence)
    for match in _SPEECH.finditer(sentence):
        end = next((c for c in cuts if c > match.end() + 1), len(sentence))
        if end > match.end():
            yield trim_span(sentence, match.end(), end)


def clauses(sentence: str) -> Iterator[Span]:
    """The sentence's clauses, cut at punctuation, quotes and clause-starting words."""
    bounds = [0, *clause_cuts(sentence), len(sentence)]
    for start, end in pairwise(bounds):
        span = trim_span(sentence, start, end)
        if span[1] > span[0]:
            yield span


def clause_cuts(sentence: str) -> list[int]:
    """Offsets where a clause ends and the next may start."""
    return sorted({m.start() for m in _CLAUSE_CUT.finditer(sentence)} - {0})


def trim_span(sentence: str, start: int, end: int) -> Span:
    """``(start, end)`` without punctuation, quotes and small words at either edge."""
    words = list(re.finditer(r"[\w'\u2019-]+(?:[.,]\d+)*", sentence[start:end]))
    while words and words[0].group().lower() in _EDGE_WORDS:
        words.pop(0)
    while words and words[-1].group().lower() in _EDGE_WORDS:
        words.pop()
    if not words:
        return start, start
    return start + words[0].start(), start + words[-1].end()


def trim_end(sentence: str, start: int, end: int) -> int:
    """End of a quantity without the trailing stop words the pattern took."""
    tokens = list(re.finditer(r"\S+", sentence[start:end]))
    while len(tokens) > 1 and tokens[-1].group().lower() in STOPWORDS:
        if tokens[-1].group().lower() in ("them", "those", "these", "us"):
            break
        tokens.pop()
    return start + tokens[-1].end()


def strip_possessive(sentence: str, start: int, end: int) -> int:
    """End of a name without a possessive or a full stop that ends the sentence
    ("Mali's" -> "Mali", "in Niger." -> "in Niger"; "U.S." keeps its stops)."""
    text = sentence[start:end]
    match = re.search(r"['\u2019]s?$", text)
    if match:
        return end - len(match.group())
    if text.endswith(".") and "." not in text[:-1]:
        return end - 1
    return end


def first_word(sentence: str) -> int:
    match = re.search(r"[^\W_]", sentence)
    return match.start() if match else 0
