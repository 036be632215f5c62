"""Answer quality on the shipped question set, with the real model and the real article.

The floors sit a little below what ``qa eval`` measures (README, "Quality"), so that a
real regression fails here while the noise of one question does not.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import CORPUS, ROOT

from qa.answer import answering
from qa.answer.search import MODES
from qa.cli import DEFAULT_QUESTIONS, main
from qa.evaluation.calibration import CalibrationRow, calibrate, choose, sweep
from qa.evaluation.quality import Metrics, Outcome, load_questions, report, run

pytestmark = pytest.mark.slow

QUESTIONS = DEFAULT_QUESTIONS

# split -> metric -> floor (ceilings for wrong_abstention and average_chars). The
# abstention floors fell when questions that share the article's words but that it does
# not answer were added (capital, president, population ...; 82 more in dev and 20 in
# heldout for issue 21's calibration): those are caught as not confident, not as not
# found, and the calibration floors below hold them.
FLOORS = {
    "dev": {"hit_at_1": 0.80, "mrr_at_5": 0.85, "sentence_accuracy": 0.80, "abstain_recall": 0.12},
    "heldout": {
        "hit_at_1": 0.75,
        "mrr_at_5": 0.83,
        "sentence_accuracy": 0.74,
        "abstain_recall": 0.18,
    },
    "all": {"hit_at_1": 0.80, "mrr_at_5": 0.85, "sentence_accuracy": 0.78, "abstain_recall": 0.14},
}
# Confident answers on heldout (the threshold is chosen on dev, docs/quality.md). The
# issue's target is 0.93 precision at 0.6 coverage; heldout measured 0.816 and 0.635
# (90 questions, 63 answerable), so the floors that guard against a regression sit just
# below what was measured, and the target is an expected failure until it is met.
HELDOUT_CONFIDENT_PRECISION = 0.80
HELDOUT_CONFIDENT_COVERAGE = 0.60
TARGET_CONFIDENT_PRECISION = 0.93
MAX_WRONG_ABSTENTION = 0.03
MAX_AVERAGE_CHARS = 400


@pytest.fixture(scope="module")
def outcomes(real_retriever) -> dict[str, list[Outcome]]:
    return run(real_retriever, load_questions(QUESTIONS), MODES)


@pytest.fixture(scope="module")
def rows(outcomes) -> dict[tuple[str, str], Metrics]:
    return {(row.split, row.mode): row for row in report(outcomes)}


@pytest.fixture(scope="module")
def confident(outcomes) -> dict[str, CalibrationRow]:
    return {r.split: r for r in calibrate(outcomes["hybrid"]) if r.label == "confident"}


def test_confident_answers_on_heldout_hold_their_floors(confident):
    row = confident["heldout"]
    assert row.precision >= HELDOUT_CONFIDENT_PRECISION, f"precision {row.precision:.3f}"
    assert row.coverage >= HELDOUT_CONFIDENT_COVERAGE, f"coverage {row.coverage:.3f}"


@pytest.mark.xfail(
    strict=True, reason="issue 21's target: heldout confident precision measured 0.816"
)
def test_confident_answers_on_heldout_meet_the_target(confident):
    assert confident["heldout"].precision >= TARGET_CONFIDENT_PRECISION


def test_the_shipped_threshold_is_the_one_chosen_on_dev(outcomes):
    assert choose(sweep(outcomes["hybrid"]), "dev") == answering.CONFIDENT_SCORE


def test_a_confident_answer_always_has_its_key_phrase(outcomes):
    for outcome in outcomes["hybrid"]:
        if outcome.confident:
            assert outcome.key_kind is not None, outcome.question.question


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of Mali?",  # the article does not say
        pytest.param(
            "Who is Mali's president?",
            marks=pytest.mark.xfail(
                strict=True,
                reason="regressed by the dev-chosen CONFIDENT_SCORE 0.38 (was 0.40): 'French "
                "President Emmanuel Macron' scores 0.473, above the name floor 0.46 (0.48 "
                "before); docs/quality.md",
            ),
        ),
        "How many helicopters does France have in Mali?",  # only soldiers are counted
        "What is the population of Mali?",
        # Issue 21's doubts and fits (dev questions): another country's troops, a
        # question about the future answered by a fact, a date of saying, a count for
        # "which".
        "How many troops does Niger have?",
        "How many French troops will stay in the Sahel after the withdrawal?",
        "When did the UN peacekeeping mission in Mali start?",
        "Which European nations are part of Takuba?",
    ],
)
def test_what_the_article_does_not_say_is_not_answered_confidently(real_retriever, question):
    result = real_retriever.ask(question)
    assert not result.confident, (result.answer.text if result.answer else "", result.message)


@pytest.mark.parametrize(
    ("question", "key"),
    [
        ("How many peacekeepers does the UN mission have?", "about 12,000 troops"),
        ("What kind of mission is MINUSMA?", "MINUSMA peacekeeping mission"),
        ("Who said the UN would take the necessary steps to adapt?", "Olivier Salgado"),
        ("How many French soldiers are in the Sahel?", "around 4,300 French soldiers"),
    ],
)
def test_a_right_answer_is_still_confident(real_retriever, question, key):
    result = real_retriever.ask(question)
    assert result.confident and result.answer is not None and result.answer.key == key


def test_who_leads_mali_is_not_answered_with_france(real_retriever):
    result = real_retriever.ask("Who leads Mali's government?")
    assert not (result.confident and result.answer is not None and result.answer.key == "France")


@pytest.mark.parametrize("split", ["dev", "heldout", "all"])
def test_quality_floor_of_the_shipped_default(rows, split):
    row = rows[(split, "hybrid")]
    for metric, floor in FLOORS[split].items():
        assert getattr(row, metric) >= floor, (
            f"{split} {metric} {getattr(row, metric):.3f} < {floor}"
        )
    assert row.wrong_abstention <= MAX_WRONG_ABSTENTION
    assert row.abstain_precision == 1.0
    assert row.average_chars <= MAX_AVERAGE_CHARS


@pytest.mark.parametrize("ablation", [m for m in MODES if m != "hybrid"])
def test_shipped_default_beats_each_ablation(rows, ablation):
    ours, theirs = rows[("all", "hybrid")], rows[("all", ablation)]
    assert ours.mrr_at_5 > theirs.mrr_at_5
    assert ours.hit_at_1 >= theirs.hit_at_1
    assert ours.sentence_accuracy >= theirs.sentence_accuracy
    # Abstaining well: right on unanswerable questions, and not on answerable ones.
    assert (ours.abstain_recall - ours.wrong_abstention) > (
        theirs.abstain_recall - theirs.wrong_abstention
    )


def test_absent_names_are_named(real_retriever):
    result = real_retriever.ask("How many troops does Britain have in Estonia?")
    assert not result.found
    assert result.message == "The article does not mention Britain or Estonia."
    assert result.passages  # the closest passages are still there, shown as not an answer


def test_an_absent_specific_about_a_present_name_is_not_found(real_retriever):
    result = real_retriever.ask("What is the GDP of Niger?")
    assert not result.found
    assert result.message == "The article does not mention GDP."


def test_an_unrelated_question_is_not_found(real_retriever):
    assert not real_retriever.ask("What was the score of the football match last night?").found


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("How many troops does the UN have in Mali?", "about 12,000 troops"),
        ("how many troops does the un have in mali", "about 12,000 troops"),
        ("how many troops does minusma have", "about 12,000 troops"),
        ("How many French soldiers are in the Sahel?", "4,300 French soldiers"),
        ("how many soliders died in mali", "48 of them died in Mali"),
        ("takuba misson members", "14 European nations"),
    ],
)
def test_answer_sentence_is_marked(real_retriever, question, answer):
    result = real_retriever.ask(question)
    assert result.found
    assert answer in result.passages[0].answer


@pytest.mark.parametrize(
    ("question", "passage_holds"),
    [
        ("peacekepers", "peacekeeping"),
        ("Macrons speech", "Macron"),
        ("4,300", "4,300"),
        ("Takuba", "Takuba"),
        ("MINUSMA", "MINUSMA"),
    ],
)
def test_typos_names_and_numbers_find_their_passage(real_retriever, question, passage_holds):
    hit = real_retriever.search(question, k=1)[0]
    assert passage_holds in hit.text


def test_scores_are_in_unit_range_and_ordered(real_retriever):
    for question in ("Why is France leaving Mali?", "Who won the World Cup?", "takuba"):
        hits = real_retriever.search(question, k=5)
        scores = [h.score for h in hits]
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert scores == sorted(scores, reverse=True)


def test_qa_eval_prints_the_table(tmp_path, capsys):
    questions = tmp_path / "mine.jsonl"
    questions.write_text(
        json.dumps({"question": "Who is the spokesman for MINUSMA?", "answers": ["Salgado"]})
        + "\n"
        + json.dumps({"question": "Who won the World Cup?", "answers": []})
        + "\n",
        encoding="utf-8",
    )
    code = main(
        [
            "-q",
            "eval",
            str(questions),
            "--modes",
            "hybrid,lexical",
            "--corpus",
            str(CORPUS),
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "| split | mode" in out and "MRR@5" in out and "p50 ms" in out
    assert "| all   | hybrid  |   1 |     1 | 1.000 |" in out


def test_qa_eval_rejects_an_unknown_mode(capsys):
    assert main(["eval", str(QUESTIONS), "--modes", "hybrid,bogus"]) == 2
    assert "unknown mode 'bogus'" in capsys.readouterr().err


def test_the_confidence_signals_bench_reports_on_dev(outcomes):
    """bench/confidence_signals.py (docs/quality.md's table of signals not kept) runs,
    counts dev's confident answers as ``qa eval`` does, and lists each wrong one."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "confidence_signals.py")],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    dev = [o for o in outcomes["hybrid"] if o.question.split == "dev"]
    shown = sum(o.confident for o in dev)
    right = sum(o.confident and o.answer_right for o in dev)
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"dev: {shown} confident answers, {right} right, ")
    assert [line.split("|")[1].strip() for line in lines[3:5]] == ["covered", "left out"]
    assert all(" / " in line.split("|")[4] for line in lines[3:5])
    assert sum(line.startswith("wrong: ") for line in lines) == shown - right
