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
) -> Outcome:
    question = Question("q", ("a",) if answerable else (), split)
    confident = found and kind is not None and score >= answering.confidence_floor(kind)
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
    )


OUTCOMES = [
    outcome("dev", 0.80, True),  # strong, confident, right
    outcome("dev", 0.45, True),  # good, confident, right
    outcome("dev", 0.45, False, answerable=False),  # confident but unanswerable: wrong
    outcome("dev", 0.45, True, kind="name"),  # a name needs 0.48: weak, right
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


def test_the_sweep_chooses_the_lowest_threshold_that_reaches_the_target_on_dev():
    rows = sweep(OUTCOMES, thresholds=(0.40, 0.46, 0.50))
    dev = {r.threshold: r for r in rows if r.split == "dev"}
    assert (dev[0.40].shown, dev[0.40].right) == (3, 2)  # the name is below its 0.48
    assert (dev[0.46].shown, dev[0.46].right) == (1, 1)  # the wrong 0.45 drops out
    assert (dev[0.50].shown, dev[0.50].right) == (1, 1)
    assert choose(rows, "dev", target=0.95) == 0.46
    assert choose(rows, "dev", target=0.5) == 0.40
    assert choose(rows, "heldout", target=1.1) is None
    table = format_sweep(rows, 0.50)
    assert "0.50 (chosen on dev)" in table and "heldout P" in table
