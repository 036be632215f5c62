"""How well follow-up questions are read in context: the follow-up table of ``qa eval``
and the check that history never makes a stand-alone question's answer worse.

A follow-up set is a question set (``qa.evaluation.quality``) whose lines carry ``history``::

    {"history": ["How many troops does the UN have in Mali?"], "question": "And France?",
     "answers": ["4,300 French soldiers"], "split": "dev"}
    {"history": ["Why is France leaving Mali?"], "question": "Who won the World Cup?",
     "answers": [], "standalone": true, "split": "dev"}

Each is asked twice, alone and after its history: hit@1 compares the two. A line
marked ``standalone`` must be searched exactly as typed (``Answer.read_as`` equal to
the question): "kept" is the share of those that were.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from qa.evaluation.quality import DEPTH, Question, contains_answer
from qa.retriever import Retriever
from qa.types import Answer


@dataclass(frozen=True)
class FollowUpOutcome:
    """One follow-up asked alone and after its history."""

    question: Question
    alone: Answer
    in_context: Answer

    @property
    def rewritten(self) -> bool:
        return self.in_context.read_as != self.question.question


@dataclass(frozen=True)
class FollowUpMetrics:
    """One row of the follow-up table."""

    split: str
    questions: int
    answerable: int
    hit_at_1_alone: float  # answerable questions with an answer first, asked alone
    hit_at_1_history: float  # ... asked after their history
    refused_alone: float  # unanswerable questions refused, asked alone
    refused_history: float  # ... asked after their history
    standalone: int  # questions that must be searched as typed
    kept: float  # share of those that were

    def to_dict(self) -> dict[str, object]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in vars(self).items()}


@dataclass(frozen=True)
class Regression:
    """A stand-alone question whose answer got worse when asked after ``previous``."""

    question: Question
    previous: str
    read_as: str
    rank_alone: int | None
    rank_after: int | None
    found_alone: bool
    found_after: bool


def run_followups(retriever: Retriever, questions: Iterable[Question]) -> list[FollowUpOutcome]:
    """Ask every question alone and after its history."""
    return [
        FollowUpOutcome(
            q, retriever.ask(q.question, k=DEPTH), retriever.ask(q.question, DEPTH, q.history)
        )
        for q in questions
    ]


def summarize_followups(outcomes: Sequence[FollowUpOutcome], split: str) -> FollowUpMetrics:
    answerable = [o for o in outcomes if o.question.answerable]
    unanswerable = [o for o in outcomes if not o.question.answerable]
    standalone = [o for o in outcomes if o.question.standalone]
    return FollowUpMetrics(
        split=split,
        questions=len(outcomes),
        answerable=len(answerable),
        hit_at_1_alone=_share(_first_is_right(o.question, o.alone) for o in answerable),
        hit_at_1_history=_share(_first_is_right(o.question, o.in_context) for o in answerable),
        refused_alone=_share(not o.alone.found for o in unanswerable),
        refused_history=_share(not o.in_context.found for o in unanswerable),
        standalone=len(standalone),
        kept=_share(not o.rewritten for o in standalone),
    )


def report_followups(outcomes: Sequence[FollowUpOutcome]) -> list[FollowUpMetrics]:
    """One row per split, in file order, then all together."""
    splits = list(dict.fromkeys(o.question.split for o in outcomes))
    groups = [*splits, "all"] if len(splits) > 1 else splits
    return [
        summarize_followups(
            [o for o in outcomes if split == "all" or o.question.split == split], split
        )
        for split in groups
    ]


def history_regressions(
    retriever: Retriever, questions: Sequence[Question], seed: int = 0
) -> list[Regression]:
    """Ask each question alone, then after a random other one (seeded), and list those
    whose answer got worse: the right passage ranked lower, an answer refused, or an
    unanswerable question answered."""
    rng = random.Random(seed)
    worse = []
    for index, question in enumerate(questions):
        others = [q.question for i, q in enumerate(questions) if i != index]
        if not others:
            continue
        previous = rng.choice(others)
        alone = retriever.ask(question.question, k=DEPTH)
        after = retriever.ask(question.question, DEPTH, [previous])
        rank_alone, rank_after = _rank(question, alone), _rank(question, after)
        if question.answerable:
            lower = (rank_alone or DEPTH + 1) < (rank_after or DEPTH + 1)
            got_worse = lower or (alone.found and not after.found)
        else:
            got_worse = not alone.found and after.found
        if got_worse:
            worse.append(
                Regression(
                    question,
                    previous,
                    after.read_as,
                    rank_alone,
                    rank_after,
                    alone.found,
                    after.found,
                )
            )
    return worse


_COLUMNS = (
    ("split", "split", "{}"),
    ("questions", "questions", "{}"),
    ("answerable", "ans", "{}"),
    ("hit_at_1_alone", "hit@1 alone", "{:.3f}"),
    ("hit_at_1_history", "hit@1 with history", "{:.3f}"),
    ("refused_alone", "refused alone", "{:.3f}"),
    ("refused_history", "refused with history", "{:.3f}"),
    ("standalone", "standalone", "{}"),
    ("kept", "kept as typed", "{:.3f}"),
)


def format_followup_table(rows: Sequence[FollowUpMetrics]) -> str:
    """A Markdown table, one row per split."""
    header = [title for _, title, _ in _COLUMNS]
    body = [[fmt.format(getattr(row, name)) for name, _, fmt in _COLUMNS] for row in rows]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = (
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in body)])


def _first_is_right(question: Question, answer: Answer) -> bool:
    return bool(answer.passages) and contains_answer(answer.passages[0].text, question.answers)


def _rank(question: Question, answer: Answer) -> int | None:
    return next(
        (i for i, h in enumerate(answer.passages, 1) if contains_answer(h.text, question.answers)),
        None,
    )


def _share(flags: Iterable[bool]) -> float:
    values = list(flags)
    return sum(values) / len(values) if values else 0.0
