"""Follow-up questions read in the context of the conversation, by rules, not a model.

A person chats: after "How many troops does the UN have in Mali?" comes "And France?",
and after "Who is the spokesman for MINUSMA?" comes "What did he say?". Searched as
typed, those find nothing useful. ``read_in_context`` turns such a follow-up into the
question it stands for, from the questions before it:

- **ellipsis**: "And France?", "What about in the Sahel?", "Takuba?", "In total?" put
  the new thing in the place of the earlier question's subject or of its matching
  prepositional phrase ("How many troops does France have in Mali?");
- **a bare question word**: "Why?", "By when?", "Where?" take the earlier question's
  frame ("By when will the allies stay engaged?");
- **pronouns and "there"** with nothing to refer to in the question itself ("What did
  he say?", "How many of them died there?", "Who is its spokesman?") are replaced by
  the earlier question's subject, object or place, chosen by role and agreement
  (a person for "he", a plural for "they").

A question that stands on its own is returned exactly as it is: no cue, no change.
There is no parser here, only word lists and the shape of English questions, so the
rules can be wrong; ``Answer.read_as`` shows the person how a question was read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.answering import prepare_question
from qa.question_shape import (
    AUX,
    BE,
    DETERMINERS,
    OPENERS,
    PLACE_PREPOSITIONS,
    PREPOSITIONS,
    SUBJECT_PRONOUNS,
    TRAILING,
    WH,
    Phrase,
    Shape,
    bare_word,
    is_place,
    nounish,
    parse,
)

# A completed follow-up is searched with its own words too: the model's vector of the
# completed question plus this weight times that of the question as typed, because
# what a follow-up adds ("... tell reporters?") is what it asks about, while the words
# borrowed from before only say where. Set on the dev half of tests/followups.jsonl:
# hit@1 19/28 with the completed question alone, 20 at 0.2, 21 at 0.35, 22 from 0.5 to 1.
OWN_WORDS_WEIGHT = 0.5
# Earlier questions looked at, most recent first; each read in context of those before.
MAX_HISTORY = 3
# A follow-up fragment ("And France?", "What about the Takuba mission?") has at most
# this many words after its opener; a longer one is a question of its own.
MAX_FRAGMENT_WORDS = 6
# Without an opener, a fragment must be this short and end with "?" ("Takuba?"), so a
# keyword search ("russian mercenaries in mali") is never taken for a follow-up.
MAX_BARE_FRAGMENT_WORDS = 3

_OBJECT_PRONOUNS = frozenset("him it them".split())
_POSSESSIVES = frozenset("his its their".split())
_DEMONSTRATIVES = frozenset("this that these those".split())
_PERSONAL = frozenset("he she him his her".split())
_PLURAL_PRONOUNS = frozenset("they them their".split())
# Nouns that name a person: "he" and "she" refer to these, "it" never does.
_PERSON_NOUNS = frozenset(
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
_ADVERBS = frozenset("really why ok okay yes no sure right thanks please again".split())


def read_in_context(question: str, history: Sequence[str] = ()) -> str:
    """``question`` as it would be asked on its own, given the earlier ``history``
    (oldest first); ``question`` itself, unchanged, when it stands alone.

    >>> read_in_context("And France?", ["How many troops does the UN have in Mali?"])
    'How many troops does France have in Mali?'
    """
    previous = _readings(_check_history(history))
    if not previous:
        return question
    return _resolve(question, previous) or question


def _check_history(history: Sequence[str] | None) -> list[str]:
    if history is None:
        return []
    if isinstance(history, (str, bytes)) or not isinstance(history, Sequence):
        raise TypeError(
            "history must be a list of the earlier questions (strings), oldest first; "
            f"got {type(history).__name__}"
        )
    cleaned = []
    for item in list(history)[-MAX_HISTORY:]:
        if not isinstance(item, str):
            raise TypeError(f"history must hold strings, got {type(item).__name__}")
        try:
            cleaned.append(prepare_question(item))
        except ValueError:
            continue  # an empty earlier question gives no context
    return cleaned


def _readings(history: list[str]) -> list[str]:
    """Each earlier question read in the context of those before it, most recent first."""
    read: list[str] = []
    for question in history:
        read.insert(0, (_resolve(question, read) or question) if read else question)
    return read


def _resolve(question: str, previous: list[str]) -> str | None:
    """The completed question, or None when ``question`` stands on its own."""
    body = TRAILING.sub("", question).split()
    if not body:
        return None
    opener = bare_word(body[0]) in OPENERS
    rest = body[1:] if opener else body
    if rest[:2] and bare_word(rest[0]) in ("what", "how") and bare_word(rest[1]) == "about":
        opener, rest = True, rest[2:]  # "What about the UN?"
    if not rest:
        return None
    shapes = [parse(p) for p in previous]
    fragment = _is_fragment(rest, opener, question.rstrip().endswith("?"))
    if fragment == "wh":
        return _ask_again(rest, shapes[0])
    if fragment == "phrase":
        return _substitute(rest, shapes[0])
    resolved = _resolve_references(rest, shapes)
    if resolved is None:
        return None
    return _sentence(resolved)


def _is_fragment(rest: list[str], opener: bool, asks: bool) -> str | None:
    """ "wh" for a bare question word ("Why?", "By when?"), "phrase" for a noun or
    prepositional phrase ("France?", "And in the Sahel?"), None for a full question."""
    bare = [bare_word(w) for w in rest]
    limit = MAX_FRAGMENT_WORDS if opener else MAX_BARE_FRAGMENT_WORDS
    if len(bare) > limit or (not opener and not asks):
        return None
    wh_at = next((i for i, w in enumerate(bare) if w in WH), None)
    if wh_at is not None:
        # "By when?", "Why?", "How many?": nothing after the question words but fillers.
        tail = [w for w in bare[wh_at + 1 :] if w not in ("many", "much", "long", "date", "year")]
        before_ok = all(w in PREPOSITIONS for w in bare[:wh_at])
        return "wh" if before_ok and not tail else None
    if any(w in AUX for w in bare) or all(w in _ADVERBS for w in bare):
        return None
    return "phrase"


def _ask_again(rest: list[str], previous: Shape) -> str | None:
    """The earlier question asked with a new question word: "Where will the allies
    stay?" + "By when?" = "By when will the allies stay?"."""
    fragment = " ".join(w.strip("?!.,") for w in rest)
    words = previous.words
    if previous.aux is not None:
        tail = words[previous.aux : previous.aux + 1]
        if previous.wh_noun is not None and previous.subject == previous.wh_noun:
            # "What new fears have emerged?" -> "Where have new fears emerged?"
            tail = (*tail, *previous.wh_noun.words)
        return _sentence([fragment, *tail, *words[previous.aux + 1 :]])
    return _sentence([f"{fragment}:", _lower_first(" ".join(words))])


def _substitute(rest: list[str], previous: Shape) -> str | None:
    """The earlier question with ``rest`` in the place of its matching part."""
    words = list(previous.words)
    new = [w.strip("?!.,") for w in rest]
    first = bare_word(new[0])
    if first in PREPOSITIONS | DETERMINERS:
        new[0] = new[0].lower()  # "In total?" goes inside a sentence
    if first in PREPOSITIONS:
        # A place replaces the earlier place ("in Mali" -> "in the Sahel"); anything
        # else replaces a phrase with the same preposition that is not a place
        # ("for MINUSMA" -> "for Takuba"), or is added ("... died in Mali in total").
        if is_place(first, new[1:]):
            same = [phrase for _, phrase in previous.places]
        else:
            same = [ph for p, ph in previous.phrases if p == first and not is_place(p, ph.words)]
        if same:
            phrase = same[-1]
            return _sentence(words[: phrase.start - 1] + new + words[phrase.end :])
        return _sentence([*words, *new])
    if bare_word(new[-1]) in ("one", "ones") and previous.wh_noun is not None:
        # "What about French ones?" -> the same noun with the new modifier.
        noun = previous.wh_noun
        replaced = [*new[:-1], noun.words[-1]]
        return _sentence(words[: noun.start] + replaced + words[noun.end :])
    if not _is_name(new):
        # A common noun ("the elections"): asked about alongside the earlier question.
        return _sentence([*words, "—", "and", "what", "about", *new])
    if previous.subject is not None and previous.subject != previous.wh_noun:
        target = previous.subject
        return _sentence(words[: target.start] + new + words[target.end :])
    if previous.wh_noun is not None:
        noun = previous.wh_noun
        modifiers = [i for i in range(noun.start, noun.end - 1) if words[i][:1].isupper()]
        if modifiers:  # "How many French soldiers ..." -> "How many UN soldiers ..."
            stripped = [w for w in new if bare_word(w) != "the"]
            return _sentence(words[: modifiers[0]] + stripped + words[modifiers[-1] + 1 :])
        return _sentence([*words[: noun.end], "of", *new, *words[noun.end :]])
    names = [n for n in previous.names if not _in_place(n, previous)] or list(previous.names)
    if names:
        target = names[0]
        return _sentence(words[: target.start] + new + words[target.end :])
    return _sentence([*words, "—", "and", "what", "about", *new])


def _resolve_references(rest: list[str], shapes: list[Shape]) -> list[str] | None:
    """``rest`` with each pronoun, "there" and "how many of them" that has nothing to
    refer to in the question replaced from the earlier questions; None if none."""
    words = [w.strip("?!") for w in rest]
    bare = [bare_word(w) for w in words]
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
        if _is_reference(bare, i) and not _has_antecedent(words, bare, i):
            phrase = _antecedent(low, bare, i, shapes)
            if phrase is not None:
                if low in _POSSESSIVES or (low == "her" and i + 1 < len(bare)):
                    out.append(_possessive(phrase))
                else:
                    out += phrase
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


def _is_reference(bare: list[str], i: int) -> bool:
    word = bare[i]
    # Not "this"/"that": they stand for whole events, which no phrase replaces.
    return word in SUBJECT_PRONOUNS | _POSSESSIVES | {"him", "them", "her"}


def _has_antecedent(words: list[str], bare: list[str], i: int) -> bool:
    """Whether something before position ``i`` can be what the pronoun there means:
    a name, or a noun phrase with an article ("the allies ... their")."""
    for j in range(i):
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


def _antecedent(pronoun: str, bare: list[str], i: int, shapes: list[Shape]) -> list[str] | None:
    """What ``pronoun`` (at position ``i``) stands for, from the most recent question
    that offers something that agrees with it."""
    as_subject = pronoun in SUBJECT_PRONOUNS and (i == 0 or bare[i - 1] in AUX | WH)
    as_object = not as_subject and pronoun not in _POSSESSIVES
    for shape in shapes:
        candidates: list[Phrase] = []
        if as_object:
            candidates += [*reversed(shape.objects)]
        if shape.subject is not None:
            candidates.append(shape.subject)
        if shape.wh_noun is not None and shape.wh_noun not in candidates:
            candidates.append(shape.wh_noun)
        candidates += [n for n in shape.names if not _in_place(n, shape)]
        for phrase in candidates:
            if _agrees(pronoun, phrase):
                return _with_article(phrase, shape)
    return None


def _agrees(pronoun: str, phrase: Phrase) -> bool:
    person = _is_person(phrase)
    plural = _is_plural(phrase)
    if pronoun in _PERSONAL:
        return (person or _is_proper(phrase)) and not plural
    if pronoun in _PLURAL_PRONOUNS:
        return plural
    return not person and not plural  # it, its


def _is_person(phrase: Phrase) -> bool:
    heads = [bare_word(w) for w in phrase.words]
    if any(w in _PERSON_NOUNS for w in heads):
        return True
    capitals = [w for w in phrase.words if w[:1].isupper() and not w.isupper()]
    return len(capitals) >= 2 and len(capitals) == len(phrase.words)  # "Olivier Salgado"


def _is_proper(phrase: Phrase) -> bool:
    return all(w[:1].isupper() for w in phrase.words if bare_word(w) != "the") and not any(
        w.isupper() and len(w) > 1 for w in phrase.words
    )


def _is_plural(phrase: Phrase) -> bool:
    if "and" in (bare_word(w) for w in phrase.words):
        return True
    head = phrase.head
    if phrase.words[-1].isupper() or phrase.words[-1][:1].isupper():
        return head.endswith("ians") or head.endswith("eans")  # "the Europeans"
    return head.endswith("s") and not head.endswith(("ss", "us", "is"))


def _group_of(shapes: list[Shape]) -> list[str] | None:
    """The group "how many of them" counts: the earlier "how many X", owned by the
    earlier subject when there is one ("France's troops")."""
    for shape in shapes:
        noun = shape.wh_noun
        if noun is not None:
            subject = shape.subject
            if subject is not None and subject != noun and not _is_plural(subject):
                return ["of", _possessive(list(subject.words)), *noun.words]
            return list(noun.words)
        if shape.subject is not None and _is_plural(shape.subject):
            return ["of", *shape.subject.words]
    return None


def _place_of(shapes: list[Shape]) -> list[str]:
    """ "there" as the most recent place named ("in Mali"), or nothing at all."""
    for shape in shapes:
        if shape.places:
            return ["in", *shape.places[-1][1].words]
    return []


def _same_head(noun: str, shapes: list[Shape]) -> list[str] | None:
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


def _possessive(words: list[str]) -> str:
    text = " ".join(words)
    return text + ("'" if text.endswith("s") else "'s")


def _in_place(name: Phrase, shape: Shape) -> bool:
    return any(name.start >= p.start and name.end <= p.end for _, p in shape.places)


def _is_name(words: list[str]) -> bool:
    return any(w[:1].isupper() for w in words if bare_word(w) not in DETERMINERS)


def _lower_first(text: str) -> str:
    first = text.split(" ", 1)[0]
    if first.isupper() and len(first) > 1:
        return text  # an acronym keeps its capitals
    return text[:1].lower() + text[1:]


def _sentence(words: Sequence[str]) -> str:
    """Words joined into a question: one space, a capital first, one "?" at the end."""
    text = " ".join(w for w in words if w)
    text = re.sub(r"\s+([,;:])", r"\1", text)
    text = TRAILING.sub("", text)
    return text[:1].upper() + text[1:] + "?"
