"""From ranked passages to an answer: mark the sentence that answers, and decide
whether the corpus answers at all, and how surely.

Every threshold and weight that decides what is shown lives in the block below, with
how it was set. They were set on the dev half of qa/evaluation/sets/questions.jsonl with
``qa eval`` and never on the held-out half; the README has the current numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qa.answer.confidence import confidence_doubt, question_names
from qa.answer.key_phrase import find_key_phrase, has_kind
from qa.answer.question import echo
from qa.answer.question_kind import answer_kind
from qa.index.lexical import LexicalIndex, words
from qa.types import Answer, Hit, Quote

# ---- Thresholds and weights: the one place -------------------------------------------
# Fused score (see qa.answer.fusion) below which the best passage is taken not to answer.
# On the dev half every answerable question's best passage scores >= 0.12, while
# questions about another subject entirely ("Who won the World Cup?") score < 0.10.
# On-topic questions whose specifics are absent are caught by names, not by score.
MIN_ANSWER_SCORE = 0.11
# The same for the ablations of ``qa eval``: the earlier dense-only rule (cosine
# below 0.35), and BM25 alone (share of the question's words matched).
MIN_DENSE_SCORE = 0.35
MIN_LEXICAL_SCORE = 0.25
# The least score that answers, per ranking mode (``qa.answer.search.MODES``).
MIN_SCORES = {
    "hybrid": MIN_ANSWER_SCORE,
    "dense": MIN_DENSE_SCORE,
    "lexical": MIN_LEXICAL_SCORE,
    "rrf": MIN_DENSE_SCORE,
}
# Shown as *the* answer (``Answer.confident``) at or above this score, when the answer
# sentence also holds a phrase of the kind the question asks for and nothing says it
# answers another question (``is_confident``, ``qa.answer.confidence``). Chosen on the dev
# half with ``qa eval``'s sweep: of the thresholds that keep dev coverage at
# CALIBRATION_COVERAGE or more (the 0.6), the one whose confident answers are
# right most often (``calibration.choose``; dev, 155 questions: 65 of 72 right, 0.903,
# covering 65 of 99 answerable; 0.36 does the same, 0.40 gets 63 of 70). Precision is
# flat from 0.36 to 0.60 (0.88-0.93): what is left wrong scores high, and
# docs/quality.md has the sweep.
CONFIDENT_SCORE = 0.38
CALIBRATION_COVERAGE = 0.60
# Names, dates, places and reason words stand in nearly every sentence of a news
# article, so holding one says less than holding a count of the thing asked about:
# answers of these kinds need this much more. A question of no particular kind ("What
# happens to the peacekeepers?") is answered by a clause, which any sentence holds,
# so it needs a strong match (CONFIDENT_SCORE + CLAUSE_MARGIN = STRONG_MATCH).
COMMON_KINDS = frozenset({"name", "time", "place", "reason"})
COMMON_KIND_MARGIN = 0.08
CLAUSE_MARGIN = 0.17
# Labels, for people: a confident answer is a "good match", and a "strong match" at or
# above STRONG_MATCH; one that is not confident is a "weak match" whatever its score
# (``answer_label``). A passage alone is labelled by its score (``match_label``).
STRONG_MATCH = 0.55
GOOD_MATCH = CONFIDENT_SCORE
# Choosing the answer sentence inside a passage: cosine similarity of question and
# sentence, plus this weight times the share of the question's words the sentence
# holds, plus ANSWER_TYPE_BONUS when the sentence holds what the question asks for
# (a number for "how many", a date for "when", a name for "who").
SENTENCE_LEXICAL_WEIGHT = 0.3
ANSWER_TYPE_BONUS = 0.15
# For a why-question, a passage that gives a reason ("because", "meant that", "had
# forced": ``key_phrase.gives_reason``) scores this much more, when it scores at least
# MIN_ANSWER_SCORE to begin with (so it never turns "not found" into "found"). On the
# dev half's why-questions, hit@1 rose from 5 to 7 of 9 for any bonus from 0.04 to
# 0.15; 0.08 is in the middle of that plateau.
REASON_BONUS = 0.08
# Passages after the first count as answers too while their score is within this of
# the first one's; the rest are related passages, not answers, and the chat leaves
# them out. On the dev half every passage at rank 2 or 3 that holds an answer lies
# within 0.103 of the first (11 of 11), while 55 of the 93 that hold none lie further.
ANSWER_MARGIN = 0.12
# A passage among the first ``KIND_DEPTH`` that holds a phrase of the kind the
# question asks for (a count for "how many", a date for "when" ...) scores this much
# more, when it could answer at all (``MIN_ANSWER_SCORE``): it ranks above passages
# that do not hold one when their scores are this close. On the dev half, hit@1 went
# from 44 to 45 of 53 for a bonus of 0.03 to 0.05 (46 at 0.08 and 47 at 0.12, but
# then wrong passages that hold a name or a date climb too: confident precision fell
# below 0.93 at every threshold); docs/quality.md has the sweep.
KIND_BONUS = 0.05
# A count gets more: names and dates are everywhere in news, counts are rarer, and a
# how-many question's count decides between passages that share all its other words
# (the README's "And France?": "around 4,300 French soldiers" against the 2013 passage).
# On the dev half, any count bonus from 0.06 to 0.15 fixes that case with the rest of
# the dev table unchanged (docs/conversation.md).
COUNT_BONUS = 0.08
KIND_DEPTH = 20
# ---------------------------------------------------------------------------------------

# ---- The answer sentence -------------------------------------------------------------


def expected_answer(question: str) -> str | None:
    """What kind of thing ``question`` asks for (``question_kind.answer_kind``):
    "number", "measure", "time", "name", "place", "reason", "yesno", "statement",
    "description", "thing", or None (a question answered by a clause)."""
    return answer_kind(question)


def has_answer_type(sentence: str, kind: str | None, question: str = "") -> bool:
    """Whether ``sentence`` holds something of the ``kind`` ``expected_answer`` gave
    (that fits ``question``, when given): whether ``key_phrase`` finds it there."""
    return kind is not None and has_kind(sentence, kind, question)


def choose_sentence(
    question: str,
    sentences: Sequence[str],
    dense: np.ndarray | None,
    lexical: Sequence[float] | None,
) -> int:
    """Index of the sentence of a passage that best answers ``question``.

    ``dense`` holds each sentence's cosine similarity to the question, ``lexical`` the
    share of the question's words it holds (either may be None when a retrieval mode
    lacks it). The weights are in the block at the top of this module.
    """
    if len(sentences) <= 1:
        return 0
    kind = expected_answer(question)
    scores = np.zeros(len(sentences))
    if dense is not None:
        scores += np.asarray(dense, dtype=float)
    if lexical is not None:
        scores += SENTENCE_LEXICAL_WEIGHT * np.asarray(lexical, dtype=float)
    scores += ANSWER_TYPE_BONUS * np.array([has_answer_type(s, kind) for s in sentences])
    return int(np.argmax(scores))


# ---- Found or not --------------------------------------------------------------------


def missing_names(question: str, lexical: LexicalIndex) -> list[str]:
    """Names, acronyms and numbers of ``question`` that the corpus never mentions.

    A name is a capitalised word that does not open the question ("Britain"), an
    acronym ("GDP", also first), or a run of them ("World Cup"), missing when none of
    its words is mentioned ("Operation Barkhane" is there through "Barkhane"); a
    number is any run of digits ("2019"). Misspellings are forgiven
    (``LexicalIndex.correct``). When
    most words are capitalised (a Title Case Question) only acronyms and numbers
    count, and a question in lower case has no names to check: then the score alone
    decides.
    """
    missing = []
    for group in question_names(question):
        if not any(_mentioned(w, lexical) for w in group):
            missing.append(" ".join(group))
    return list(dict.fromkeys(missing))


def _mentioned(word: str, lexical: LexicalIndex) -> bool:
    forms = words(word)
    return all(lexical.knows(f) or lexical.correct(f) is not None for f in forms)


def is_answered(hits: Sequence[Hit], min_score: float = MIN_ANSWER_SCORE) -> bool:
    """Whether the best passage is close enough to the question to count as an answer."""
    return bool(hits) and hits[0].score >= min_score


def match_label(score: float) -> str:
    """How strong a passage's match is, in a word a reader takes in at a glance (an
    answer's label is ``answer_label``: it also says whether it is confident)."""
    if score >= STRONG_MATCH:
        return "strong match"
    if score >= GOOD_MATCH:
        return "good match"
    if score >= MIN_ANSWER_SCORE:
        return "weak match"
    return "no real match"


def not_found_message(question: str, titles: Sequence[str]) -> str:
    """Plain words for the UI when the corpus does not answer ``question``."""
    where = f"The article “{titles[0]}”" if len(titles) == 1 else "None of the articles"
    verb = "does not" if len(titles) == 1 else "do"
    return (
        f"{where} {verb} say: no passage answers “{_shorten(question)}”. "
        "The closest passage is shown below, but it is not an answer."
    )


def not_mentioned_message(names: Sequence[str], documents: int) -> str:
    """ "The article does not mention Britain or Estonia." for the names a question uses."""
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    subject = "The article does not" if documents == 1 else "The articles do not"
    return f"{subject} mention {listed}."


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- The answer shown first ------------------------------------------------------------


def answering_count(hits: Sequence[Hit], margin: float = ANSWER_MARGIN) -> int:
    """How many passages, from the first, count as answers: those within ``margin`` of
    the first one's score (``ANSWER_MARGIN``) that are no weaker than an answer can be
    (``MIN_ANSWER_SCORE``). The first always counts."""
    if not hits:
        return 0
    floor = max(hits[0].score - margin, MIN_ANSWER_SCORE)
    count = 1
    while count < len(hits) and hits[count].score >= floor:
        count += 1
    return count


def is_confident(hits: Sequence[Hit], answer: Quote | None, question: str = "") -> bool:
    """Whether ``answer`` (the quote of ``hits[0]``) is shown as *the* answer rather than
    as the closest the article comes: the best passage scores at least
    ``CONFIDENT_SCORE`` and the sentence holds a phrase of the kind the question asks
    for (its key phrase, never empty on a confident answer), and nothing says it is
    about something else (``confidence_doubt``, when ``question`` is given)."""
    if not hits or answer is None or not answer.key:
        return False
    if question and confidence_doubt(question, hits[0], answer) is not None:
        return False
    return hits[0].score >= confidence_floor(answer.kind)


def confidence_floor(kind: str | None, base: float = CONFIDENT_SCORE) -> float:
    """The score an answer whose key phrase is of ``kind`` needs to be confident, for a
    ``base`` (``CONFIDENT_SCORE``; ``qa eval`` sweeps it): more for the common kinds
    and for a clause (see the block at the top)."""
    if kind == "clause":
        return base + CLAUSE_MARGIN
    return base + (COMMON_KIND_MARGIN if kind in COMMON_KINDS else 0.0)


def answer_label(score: float, confident: bool) -> str:
    """The label of an answer (or of the passages shown with it): "strong match" or
    "good match" only when it is confident, else at most a "weak match", so a card
    never reads "the closest the article comes ... (strong match)"."""
    if confident:
        return "strong match" if score >= STRONG_MATCH else "good match"
    return "weak match" if score >= MIN_ANSWER_SCORE else "no real match"


def quote(question: str, hit: Hit, rank: int = 1) -> Quote:
    """The answer sentence of ``hit`` as a quote of its document, its key phrase marked
    (``key_phrase.find_key_phrase``; none when the sentence holds nothing of the kind the
    question asks for)."""
    start = hit.start + hit.answer_start
    found = find_key_phrase(question, hit.answer, expected_answer(question))
    key_start, key_end = (start + found.start, start + found.end) if found else (start, start)
    return Quote(
        text=hit.answer,
        key=hit.answer[key_start - start : key_end - start],
        kind=found.kind if found else None,
        source=hit.source,
        title=hit.title,
        start=start,
        end=hit.start + hit.answer_end,
        key_start=key_start,
        key_end=key_end,
        passage=rank,
        score=hit.score,
        paragraph=hit.paragraph,
        paragraphs=hit.paragraphs,
    )


def found_message(answer: Quote, confident: bool) -> str:
    """Plain words for a found answer: where it stands and how sure the match is."""
    where = f"paragraph {answer.paragraph} of {answer.paragraphs} of “{answer.title}”"
    label = answer_label(answer.score, confident)
    if confident:
        return f"Answered by {where} ({label})."
    return f"Not said in so many words: the closest the article comes is {where} ({label})."


# ---- The reply as a whole --------------------------------------------------------------


def decide(
    question: str,
    hits: Sequence[Hit],
    read_as: str,
    *,
    min_score: float,
    missing: Sequence[str],
    titles: Sequence[str],
) -> Answer:
    """The ``Answer`` to ``question``, searched as ``read_as``, from its ``hits``.

    Two signals say the corpus does not answer: a name, acronym or number of the
    question that no document mentions (``missing``: "The article does not mention
    Britain or Estonia."), or a best passage below ``min_score``. The hits are kept
    either way, so a UI can show the closest as not an answer. The answer repeats the
    question only as far as it was read (``question.echo``)."""
    question = echo(question)
    if missing:
        message = not_mentioned_message(missing, len(titles))
        return Answer(question, False, tuple(hits), message, read_as=read_as)
    if is_answered(hits, min_score):
        answer = quote(read_as, hits[0])
        confident = is_confident(hits, answer, read_as)
        count = answering_count(hits)
        return Answer(
            question,
            True,
            tuple(hits),
            found_message(answer, confident),
            answer,
            confident,
            count,
            read_as,
        )
    message = not_found_message(read_as, titles)
    return Answer(question, False, tuple(hits), message, read_as=read_as)


def missing_in_all(question: str, lexicals: Sequence[LexicalIndex]) -> list[str]:
    """The names of ``question`` that none of ``lexicals`` (the parts of a corpus)
    mentions (``missing_names``)."""
    if not lexicals:
        return []
    missing = missing_names(question, lexicals[0])
    for lexical in lexicals[1:]:
        elsewhere = set(missing_names(question, lexical))
        missing = [name for name in missing if name in elsewhere]
    return missing


def invalid(question: object, error: ValueError) -> Answer:
    """The answer to a question that cannot be searched (empty, a bad ``k``): the
    reason, in words."""
    message = str(error)
    shown = echo(str(question))
    return Answer(shown, False, (), message[:1].upper() + message[1:], read_as=shown)
