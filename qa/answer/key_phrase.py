"""The key phrase of an answer sentence, the words a reader looks for first.

A featured snippet quotes the sentence that answers and marks the few words in it that
are the answer: "It currently has **about 12,000 troops** in the country". What those
words are follows from what the question asks for (``question_kind.answer_kind``):

- "how many / how much": a quantity and what it counts ("about 12,000 troops"); it must
  count what the question asks about ("How many helicopters?" is not "48 soldiers");
- "how long / how far": a length or a duration ("14.2 kilometres", "until 2025");
- "when": a date or a time ("3 January", "in 2013", "by June 2022"), but not a date
  that says when something was *said* ("said on Monday") unless the question asks that;
- "who": a name or a person or group ("Olivier Salgado", "Mali's ruling junta");
- "where": a place after a word of place ("including Niger", "in the Gulf of Guinea"),
  or after "from" when it asks where something comes from ("from Russia");
- "why": the clause that gives the reason ("because ...", "since ...", or the cause
  before "meant that", "had forced", "led to");
- yes/no: the words that settle it ("never fully quelled", "denied that ...");
- "what did X say": the quotation, or what follows "said that";
- "What is X?": what the sentence says X is ("the spokesman for ...", "which includes
  ...", "Barkhane counter-terrorism force"); "Which mission ...?": the phrase headed by
  "mission"; any other question: the clause that shares most with it.

Candidates come from ``qa.answer.phrase_patterns``; the one nearest the words the question
shares with the sentence wins, and words the question itself names are never its answer
("Who is the spokesman of MINUSMA?" is not "MINUSMA"). When the sentence holds nothing
of the kind there is no key phrase, and ``qa.answer.answering`` does not present the sentence
as the answer. Nothing here rewrites text: a key phrase is a span of the sentence.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import Stemmer

from qa.answer import phrase_patterns as patterns
from qa.answer.question_kind import (
    answer_kind,
    asked_noun,
    asks_about_a_view,
    asks_about_saying,
    asks_for_an_origin,
    specific_attribute,
)
from qa.answer.question_shape import VERB_HINTS
from qa.index.lexical import STOPWORDS, words

_stemmer = Stemmer.Stemmer("english")
# Longer text is looked at up to here: a sentence is rarely a tenth of this, and the
# patterns must stay cheap on anything a person pastes.
MAX_CHARS = 2_000
# Words that name the same people, so that "How many troops?" is answered by "4,300
# soldiers", and the same count of the dead, so that "How many lives ...?" and "How many
# deaths ...?" are answered by "53 soldiers killed". Plain English synonyms (as stems),
# not a list fitted to the question set.
_SAME_COUNT = (
    frozenset({"troop", "soldier", "forc", "personnel", "servicemen", "militari", "peacekeep"}),
    frozenset({"death", "dead", "kill", "die", "live", "fatal"}),
)
# Words of a "What is X?" question that are about the asking, not about X.
_ASKING_WORDS = frozenset(
    "signific mean role import purpos refer stand figur number happen posit includ "
    "histor past relationship".split()
)
# A name answers "who" only this close (in characters) to a word the question uses,
# or in apposition with one (``_near_the_question``): about three words.
NAME_REACH = 20
Span = tuple[int, int]


@dataclass(frozen=True)
class KeyPhrase:
    """``sentence[start:end]``: the words that answer, and which kind of answer they are."""

    start: int
    end: int
    kind: str


@dataclass(frozen=True)
class _Question:
    """What a finder and a ranking need to know of the question."""

    text: str
    kind: str
    stems: frozenset[str]


def find_key_phrase(question: str, sentence: str, kind: str | None) -> KeyPhrase | None:
    """The key phrase of ``sentence`` for ``question``, whose answer is of ``kind``
    (``question_kind.answer_kind``; None: a clause), or None when it holds none."""
    sentence = sentence[:MAX_CHARS]
    kind = kind or "clause"
    finder = _FINDERS.get(kind)
    if finder is None:
        return None
    asked = _Question(question, kind, frozenset(_stems(question)))
    candidates = [
        (start, end)
        for start, end in dict.fromkeys(finder(sentence, asked))
        if end > start and _fits(sentence, (start, end), asked)
    ]
    if not candidates:
        return None
    anchors = _anchor_positions(sentence, asked.stems)

    def rank(span: Span) -> tuple[int, ...]:
        # A count or a date: most question words in its clause ("48 of them died in
        # Mali"). A name or a place often stands in apposition ("Olivier Salgado, the
        # spokesman ..."), so for those only the nearest question word counts. A
        # clause, a statement or a yes/no answer: most question words, then shortest.
        if kind in ("number", "time", "measure"):
            said = kind == "time" and _said_then(sentence, span, question)
            shared = _shared_in_clause(sentence, span, asked.stems)
            return (said, -shared, _distance(span, anchors), span[0])
        if kind == "description":  # the first thing said of the first mention
            return (candidates.index(span),)
        if kind in ("yesno", "statement", "clause"):
            shared = _shared_in_clause(sentence, span, asked.stems)
            return (-shared, _distance(span, anchors), span[1] - span[0])
        return (_distance(span, anchors), span[0])

    start, end = min(candidates, key=rank)
    return KeyPhrase(start, end, kind)


def has_kind(text: str, kind: str | None, question: str = "") -> bool:
    """Whether ``text`` holds a candidate answer of ``kind`` (a count, a date ...) that
    fits ``question`` when one is given."""
    if question:
        return find_key_phrase(question, text, kind) is not None
    finder = _FINDERS.get(kind or "clause")
    if finder is None:
        return False
    asked = _Question("", kind or "clause", frozenset())
    return any(True for _ in finder(text[:MAX_CHARS], asked))


def gives_reason(text: str) -> bool:
    """Whether ``text`` gives a reason in one of the two ways ``reasons`` finds."""
    return any(True for _ in patterns.reasons(text[:MAX_CHARS]))


def has_place(text: str) -> bool:
    """Whether ``text`` names a place after a word of place ("in Niger")."""
    return any(True for _ in patterns.places(text[:MAX_CHARS]))


def expected_kind(question: str) -> str | None:
    """``question_kind.answer_kind``: what kind of thing ``question`` asks for."""
    return answer_kind(question)


# ---- Finders that need the question ---------------------------------------------------


def _descriptions(sentence: str, asked: _Question) -> Iterator[Span]:
    """What the sentence says a thing the question names is: its apposition ("Olivier
    Salgado, the spokesman for ..."), relative clause (", which includes ..."), the
    words that complete its name ("Barkhane counter-terrorism force"), the title before
    it ("French President Emmanuel Macron"), or the clause of a number or year."""
    subject = {s for s in asked.stems if s not in _ASKING_WORDS}
    numbers = set(re.findall(r"\d[\d,.]*\d|\d", asked.text))
    tokens = list(re.finditer(r"[\w'\u2019-]+(?:[.,]\d+)*", sentence))
    runs: list[tuple[int, int, bool]] = []  # (start, end, is a number or year)
    for token in tokens:
        text = token.group()
        is_number = text in numbers
        if not is_number and _stem_of(text) not in subject:
            continue
        if runs and sentence[runs[-1][1] : token.start()].strip() in ("", "'s", "\u2019s"):
            runs[-1] = (runs[-1][0], token.end(), runs[-1][2] or is_number)
        else:
            runs.append((token.start(), token.end(), is_number))
    cuts = patterns.clause_cuts(sentence)
    for start, end, is_number in runs:
        if is_number:
            for q_start, q_end in patterns.quantities(sentence):
                if q_start <= start < q_end and q_end > end:
                    yield q_start, q_end
            clause_start = max((c for c in cuts if c < start), default=0)
            clause_end = next((c for c in cuts if c >= end), len(sentence))
            yield patterns.trim_span(sentence, clause_start, clause_end)
            continue
        # The rest of its name: "Barkhane counter-terrorism force" (not after "X's").
        named = end
        rest = re.match(r"(?:\s+[a-z][\w-]*){1,3}", sentence[end:])
        if rest and not re.search(r"['\u2019]s?$", sentence[start:end]):
            for word in re.finditer(r"[\w-]+", rest.group()):
                bare = word.group().lower()
                if bare in STOPWORDS or bare in VERB_HINTS or bare.endswith(("ed", "ly")):
                    break
                named = end + word.end()
        for after in dict.fromkeys((end, named)):
            tail = sentence[after:]
            apposition = re.match(r",\s+((?:the|a|an)\s[^,;.\"]+)", tail)
            if apposition:
                yield patterns.trim_span(
                    sentence, after + apposition.start(1), after + apposition.end(1)
                )
            relative = re.match(r",?\s+((?:which|who|whose)\s[^,;.\"]+)", tail)
            if relative:
                yield patterns.trim_span(
                    sentence, after + relative.start(1), after + relative.end(1)
                )
        title = re.search(r"(?<![\w'\u2019-])((?:[A-Z][\w-]*\s+){1,3})$", sentence[:start])
        clause_start = max((c for c in cuts if c < start), default=0)
        if (
            title
            and not re.search(r"['\u2019]s\s*$", title.group(1))
            and title.start(1) >= clause_start
        ):
            yield patterns.trim_span(sentence, title.start(1), title.end(1))
        if named > end:
            yield start, named


def _things(sentence: str, asked: _Question) -> Iterator[Span]:
    """The phrase headed by the noun the question asks about: "Which mission ...?" ->
    "the MINUSMA peacekeeping mission"."""
    noun = asked_noun(asked.text)
    heads = {_stem_of(w) for w in noun[-1:]}
    for match in re.finditer(r"[\w-]+", sentence):
        if _stem_of(match.group()) not in heads:
            continue
        before = re.search(
            r"(?<![\w'\u2019-])((?:(?!(?:and|or|of|in|on|at|by|for|to|with|from|that|the|a|an|"
            r"its|their)\b)"
            r"[\w'\u2019-]+\s+){1,3})$",
            sentence[: match.start()],
        )
        yield (before.start(1) if before else match.start()), match.end()


def _plain(finder: Callable[[str], Iterator[Span]]) -> Callable[[str, _Question], Iterator[Span]]:
    return lambda sentence, _asked: finder(sentence)


_FINDERS: dict[str, Callable[[str, _Question], Iterator[Span]]] = {
    "number": _plain(patterns.quantities),
    "measure": _plain(patterns.measures),
    "time": _plain(patterns.times),
    "name": _plain(patterns.agents),
    "place": lambda s, q: patterns.origins(s) if asks_for_an_origin(q.text) else patterns.places(s),
    "reason": lambda s, q: itertools.chain(
        patterns.reasons(s), patterns.statements(s) if asks_about_a_view(q.text) else ()
    ),
    "yesno": lambda s, _q: itertools.chain(patterns.polar(s), patterns.clauses(s)),
    "statement": _plain(patterns.statements),
    "description": _descriptions,
    "thing": _things,
    "clause": _plain(patterns.clauses),
}


# ---- Fitting and ranking --------------------------------------------------------------


def _fits(sentence: str, span: Span, asked: _Question) -> bool:
    """Whether a candidate can answer: a name, place or phrase that only repeats the
    question is no answer, a clause must say something the question does not, and a
    count must count what is asked ("How many helicopters?" is not "48 soldiers")."""
    text = sentence[span[0] : span[1]]
    stems = {_stem_of(w) for w in words(text) if w not in STOPWORDS}
    new = stems - asked.stems
    attribute = specific_attribute(asked.text)
    if attribute and _stem_of(attribute) not in {_stem_of(w) for w in words(sentence)}:
        return False  # "What is the population of Mali?": a sentence that names none
    if asked.kind == "name":
        # "the ruling junta" answers "Who leads Mali?", not "Who did the junta bring in?"
        if patterns.is_group_phrase(text) and _stem_of(text.split()[-1]) in asked.stems:
            return False
        return bool(new) and _near_the_question(sentence, span, asked.stems)
    if asked.kind == "time" and re.match(r"(?:until|till)\s", text, re.IGNORECASE):
        # "until 2025" ends a stretch of time: no answer to "When did X happen?"
        return not re.search(r"\b(?:did|was|were|had)\b", asked.text, re.IGNORECASE) or bool(
            re.search(r"\b(?:until|till)\b", asked.text, re.IGNORECASE)
        )
    if asked.kind == "time" and _said_then(sentence, span, asked.text):
        # "the United Nations said on Thursday" says when it was said, not when the
        # mission started.
        return False
    if asked.kind == "thing" and patterns.QUANTITY_START.match(text):
        return False  # "Which European nations?" is not answered by "some 14 nations"
    if asked.kind in ("name", "place", "thing", "description", "clause", "statement"):
        return bool(new)
    if asked.kind == "yesno":
        # A clause without a word of negation or commitment answers yes only if it
        # says what the question asks: most of its words.
        polar = any(p == span for p in patterns.polar(sentence))
        return bool(new) and (polar or len(stems & asked.stems) >= 2)
    if asked.kind == "number":
        return _counts_what_is_asked(sentence, span, asked.text)
    return True


def _counts_what_is_asked(sentence: str, span: Span, question: str) -> bool:
    noun = {w.lower() for w in asked_noun(question) if w.lower() not in STOPWORDS}
    if not noun:
        # "How big ...?", "What is the size of ...?": any amount, but not a length or
        # a duration ("How much did the works cost?" is not "three years").
        return not any(m == span for m in patterns.measures(sentence))
    text = sentence[span[0] : span[1]]
    numeral = re.search(
        rf"(?:\d[\d,.]*\d|\d|\b(?:{patterns.NUMBER_WORDS})\b)"
        r"(?:\s*(?:per ?cent|percent|%|thousand|million|billion|trillion|bn|m)\b)?",
        text,
        re.IGNORECASE,
    )
    counted_text = text[numeral.end() :] if numeral else text
    counted = {w for w in words(counted_text) if w not in STOPWORDS}
    if re.search(r"\bof\s+(?:them|those|these|us)$", sentence[span[0] : span[1]]):
        counted = set(words(sentence[: span[0]]))  # what "them" is
    if not counted:
        return True  # a bare number: nothing says what it counts
    return any(_same_thing(a, c) for a in noun for c in counted)


def _same_thing(asked: str, counted: str) -> bool:
    """Whether two words (as typed) name the same thing: the same stem, synonyms
    (``_SAME_COUNT``), or one a misspelling of the other ("soliders")."""
    asked_stem, counted_stem = _stem_of(asked), _stem_of(counted)
    if asked_stem == counted_stem:
        return True
    if any(asked_stem in group and counted_stem in group for group in _SAME_COUNT):
        return True
    return len(asked) >= 5 and difflib.SequenceMatcher(None, asked, counted).ratio() >= 0.8


def _near_the_question(sentence: str, span: Span, asked: frozenset[str]) -> bool:
    """Whether a name stands by what the question asks about: within
    ``NAME_REACH`` characters of a word the question uses ("signed by France"), or
    in apposition with a phrase that holds one ("Olivier Salgado, the spokesman for
    the MINUSMA mission"), or within reach of one after its apposition ("Olivier
    Salgado, the spokesman ..., said that": who said). A name at the far end of the
    sentence is about something else ("... problems for France" does not say who
    leads Mali)."""
    anchors = _anchor_positions(sentence, asked)
    if anchors and _distance(span, anchors) <= NAME_REACH:
        return True
    apposition = re.match(r",\s+(?:the|a|an)\s[^,;.]+", sentence[span[1] :])
    if apposition is None:
        return False
    if _anchor_positions(apposition.group(), asked):
        return True
    after = span[1] + apposition.end()
    return any(after <= a <= after + NAME_REACH for a in anchors)


def _said_then(sentence: str, span: Span, question: str) -> bool:
    """Whether a date only says when something was said ("said on Thursday"), which
    answers "When did the UN comment?" but not "When did the lake freeze?"."""
    if asks_about_saying(question):
        return False
    return bool(patterns.SAID_BEFORE.search(sentence[max(0, span[0] - 40) : span[0]]))


def _stems(text: str) -> Iterator[str]:
    return (_stemmer.stemWord(w) for w in words(text) if w not in STOPWORDS)


def _stem_of(word: str) -> str:
    found = words(word)
    return _stemmer.stemWord(found[0]) if found else ""


def _anchor_positions(sentence: str, asked: frozenset[str]) -> list[int]:
    """Character offsets of the sentence's words that the question also uses."""
    return [m.start() for m in re.finditer(r"[^\W_]+", sentence) if _stem_of(m.group()) in asked]


def _shared_in_clause(sentence: str, span: Span, asked: frozenset[str]) -> int:
    """How many of the question's words the clause around a candidate holds: in "Of
    the 53 soldiers killed ..., 48 of them died in Mali", "died" and "Mali" belong to
    the clause of 48."""
    cuts = [m.end() for m in re.finditer(r"[,;:]\s", sentence)]
    start = max((c for c in cuts if c <= span[0]), default=0)
    end = min((c for c in cuts if c > span[1]), default=len(sentence))
    return len({_stemmer.stemWord(w) for w in words(sentence[start:end])} & asked)


def _distance(span: Span, anchors: list[int]) -> int:
    """Characters between a candidate and the nearest word the question shares with
    the sentence (0 when none: then the first candidate wins)."""
    if not anchors:
        return 0
    start, end = span
    return min(0 if start <= a < end else min(abs(a - start), abs(a - end)) for a in anchors)
