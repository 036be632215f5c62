"""qa.evaluation.calibration: how often confident answers and each label were right, and the sweep
that chooses CONFIDENT_SCORE on dev."""

from __future__ import annotations

from qa.answer import answering
from qa.evaluation.calibration import calibrate, choose, format_calibration, format_sweep, sweep
from qa.evaluation.quality import Outcome, Question


def outcome(
    split: str,
    score: float,
    right: bool,
    *,
    answerable: bool = True,
    kind: str | None = "number",
    found: bool = True,
    doubt: str | None = None,
) -> Outcome:
    question = Question("q", ("a",) if answerable else (), split)
    confident = (
        found and kind is not None and doubt is None and score >= answering.confidence_floor(kind)
    )
    return Outcome(
        question,
        1 if right else None,
        right,
        found,
        0.01,
        100,
        confident=confident,
        answer_right=found and right,
        score=score,
        key_kind=kind,
        doubt=doubt,
    )


OUTCOMES = [
    outcome("dev", 0.80, True),  # strong, confident, right
    outcome("dev", 0.45, True),  # good, confident, right
    outcome("dev", 0.45, False, answerable=False),  # confident but unanswerable: wrong
    outcome("dev", 0.45, True, kind="name"),  # a name needs 0.46: weak, right
    outcome("dev", 0.45, True, kind=None),  # no key phrase: weak
    outcome("dev", 0.05, False, found=False),  # not found
    outcome("heldout", 0.60, True),
    outcome("heldout", 0.42, False),
]


def test_calibration_counts_confident_and_each_label():
    rows = {(r.split, r.label): r for r in calibrate(OUTCOMES)}
    confident = rows[("dev", "confident")]
    assert (confident.shown, confident.right, confident.answerable) == (3, 2, 5)
    assert confident.precision == 2 / 3 and confident.coverage == 2 / 5
    assert (rows[("dev", "strong match")].shown, rows[("dev", "good match")].shown) == (1, 2)
    weak = rows[("dev", "weak match")]
    assert (weak.shown, weak.right) == (2, 2)
    assert rows[("all", "confident")].shown == 5
    table = format_calibration(calibrate(OUTCOMES))
    assert "| dev     | confident    |" in table and "precision" in table


def test_the_sweep_chooses_the_most_precise_threshold_that_keeps_coverage_on_dev():
    rows = sweep(OUTCOMES, thresholds=(0.38, 0.46, 0.50))
    dev = {r.threshold: r for r in rows if r.split == "dev"}
    assert (dev[0.38].shown, dev[0.38].right) == (3, 2)  # the name is below its 0.46
    assert (dev[0.46].shown, dev[0.46].right) == (1, 1)  # the wrong 0.45 drops out
    assert (dev[0.50].shown, dev[0.50].right) == (1, 1)
    assert choose(rows, "dev", min_coverage=0.4) == 0.38  # 0.46 covers 1 of 5 only
    # Precision 1.0 at 0.46 and 0.50, covering as many: the more cautious one.
    assert choose(rows, "dev", min_coverage=0.2) == 0.50
    assert choose(rows, "dev", min_coverage=0.5) is None
    table = format_sweep(rows, 0.50)
    assert "0.50 (chosen on dev)" in table and "heldout P" in table


def test_an_answer_with_a_doubt_is_confident_at_no_threshold():
    doubted = [outcome("dev", 0.90, False, answerable=False, doubt="names")]
    assert not doubted[0].confident
    assert all(r.shown == 0 for r in sweep(doubted, thresholds=(0.30, 0.50, 0.70)))
    assert calibrate(doubted)[0].shown == 0
