"""Pronouns, "there" and "how many of them" in a follow-up, resolved from the earlier
questions: "When was it issued?" after "Who signed the joint statement?" is "When was
the joint statement issued?". ``qa.answer.conversation`` calls ``resolve_references`` for a
follow-up that is a full question rather than a fragment.

A pronoun is replaced only when nothing before it in the question itself can be what
it means; then the earlier questions are searched, the most recent first, and in each
the parts are tried in an order set by the pronoun's role (after Hobbs, "Resolving
pronoun references", Lingua 44, 1978, and the centering ranking subject > object >
the rest, Grosz, Joshi and Weinstein, Computational Linguistics 21(2), 1995, with the
pronoun's own role first: a subject pronoun looks at the earlier subject first, an
object pronoun at the earlier object), keeping the first that agrees in number and
person. Word lists, not a parser: ``Answer.read_as`` shows how a question was read.
"""

from __future__ import annotations

from collections.abc import Sequence

from qa.answer.question_shape import (
    AUX,
    BE,
    COPULA,
    DETERMINERS,
    PLACE_PREPOSITIONS,
    WH,
    Phrase,
    Shape,
    bare_word,
    nounish,
    parse,
    verb_like,
)

_POSSESSIVES = frozenset("his its their".split())
_DEMONSTRATIVES = frozenset("this that these those".split())
_PERSONAL = frozenset("he she him his her".split())
_PLURAL_PRONOUNS = frozenset("they them their".split())
# Nouns that name a person: "he" and "she" refer to these, "it" never does; after
# "their" or "its" they name a role that an organisation fills ("their spokesman").
PERSON_NOUNS = frozenset(
    "spokesman spokeswoman spokesperson president leader minister premier chief "
    "general commander official officer man woman king queen prince ambassador "
    "envoy secretary chancellor head director ceo founder author reporter soldier "
    "colonel captain mayor governor senator judge".split()
)
# Relational nouns: "the size of its army" does not give "its" an antecedent.
_RELATIONAL = frozenset(
    "size number name cost role position reason date aim goal strength length impact "
    "end start part rest head leader spokesman future history".split()
)
# Words after "it" that make it an event or a claim, not a thing named before.
_EVENT_WORDS = frozenset(
    "happen happened happens mean means meant matter matters true false possible so "
    "right wrong".split()
)
# Past participles that do not end in -ed: "When was that said?".
_PARTICIPLES = frozenset("said told sent made brought kept held done written signed".split())
# How adjectives of nationality end: "French", "British", "Chinese", "Malian".
_ADJECTIVE_ENDINGS = ("ch", "sh", "ese", "an", "ic")
_DATE_NAMES = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday january february march "
    "april may june july august september october november december".split()
)
# An earlier "who"/"whom" stands for people: "those who ..." for "they", "the one
# who ..." for "he"; never for "it".
_CLAUSE_LEAD = {
    "they": ("those",),
    "them": ("those",),
    "he": ("the", "one"),
    "she": ("the", "one"),
    "him": ("the", "one"),
    "her": ("the", "one"),
}


def resolve_references(rest: Sequence[str], shapes: Sequence[Shape]) -> list[str] | None:
    """``rest`` (the follow-up's words) with each pronoun, "there" and "how many of
    them" that has nothing to refer to in the question replaced from ``shapes`` (the
    earlier questions, most recent first); None if nothing was replaced."""
    words = [w.strip("?!") for w in rest]
    bare = [bare_word(w) for w in words]
    own = _own_subject(words)
    changed = False
    out: list[str] = []
    i = 0
    while i < len(words):
        word, low = words[i], bare[i]
        if (
            low in ("many", "much")
            and i >= 1
            and bare[i - 1] == "how"
            and i + 2 < len(words)
            and bare[i + 1] == "of"
            and bare[i + 2] in ("them", "those", "these")
            and not _has_antecedent(words, bare, i)
        ):
            noun = _group_of(shapes)
            if noun is not None:
                out += [word, *noun]
                i += 3
                changed = True
                continue
        if (
            low == "many"
            and i >= 1
            and bare[i - 1] == "how"
            and i + 1 < len(words)
            and (bare[i + 1] in AUX or bare[i + 1].endswith("ed"))  # "how many died?"
        ):
            noun = _group_of(shapes)
            if noun is not None:
                out += [word, *noun]
                i += 1
                changed = True
                continue
        if low == "there" and _is_place_there(bare, i) and not _has_place(bare[:i]):
            place = _place_of(shapes)
            out += place
            i += 1
            changed = True
            continue
        role = _role(bare, i)
        if role is not None:
            pronoun = low
            if low in _DEMONSTRATIVES:  # "Who issued that?": a thing, as "it" or "them"
                pronoun = "it" if low in ("this", "that") else "them"
            bound = own if role == "object" else None
            if not _has_antecedent(words, bare, i, bound):
                found = _antecedent(pronoun, role, bare, i, shapes)
                # Once an earlier replacement has put it in the question, the pronoun
                # has its antecedent there: "Why did those who signed the joint
                # statement sign it?", not "... sign the joint statement?".
                if found is not None and not _contains(out, found):
                    out += [possessive(found)] if role == "possessive" else found
                    i += 1
                    changed = True
                    continue
        if low in _DEMONSTRATIVES and i + 1 < len(words) and nounish(bare[i + 1]):
            phrase = _same_head(bare[i + 1], shapes)
            if phrase is not None and not _has_antecedent(words, bare, i):
                out += phrase
                i += 2
                changed = True
                continue
        out.append(word)
        i += 1
    return out if changed else None


def _contains(words: Sequence[str], phrase: Sequence[str]) -> bool:
    n = len(phrase)
    return any(list(words[j : j + n]) == list(phrase) for j in range(len(words) - n + 1))


def _role(bare: list[str], i: int) -> str | None:
    """ "subject", "object" or "possessive" for a pronoun at ``i``; None for any other
    word, and for "this"/"that" standing for a whole event ("Why is that?")."""
    word = bare[i]
    after = bare[i + 1] if i + 1 < len(bare) else ""
    before = bare[i - 1] if i else ""
    if word in _POSSESSIVES or (word == "her" and after):
        return "possessive"
    if word in ("he", "she", "they"):
        return "subject"
    if word == "it":
        if after in _EVENT_WORDS:
            return None  # "Why did it happen?", "Is it true?": an event, not a phrase
        # "When was it issued?", "said it will": a subject; "Who signed it?": an object.
        subject = not before or before in AUX | WH or after in AUX or verb_like(after)
        return "subject" if subject else "object"
    if word in ("him", "them"):
        return "object"
    if word in _DEMONSTRATIVES:
        # Only where a thing is meant: "Who issued that?" (after a verb, last) and
        # "When was that issued?" (before a participle). Not "Why is that?", "Is
        # that true?", nor "the statement that France signed".
        if not after and before not in AUX and verb_like(before):
            return "object"
        participle = after.endswith("ed") or (after in _PARTICIPLES)
        if before in BE and participle:
            return "subject"
    return None


def _own_subject(words: list[str]) -> Phrase | None:
    """The subject of the follow-up itself: an object pronoun never means it ("What
    do European countries say about them?" does not mean the European countries)."""
    if not words or any(not w for w in words):
        return None
    return parse(" ".join(words)).subject


def _has_antecedent(words: list[str], bare: list[str], i: int, bound: Phrase | None = None) -> bool:
    """Whether something before position ``i`` can be what the pronoun there means:
    a name, or a noun phrase with an article ("the allies ... their"). ``bound``, the
    clause's own subject for an object pronoun, does not count."""
    for j in range(i):
        if bound is not None and bound.start <= j < bound.end:
            continue
        if j > 0 and words[j][:1].isupper() and bare[j] not in WH | AUX | {"i"}:
            return True
        if words[j].isupper() and len(bare[j]) > 1:
            return True
        if bare[j] in ("the", "a", "an") and j + 1 < i and nounish(bare[j + 1]):
            after = next((k for k in range(j + 1, i) if not nounish(bare[k])), i)
            if after < len(bare) and bare[after] == "of" and bare[after - 1] in _RELATIONAL:
                continue  # "the size of its army": a measure, not what "its" means
            return True
    return False


def _is_place_there(bare: list[str], i: int) -> bool:
    """ "there" as a place ("died there"), not the empty subject of "are there" or
    "there is"."""
    before = bare[i - 1] if i else ""
    after = bare[i + 1] if i + 1 < len(bare) else ""
    return before not in BE and after not in AUX | {"'s", "seems", "remain", "remains"}


def _has_place(bare: list[str]) -> bool:
    return any(
        w in PLACE_PREPOSITIONS and j + 1 < len(bare) and nounish(bare[j + 1])
        for j, w in enumerate(bare)
    )


def _antecedent(
    pronoun: str, role: str, bare: list[str], i: int, shapes: Sequence[Shape]
) -> list[str] | None:
    """What ``pronoun`` (at ``i``, in ``role``) stands for: from the most recent
    earlier question that offers something that agrees with it."""
    office = role == "possessive" and i + 1 < len(bare) and bare[i + 1] in PERSON_NOUNS
    for shape in shapes:
        if office and pronoun in ("its", "their"):
            # "Who is their spokesman?" after "How many troops does France have in
            # Mali?": a spokesman speaks for an organisation or a country, not for
            # the troops; "their" is used for one as well ("the UN ... their").
            for phrase in _names(shape, subject_first=True):
                if _is_organisation(phrase):
                    return list(phrase.words)
        for candidate in _candidates(shape, role):
            if candidate is None:
                clause = _who_clause(shape, pronoun)
                if clause is not None:
                    return clause
            elif _agrees(pronoun, candidate):
                return _with_article(candidate, shape)
    return None


def _candidates(shape: Shape, role: str) -> list[Phrase | None]:
    """The parts of an earlier question in the order a pronoun in ``role`` tries
    them; None marks the place of the question word itself ("Who signed ...?")."""
    subject = [shape.subject] if shape.subject is not None else []
    wh_noun = [shape.wh_noun] if shape.wh_noun is not None else []
    names = _names(shape)
    if role == "subject":
        return [*subject, *wh_noun, None, *shape.objects, *names]
    if role == "object":
        return [*reversed(shape.objects), None, *subject, *wh_noun, *names]
    return [*subject, *wh_noun, *names, *shape.objects]


def _names(shape: Shape, *, subject_first: bool = False) -> list[Phrase]:
    """The earlier question's names that can stand for a pronoun: not a place ("in
    Mali"), a day or a month, nor an adjective ("French" in "French soldiers")."""
    names = [
        n
        for n in shape.names
        if not in_place(n, shape) and not _is_date(n) and not _is_adjective(n, shape.words)
    ]
    subject = shape.subject
    if subject_first and subject is not None and subject in names:
        names.remove(subject)
        names.insert(0, subject)
    return names


def _who_clause(shape: Shape, pronoun: str) -> list[str] | None:
    """For "they"/"he" after a question that asks "who": the people it asks about, in
    its own words. "Who signed the joint statement?" gives "those who signed the joint
    statement"; "Whom has the junta deployed?" gives "those the junta has deployed"."""
    lead = _CLAUSE_LEAD.get(pronoun)
    if lead is None or shape.wh is None:
        return None
    words = shape.words
    start, end = shape.wh
    if bare_word(words[start]) not in ("who", "whom") or end >= len(words):
        return None
    subject, aux = shape.subject, shape.aux
    if subject is None:  # "who" is the subject: "Who signed the joint statement?"
        return [*lead, "who", *words[end:]]
    if aux is None or bare_word(words[aux]) in COPULA or subject.end >= len(words):
        return None  # "Who is the spokesman?" names a person: the subject stands for it
    return [*lead, *subject.words, words[aux], *words[subject.end :]]


def _is_adjective(name: Phrase, words: Sequence[str]) -> bool:
    """A capitalised word of nationality before a noun: "French soldiers", "European
    countries", "Russian contractors"; not "the UN spokesman" (a name as modifier)."""
    if len(name.words) != 1 or name.end >= len(words) or not words[name.end][:1].islower():
        return False
    return bare_word(name.words[0]).endswith(_ADJECTIVE_ENDINGS)


def _is_date(phrase: Phrase) -> bool:
    """ "Thursday", "February": a name, but not of anything a pronoun stands for."""
    return phrase.head in _DATE_NAMES


def _agrees(pronoun: str, phrase: Phrase) -> bool:
    if _is_date(phrase):
        return False
    person = _is_person(phrase)
    plural = is_plural(phrase)
    if pronoun in _PERSONAL:
        return (person or _is_proper(phrase)) and not plural
    if pronoun in _PLURAL_PRONOUNS:
        return plural
    return not person and not plural  # it, its


def _is_person(phrase: Phrase) -> bool:
    heads = [bare_word(w) for w in phrase.words]
    if any(w in PERSON_NOUNS for w in heads):
        return True
    capitals = [w for w in phrase.words if w[:1].isupper() and not w.isupper()]
    return len(capitals) >= 2 and len(capitals) == len(phrase.words)  # "Olivier Salgado"


def _is_proper(phrase: Phrase) -> bool:
    return all(w[:1].isupper() for w in phrase.words if bare_word(w) != "the") and not any(
        w.isupper() and len(w) > 1 for w in phrase.words
    )


def _is_organisation(phrase: Phrase) -> bool:
    """A name that is not a person's: "France", "the UN", "MINUSMA"."""
    named = all(w[:1].isupper() for w in phrase.words if bare_word(w) != "the")
    return named and not _is_person(phrase)


def is_plural(phrase: Phrase) -> bool:
    if "and" in (bare_word(w) for w in phrase.words):
        return True
    head = phrase.head
    if phrase.words[-1].isupper() or phrase.words[-1][:1].isupper():
        return head.endswith("ians") or head.endswith("eans")  # "the Europeans"
    return head.endswith("s") and not head.endswith(("ss", "us", "is"))


def _group_of(shapes: Sequence[Shape]) -> list[str] | None:
    """The group "how many of them" counts: the earlier "how many X", owned by the
    earlier subject when there is one ("France's troops")."""
    for shape in shapes:
        noun = shape.wh_noun
        if noun is not None:
            subject = shape.subject
            if subject is not None and subject != noun and not is_plural(subject):
                return ["of", possessive(list(subject.words)), *noun.words]
            return list(noun.words)
        if shape.subject is not None and is_plural(shape.subject):
            return ["of", *shape.subject.words]
    return None


def _place_of(shapes: Sequence[Shape]) -> list[str]:
    """ "there" as the most recent place named ("in Mali"), or nothing at all."""
    for shape in shapes:
        if shape.places:
            return ["in", *shape.places[-1][1].words]
    return []


def _same_head(noun: str, shapes: Sequence[Shape]) -> list[str] | None:
    """For "that mission": the earlier phrase with the same head noun."""
    stem = noun.rstrip("s")
    for shape in shapes:
        for phrase in (shape.subject, shape.wh_noun, *shape.objects, *shape.names):
            if phrase is not None and phrase.head.rstrip("s") == stem:
                return _with_article(phrase, shape)
    return None


def _with_article(phrase: Phrase, shape: Shape) -> list[str]:
    """The phrase as it can stand anywhere: "UN mission" -> "the UN mission"."""
    words = list(phrase.words)
    if phrase == shape.wh_noun and bare_word(words[0]) not in DETERMINERS:
        return ["the", *words]
    return words


def possessive(words: Sequence[str]) -> str:
    """ "France" -> "France's", "the troops" -> "the troops'"."""
    text = " ".join(words)
    return text + ("'" if text.endswith("s") else "'s")


def in_place(name: Phrase, shape: Shape) -> bool:
    """Whether ``name`` is inside one of the places of ``shape`` ("in Mali")."""
    return any(name.start >= p.start and name.end <= p.end for _, p in shape.places)
