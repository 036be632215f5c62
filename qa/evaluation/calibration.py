"""How far an answer shown as *the* answer can be trusted: the calibration tables of
``qa eval``.

For each split, the precision of ``confident`` (the share of confident answers whose
sentence holds an answer; a confident answer to a question the article does not answer
is wrong) and its coverage (the share of answerable questions that got a confident
right answer), and the same for each label an answer is shown with ("strong match",
"good match", "weak match": ``answering.answer_label``). Then a sweep of
``answering.CONFIDENT_SCORE``: the threshold is chosen on the ``dev`` split (of those
that keep coverage at ``answering.CALIBRATION_COVERAGE`` or more, the one with the best
precision) and reported, not tuned, on ``heldout``. The sweep is exact: the ranking, the
key phrases and the doubts (``qa.answer.confidence``) do not depend on the threshold, so each
outcome's score, key phrase kind and doubt say what any threshold does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qa.answer.answering import (
    CALIBRATION_COVERAGE,
    CONFIDENT_SCORE,
    answer_label,
    confidence_floor,
)
from qa.evaluation.quality import Outcome

LABELS = ("confident", "strong match", "good match", "weak match")
# Thresholds the sweep tries: CONFIDENT_SCORE's candidates.
THRESHOLDS = tuple(round(0.30 + 0.02 * i, 2) for i in range(16))


class _Rates:
    """Precision and coverage from the counts of a row (``shown``, ``right``,
    ``answerable``), and the row as JSON with them."""

    shown: int
    right: int
    answerable: int

    @property
    def precision(self) -> float:
        return self.right / self.shown if self.shown else 0.0

    @property
    def coverage(self) -> float:
        return self.right / self.answerable if self.answerable else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            **vars(self),
            "precision": round(self.precision, 4),
            "coverage": round(self.coverage, 4),
        }


@dataclass(frozen=True)
class CalibrationRow(_Rates):
    """How often answers shown one way (``label``) were right, on one split."""

    split: str
    label: str
    shown: int  # answers shown with this label (or confident)
    right: int  # of those, the ones whose sentence holds an answer
    answerable: int  # answerable questions of the split


@dataclass(frozen=True)
class SweepRow(_Rates):
    """What one threshold would do on one split."""

    split: str
    threshold: float
    shown: int
    right: int
    answerable: int


def calibrate(outcomes: Sequence[Outcome]) -> list[CalibrationRow]:
    """One row per split (in file order, then "all") and label (``LABELS``)."""
    rows = []
    for split, chosen in _by_split(outcomes):
        answerable = sum(o.question.answerable for o in chosen)
        for label in LABELS:
            shown = [
                o for o in chosen if _label(o) == label or (label == "confident" and o.confident)
            ]
            rows.append(
                CalibrationRow(
                    split, label, len(shown), sum(o.answer_right for o in shown), answerable
                )
            )
    return rows


def sweep(outcomes: Sequence[Outcome], thresholds: Sequence[float] = THRESHOLDS) -> list[SweepRow]:
    """Each split's confident answers at each of ``thresholds`` (as ``CONFIDENT_SCORE``)."""
    rows = []
    for split, chosen in _by_split(outcomes):
        answerable = sum(o.question.answerable for o in chosen)
        for threshold in thresholds:
            shown = [o for o in chosen if _confident_at(o, threshold)]
            rows.append(
                SweepRow(
                    split, threshold, len(shown), sum(o.answer_right for o in shown), answerable
                )
            )
    return rows


def choose(
    rows: Sequence[SweepRow], split: str = "dev", min_coverage: float = CALIBRATION_COVERAGE
) -> float | None:
    """Of the thresholds at which ``split``'s confident answers cover at least
    ``min_coverage`` of its answerable questions, the one whose confident answers are
    right most often; of equals, the one that covers most, then the highest (the most
    cautious of thresholds that do the same). None if no threshold covers that many."""
    covering = [r for r in rows if r.split == split and r.shown and r.coverage >= min_coverage]
    if not covering:
        return None
    return max(covering, key=lambda r: (round(r.precision, 9), r.right, r.threshold)).threshold


def format_calibration(rows: Sequence[CalibrationRow]) -> str:
    """A Markdown table: per split, each label's answers, right ones, precision, coverage."""
    header = ["split", "shown as", "answers", "right", "precision", "coverage"]
    body = [
        [r.split, r.label, str(r.shown), str(r.right), f"{r.precision:.3f}", f"{r.coverage:.3f}"]
        for r in rows
    ]
    return _table(header, body, left=2)


def format_sweep(rows: Sequence[SweepRow], chosen: float | None) -> str:
    """A Markdown table: one line per threshold, each split's precision and coverage;
    the threshold chosen on dev and the shipped one marked."""
    splits = list(dict.fromkeys(r.split for r in rows))
    header = ["threshold", *(f"{s} {m}" for s in splits for m in ("conf.", "P", "cov."))]
    body = []
    for threshold in dict.fromkeys(r.threshold for r in rows):
        marks = []
        if chosen is not None and abs(threshold - chosen) < 1e-9:
            marks.append("chosen on dev")
        if abs(threshold - CONFIDENT_SCORE) < 1e-9:
            marks.append("shipped")
        cells = [f"{threshold:.2f}" + (f" ({', '.join(marks)})" if marks else "")]
        for split in splits:
            row = next(r for r in rows if r.split == split and r.threshold == threshold)
            cells += [str(row.shown), f"{row.precision:.3f}", f"{row.coverage:.3f}"]
        body.append(cells)
    return _table(header, body)


def _confident_at(outcome: Outcome, threshold: float) -> bool:
    return (
        outcome.found
        and outcome.key_kind is not None
        and outcome.doubt is None
        and outcome.score >= confidence_floor(outcome.key_kind, threshold)
    )


def _label(outcome: Outcome) -> str:
    return answer_label(outcome.score, outcome.confident) if outcome.found else "not found"


def _by_split(outcomes: Sequence[Outcome]) -> list[tuple[str, list[Outcome]]]:
    splits = list(dict.fromkeys(o.question.split for o in outcomes))
    groups = [*splits, "all"] if len(splits) > 1 else splits
    return [(s, [o for o in outcomes if s == "all" or o.question.split == s]) for s in groups]


def _table(header: Sequence[str], body: Sequence[Sequence[str]], left: int = 1) -> str:
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = (
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in body)])
