"""How well the retriever answers a question set: the metrics and table of ``qa eval``.

A question set is a JSON Lines file, one question per line::

    {"question": "How many troops does the UN have in Mali?", "answers": ["about 12,000 troops"]}
    {"question": "What is the GDP of Niger?", "answers": []}
    {"question": "Who speaks for MINUSMA?", "answers": ["Olivier Salgado"], "split": "heldout"}

``answers`` are short texts of the article that answer the question (any one will
do); an empty list means the article does not answer it. A follow-up question also
has ``history``, the questions asked before it (oldest first), and may say
``"standalone": true`` when it must be searched exactly as typed (see
``qa.evaluation.followups``). A passage is a hit when it
contains one of them, and the marked sentence is right when it does; matching
ignores case, runs of white space and the style of quotes and apostrophes. ``split``
is optional: questions are reported per split (e.g. "dev" to tune on, "heldout" to
report), and all together when there is no split.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from qa.answer import answering
from qa.answer.search import MODES
from qa.retriever import Retriever

# Hits looked at per question: MRR@5 needs five.
DEPTH = 5
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})
_SPACE = re.compile(r"\s+")


class QuestionSetError(ValueError):
    """A question file is malformed; the message names the file and line."""


@dataclass(frozen=True)
class Question:
    """One line of a question set; ``answers`` empty when the corpus does not answer."""

    question: str
    answers: tuple[str, ...]
    split: str = "all"
    history: tuple[str, ...] = ()  # earlier questions of the conversation, oldest first
    standalone: bool | None = None  # True: must be searched as typed, despite history

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


@dataclass(frozen=True)
class Outcome:
    """What one retrieval mode did with one question."""

    question: Question
    rank: int | None  # 1-based rank of the first passage holding an answer, within DEPTH
    sentence_right: bool  # the first passage's marked sentence holds an answer
    found: bool  # ask() said the corpus answers
    seconds: float  # time of search() alone
    first_chars: int  # length of the first passage shown
    confident: bool = False  # ask() showed its sentence as *the* answer
    answer_right: bool = False  # found, and the sentence ask() showed holds an answer
    score: float = 0.0  # the best passage's score
    key_kind: str | None = None  # the kind of the answer's key phrase; None: it has none
    doubt: str | None = None  # why it cannot be confident at any score (answering.confidence_doubt)


@dataclass(frozen=True)
class Metrics:
    """The row of the ``qa eval`` table for one mode on one split."""

    mode: str
    split: str
    answerable: int
    unanswerable: int
    hit_at_1: float
    hit_at_3: float
    mrr_at_5: float
    sentence_accuracy: float
    abstain_precision: float
    abstain_recall: float
    wrong_abstention: float
    average_chars: float
    p50_ms: float

    def to_dict(self) -> dict[str, object]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in vars(self).items()}


def normalise(text: str) -> str:
    """Lower case, one space for any white space, straight quotes: for matching answers."""
    return _SPACE.sub(" ", text.translate(_QUOTES)).strip().lower()


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    """Whether ``text`` contains any of ``answers`` (see the module doc for matching)."""
    haystack = normalise(text)
    return any(normalise(a) in haystack for a in answers)


def load_questions(path: str | Path) -> list[Question]:
    """Read a question set (format in the module doc); errors name the file and line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise QuestionSetError(
            f"{path}: no such question file. Give a JSON Lines file, one "
            '{"question": ..., "answers": [...]} per line.'
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionSetError(f"{path}: cannot be read as UTF-8 text ({exc}).") from None
    questions = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        questions.append(_parse(line, f"{path}:{number}"))
    if not questions:
        raise QuestionSetError(f"{path}: holds no questions; add one JSON object per line.")
    return questions


def _parse(line: str, where: str) -> Question:
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise QuestionSetError(f"{where}: not valid JSON ({exc}).") from None
    if not isinstance(data, dict):
        raise QuestionSetError(
            f"{where}: each line must be a JSON object, got {type(data).__name__}."
        )
    question, answers = data.get("question"), data.get("answers")
    if not isinstance(question, str) or not question.strip():
        raise QuestionSetError(f'{where}: "question" must be a non-empty string.')
    if not isinstance(answers, list) or not all(isinstance(a, str) and a.strip() for a in answers):
        raise QuestionSetError(
            f'{where}: "answers" must be a list of non-empty strings '
            "(texts of the article that answer), or [] when the article does not answer."
        )
    split = data.get("split", "all")
    if not isinstance(split, str) or not split:
        raise QuestionSetError(f'{where}: "split" must be a non-empty string when given.')
    history = data.get("history", [])
    if not isinstance(history, list) or not all(isinstance(h, str) and h.strip() for h in history):
        raise QuestionSetError(
            f'{where}: "history" must be a list of the earlier questions (non-empty '
            "strings), oldest first."
        )
    standalone = data.get("standalone")
    if standalone is not None and not isinstance(standalone, bool):
        raise QuestionSetError(f'{where}: "standalone" must be true or false when given.')
    return Question(question, tuple(answers), split, tuple(history), standalone)


def run(
    retriever: Retriever,
    questions: Sequence[Question],
    modes: Sequence[str] = MODES,
) -> dict[str, list[Outcome]]:
    """Every question under every mode; modes alternate per question, so that a busy
    machine slows them alike and their latencies compare within the run."""
    variants = {mode: retriever.with_mode(mode) for mode in modes}
    outcomes: dict[str, list[Outcome]] = {mode: [] for mode in modes}
    if not questions:
        return outcomes
    for variant in variants.values():  # load the model and warm caches before timing
        variant.search(questions[0].question, k=DEPTH)
    for question in questions:
        for mode, variant in variants.items():
            began = time.perf_counter()
            hits = variant.search(question.question, k=DEPTH)
            seconds = time.perf_counter() - began
            answer = variant.ask(question.question, k=DEPTH)
            shown = answer.answer if answer.found else None
            rank = next(
                (i for i, h in enumerate(hits, 1) if contains_answer(h.text, question.answers)),
                None,
            )
            sentence_right = bool(hits) and contains_answer(hits[0].answer, question.answers)
            first_chars = len(hits[0].text) if hits else 0
            outcomes[mode].append(
                Outcome(
                    question,
                    rank,
                    sentence_right,
                    answer.found,
                    seconds,
                    first_chars,
                    confident=answer.confident,
                    answer_right=shown is not None
                    and contains_answer(shown.text, question.answers),
                    score=answer.passages[0].score if answer.passages else 0.0,
                    key_kind=shown.kind if shown is not None and shown.key else None,
                    doubt=answering.confidence_doubt(answer.read_as, answer.passages[0], shown)
                    if shown is not None and shown.key
                    else None,
                )
            )
    return outcomes


def summarize(outcomes: Sequence[Outcome], mode: str, split: str) -> Metrics:
    """The metrics of one mode over ``outcomes`` (one split's questions).

    Ranking and sentence metrics count answerable questions; abstention precision is
    the share of "not in the article" answers that were right, recall the share of
    unanswerable questions that got one; wrong abstention is the share of answerable
    questions that got one. Latency covers every question.
    """
    answerable = [o for o in outcomes if o.question.answerable]
    unanswerable = [o for o in outcomes if not o.question.answerable]
    abstained = [o for o in outcomes if not o.found]
    ranks = [o.rank for o in answerable]
    return Metrics(
        mode=mode,
        split=split,
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        hit_at_1=_share(r == 1 for r in ranks),
        hit_at_3=_share(r is not None and r <= 3 for r in ranks),
        mrr_at_5=_mean(1.0 / r if r else 0.0 for r in ranks),
        sentence_accuracy=_share(o.sentence_right for o in answerable),
        abstain_precision=_share(not o.question.answerable for o in abstained),
        abstain_recall=_share(not o.found for o in unanswerable),
        wrong_abstention=_share(not o.found for o in answerable),
        average_chars=_mean(o.first_chars for o in outcomes),
        p50_ms=1000 * statistics.median(o.seconds for o in outcomes) if outcomes else 0.0,
    )


def report(outcomes: dict[str, list[Outcome]]) -> list[Metrics]:
    """One ``Metrics`` per split and mode, splits in file order, then all together."""
    splits = list(dict.fromkeys(o.question.split for o in next(iter(outcomes.values()))))
    groups = [*splits, "all"] if len(splits) > 1 else splits
    rows = []
    for split in groups:
        for mode, items in outcomes.items():
            chosen = [o for o in items if split == "all" or o.question.split == split]
            rows.append(summarize(chosen, mode, split))
    return rows


_COLUMNS = (
    ("split", "split", "{}"),
    ("mode", "mode", "{}"),
    ("answerable", "ans", "{}"),
    ("unanswerable", "unans", "{}"),
    ("hit_at_1", "hit@1", "{:.3f}"),
    ("hit_at_3", "hit@3", "{:.3f}"),
    ("mrr_at_5", "MRR@5", "{:.3f}"),
    ("sentence_accuracy", "sentence", "{:.3f}"),
    ("abstain_precision", "abst.P", "{:.3f}"),
    ("abstain_recall", "abst.R", "{:.3f}"),
    ("wrong_abstention", "wrong abst.", "{:.3f}"),
    ("average_chars", "chars", "{:.0f}"),
    ("p50_ms", "p50 ms", "{:.1f}"),
)


def format_table(rows: Sequence[Metrics]) -> str:
    """A Markdown table, one row per mode and split (it reads fine in a terminal too)."""
    header = [title for _, title, _ in _COLUMNS]
    body = [[fmt.format(getattr(row, field)) for field, _, fmt in _COLUMNS] for row in rows]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return (
            "| "
            + " | ".join(
                c.rjust(w) if i > 1 else c.ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
            + " |"
        )

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in body)])


def _share(flags: Iterable[bool]) -> float:
    values = list(flags)
    return sum(values) / len(values) if values else 0.0


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0
