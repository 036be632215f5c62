"""What kind of thing a question asks for: a count, a length or duration, a date, a
person or group, a place, a reason, yes or no, what someone said, what a named thing is,
or a thing named by the question's noun. ``qa.answer.key_phrase`` looks for a phrase of that
kind in the answer sentence, and ``qa.answer.answering`` shows a sentence as *the* answer only
when it holds one. Word patterns, like ``qa.answer.question_shape``: no tagger.
"""

from __future__ import annotations

import re

from qa.answer.question_shape import (
    AUX,
    DETERMINERS,
    PREPOSITIONS,
    PUNCTUATION,
    WH,
    bare_word,
    verb_like,
)

# ---- What kind of thing a question asks for --------------------------------------------
# The kinds ``answer_kind`` gives, and what each asks for: a count or amount, a length
# or duration, a date, a person or group, a place, a reason, yes or no, what someone
# said, what a named thing is, or a thing named by the question's noun ("Which
# mission ..."). None: a question of no particular kind ("What happens to the
# peacekeepers?"), answered by a clause.
KINDS = (
    "number",
    "measure",
    "time",
    "name",
    "place",
    "reason",
    "yesno",
    "statement",
    "description",
    "thing",
)
# Attributes asked for in "What is the ATTRIBUTE of X?", by the kind of their answer.
_ATTRIBUTE_KINDS = {
    "number": "number size strength total population gdp cost price amount share "
    "percentage proportion rate budget toll death-toll count figure value salary",
    "measure": "length distance height width depth area duration age",
    "time": "date year day month time deadline",
    "place": "capital location city seat headquarters address venue",
    "name": "name leader president head spokesman spokeswoman chief commander owner "
    "founder author director minister",
    "reason": "reason cause purpose motive",
}
ATTRIBUTE_KIND = {w: kind for kind, ws in _ATTRIBUTE_KINDS.items() for w in ws.split()}
# Nouns after "which/what" that make the question a place, time or name question.
_PLACE_NOUNS = (
    "country|countries|city|cities|region|regions|place|places|area|areas|town|towns|"
    "state|states|province|provinces|continent|capital|village|villages|location|nation"
)
_TIME_NOUNS = "year|years|date|dates|day|days|month|months|time|decade|century|deadline"
_AGENT_NOUNS = (
    "group|groups|organisation|organization|organisations|organizations|person|people|"
    "company|companies|party|parties|official|officials|leader|leaders|mercenaries|"
    "fighters|soldiers|troops|forces|militants|contractors|allies|partners|members|"
    "team|agency|body|bodies|authority|authorities|government|governments|rulers"
)
_SPEECH_VERBS = (
    r"say|said|says|saying|tell|told|announce|announced|claim|claimed|argue|argued|state|"
    r"stated|report|reported|warn|warned|think|thinks|believe|believes|respond|responded|"
    r"reply|replied|react|reacted|view|views|comment|commented|describe|described|call|"
    r"called|blame|blamed"
)
_SPEECH_NOUNS = r"speech|statement|remarks|reaction|response|comments?|view|words|message"
_OPENER = re.compile(r"^(?:(?:and|but|so|also|then|okay|ok|well|now)\b[\s,]*)+", re.IGNORECASE)


def answer_kind(question: str) -> str | None:
    """What kind of thing ``question`` asks for: one of ``KINDS``, or None.

    Word patterns, most specific first: "What is the capital of Mali?" is a place
    question before it is a "what is" one; "Who is Olivier Salgado?" asks what a named
    person is (a description), "Who is the spokesman?" for a name.
    """
    raw = _OPENER.sub("", question.strip())
    q = raw.lower()
    if re.search(
        r"\bwhy\b|\bhow come\b|\breasons?\b|\bwhat (?:caused|led to|made|prompted|drove)\b", q
    ):
        return "reason"
    attribute = re.match(
        r"(?:what|who|which) (?:is|are|was|were) (?:the|its|their|his|her|[\w-]+'s) "
        r"(?:([\w-]+) )?([\w-]+)\b",
        q,
    )
    if attribute:
        for word in (attribute.group(2), attribute.group(1)):
            if word in ATTRIBUTE_KIND:
                return ATTRIBUTE_KIND[word]
    if _asks_what_a_thing_is(raw, q):
        return "description"
    if re.search(
        r"\bhow (?:many|much|big|large|small)\b|\bnumber of\b"
        r"|\bwhat (?:number|size|percentage|proportion|share)\b",
        q,
    ):
        return "number"
    if re.search(r"\bhow (?:long|far|tall|high|wide|deep|heavy|old)\b", q):
        return "measure"
    if re.search(rf"\bwhen\b|\b(?:what|which) (?:{_TIME_NOUNS})\b|\bhow soon\b", q):
        return "time"
    if re.search(r"\b(?:who|whom|whose)\b", q):
        return "name"
    if re.match(r"(?:what|how)\b", q) and re.search(rf"\b(?:{_SPEECH_VERBS})\b", q):
        return "statement"
    after = re.search(r"\b(?:which|what)((?: [\w-]+){1,3})", q)
    for word in after.group(1).split() if after else ():
        if word in AUX:
            break
        if re.fullmatch(_AGENT_NOUNS, word):
            return "name"
        if re.fullmatch(_PLACE_NOUNS, word):
            return "place"
    if re.search(r"\bwhere\b", q):
        return "place"
    if _starts_with_auxiliary(q):
        return "yesno"
    if re.search(rf"\b(?:{_SPEECH_NOUNS})\b", q):
        return "statement"
    if re.match(
        r"(?:what|which) (?!(?:is|are|was|were|do|does|did|has|have|had|will|would|can|"
        r"could|should|happens?|happened)\b)[\w-]+",
        q,
    ):
        return "thing"
    return None


def _asks_what_a_thing_is(raw: str, q: str) -> bool:
    """ "What is MINUSMA?", "Who is Olivier Salgado?", "What does the figure 4,300 refer
    to?", "What happened in 2013?": what a thing the question names is, or what is said
    of it. Not "Who is the UK prime minister?" (a role: a name) nor "What is the UN
    doing?" (a statement)."""
    named = re.match(
        r"(?:who|what) (?:is|are|was|were) ((?:the |an? )?(?:[A-Z\d]\S*)(?: \S+)*)",
        raw[:1].lower() + raw[1:],
    )
    if named:
        rest = named.group(1).rstrip("?!. ")
        if re.search(r"\b\w+ing\b", rest):
            return False
        owner = re.search(r"['\u2019]s ([a-z][\w-]*)", rest)
        if owner and owner.group(1) not in ("position", "role", "job", "title", "name"):
            return False  # "What is France's past relationship with Mali?"
        role = any(w[:1].islower() for w in rest.split()[1:] if w not in ("of", "the"))
        return not (q.startswith("who") and role)  # "Who is the UK prime minister?": a name
    return bool(
        re.search(
            r"\bwhat (?:is|are|was) the (?:significance|meaning|role|importance|purpose) of\b"
            r"|\bwhat (?:does|do|did) (?:the )?(?:figure |number )?[\w,.-]+ "
            r"(?:refer to|mean|stand for|include)\b"
            r"|\bwhat (?:happens|happened|will happen|is happening) (?:in|on|by|at)\b",
            q,
        )
    )


def _starts_with_auxiliary(q: str) -> bool:
    first = q.split(None, 1)[0] if q.split() else ""
    return bare_word(first) in AUX or bare_word(first) in (
        "isn't",
        "aren't",
        "didn't",
        "doesn't",
        "won't",
        "hasn't",
        "haven't",
        "wasn't",
        "weren't",
        "can't",
    )


def asked_noun(question: str) -> tuple[str, ...]:
    """The words of the noun a question asks about: "How many French soldiers ...?"
    -> ("French", "soldiers"); "Which mission ...?" -> ("mission",); () when none."""
    q = _OPENER.sub("", question.strip())
    # "What share of the Barkhane deaths ...?" counts the deaths, not shares; "How much
    # of the Sahel ...?" measures the Sahel; "What kind of mission ...?" is a mission.
    q = re.sub(r"\b(what|which) (?:kind|type|sort)s? of (?:an? )?", r"\1 ", q, flags=re.IGNORECASE)
    q = re.sub(
        r"\b(?:(?:what|which) (?:share|proportion|percentage|part|fraction)|how (?:many|much)) "
        r"of (?:the |its |their |his |her )?",
        "how many ",
        q,
        flags=re.IGNORECASE,
    )
    match = re.search(
        r"\b(?:how (?:many|much)|number of"
        r"|(?:^|\s)(?:which|what)(?! (?:is|are|was|were|do|does|did)\b))"
        r"((?: [\w'\u2019-]+){1,3})",
        q,
        re.IGNORECASE,
    )
    if not match:
        return ()
    out = []
    for word in match.group(1).split():
        bare = bare_word(word)
        if (
            bare in AUX | PREPOSITIONS | WH | DETERMINERS
            or bare in ("and", "or")
            or verb_like(bare)
        ):
            break
        out.append(word.strip(PUNCTUATION))
    return tuple(out)


_FUTURE_QUESTION = re.compile(
    r"\b(?:will|shall|won't|going to|(?:plans?|planning|intends?|expects?|hopes?) to)\b"
    r"|\b(?:next|in the future)\b",
    re.IGNORECASE,
)


def asks_about_the_future(question: str) -> bool:
    """Whether a question asks what will happen ("How many troops will stay?", "How many
    soldiers does MINUSMA plan to withdraw?"), not what is or was."""
    return bool(_FUTURE_QUESTION.search(question))


def asks_for_an_origin(question: str) -> bool:
    """Whether a where-question asks where something comes from ("Where does the
    figure come from?", "Where are the contractors from?"): then "in Mali" does not
    answer it, "from Russia" does."""
    return bool(re.search(r"\bwhere\b.*\bfrom\b", question, re.IGNORECASE))


def asks_about_saying(question: str) -> bool:
    """Whether the question is about what was said or when ("When did the UN comment?")."""
    return bool(
        re.search(
            rf"\b(?:{_SPEECH_VERBS}|{_SPEECH_NOUNS}|comment|announce\w*|talk\w*|spoke|speak\w*)\b",
            question,
            re.IGNORECASE,
        )
    )


# Attributes so specific that a sentence answers them only if it names them: "What is
# the population of Mali?" is not answered by a count of soldiers in Mali.
_SPECIFIC_ATTRIBUTES = frozenset(
    "population gdp cost price budget salary capital headquarters seat address president "
    "leader head chief commander owner founder director minister spokesman spokeswoman "
    "age height width depth area".split()
)


def specific_attribute(question: str) -> str | None:
    """The attribute a question asks for when only a sentence that names it can answer:
    "What is the population of Mali?" -> "population"; "Where is the MINUSMA
    headquarters?" -> "headquarters"; None for "What is the size of the force?"."""
    q = _OPENER.sub("", question.strip()).lower()
    match = re.match(
        r"(?:what|who|which|where) (?:is|are|was|were) (?:the|its|their|his|her|[\w-]+'s) "
        r"((?:[\w-]+ ){0,2}?[\w-]+)(?: (?:of|in|for|on)\b|[?!.]|$)",
        q,
    )
    if not match:
        return None
    for word in match.group(1).split():
        if word in _SPECIFIC_ATTRIBUTES:
            return word
    return None


_OPINION = re.compile(
    rf"\b(?:{_SPEECH_VERBS}|object|objects|oppose|opposes|criticise|criticize|criticised|"
    r"fear|fears|worry|worried|insist|insists|refuse|refuses|reject|rejects)\b",
    re.IGNORECASE,
)


def asks_about_a_view(question: str) -> bool:
    """Whether a question asks about what someone says or thinks ("Why does Macron say
    ...?", "Why do European countries object ...?"): then what they said answers it."""
    return bool(_OPINION.search(question))
