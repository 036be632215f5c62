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
  he say?", "How many of them died there?", "Who is its spokesman?", "When was it
  issued?") are replaced by the earlier question's subject, object, question word
  ("those who signed ...") or place, chosen by role and agreement (a person for
  "he", a plural for "they"): ``qa.answer.references``.

A question that stands on its own is returned exactly as it is: no cue, no change.
There is no parser here, only word lists and the shape of English questions, so the
rules can be wrong; ``Answer.read_as`` shows the person how a question was read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.answer.question import prepare_question
from qa.answer.question_shape import (
    AUX,
    DETERMINERS,
    OPENERS,
    PREPOSITIONS,
    TRAILING,
    WH,
    Shape,
    bare_word,
    is_place,
    parse,
)
from qa.answer.references import in_place, resolve_references

# A completed follow-up is searched with its own words too: the model's vector of the
# completed question plus this weight times that of the question as typed, because
# what a follow-up adds ("... tell reporters?") is what it asks about, while the words
# borrowed from before only say where. Set on the dev half of qa/evaluation/sets/followups.jsonl:
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
    resolved = resolve_references(rest, shapes)
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
    names = [n for n in previous.names if not in_place(n, previous)] or list(previous.names)
    if names:
        target = names[0]
        return _sentence(words[: target.start] + new + words[target.end :])
    return _sentence([*words, "—", "and", "what", "about", *new])


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
