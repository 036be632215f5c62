"""Stage 6: from ranked passages to an answer: clean the question, mark the answering
sentence, and decide whether the corpus answers at all.

The thresholds that decide "found" live here, in one place, with how they were set.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

from qa.types import Hit

# Questions are cut to this many characters before the model sees them: the model
# reads at most 256 word pieces (about 1,000 characters of English), so a longer
# question only costs time. Applied before tokenising so a huge input stays cheap.
MAX_QUESTION_CHARS = 1_000
# Cosine similarity below which the best passage is taken not to answer. Set on the
# question set in tests/questions.jsonl: answerable questions score >= 0.40 with
# all-MiniLM-L6-v2, unrelated ones below 0.30; see `qa eval` for the current numbers.
MIN_ANSWER_SCORE = 0.35

# C0/C1 controls, and zero-width spaces and BOMs that would make a blank look non-empty.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u200c\u2060\ufeff]")
_SPACE = re.compile(r"\s+")


def prepare_question(question: object) -> str:
    """The question as the model should see it, or ``ValueError`` if nothing is left.

    Control characters and lone surrogates are dropped, whitespace collapsed, and the
    text cut to ``MAX_QUESTION_CHARS``.
    """
    if not isinstance(question, str):
        raise TypeError(f"question must be a string, got {type(question).__name__}")
    text = question[: MAX_QUESTION_CHARS * 4]  # bound the work below on huge inputs
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates -> "?"
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", text))
    text = _SPACE.sub(" ", text).strip()[:MAX_QUESTION_CHARS].strip()
    if not text:
        raise ValueError("question is empty: type a question about the article, e.g. "
                         "'Why is France leaving Mali?'")
    return text


def best_sentence(query: np.ndarray, sentence_vectors: np.ndarray) -> int:
    """Index of the sentence most similar to the query (vectors are unit length)."""
    return int(np.argmax(sentence_vectors @ query))


def is_answered(hits: list[Hit]) -> bool:
    """Whether the best passage is close enough to the question to count as an answer."""
    return bool(hits) and hits[0].score >= MIN_ANSWER_SCORE


def match_label(score: float) -> str:
    """How strong a match is, in a word a reader takes in at a glance."""
    if score >= 0.6:
        return "strong match"
    if score >= 0.45:
        return "good match"
    if score >= MIN_ANSWER_SCORE:
        return "weak match"
    return "no real match"


def not_found_message(question: str, titles: list[str]) -> str:
    """Plain words for the UI when the corpus does not answer ``question``."""
    where = f"The article “{titles[0]}”" if len(titles) == 1 else "None of the articles"
    verb = "does not" if len(titles) == 1 else "do"
    return (f"{where} {verb} say: no passage answers “{_shorten(question)}”. "
            "The closest passage is shown below, but it is not an answer.")


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
