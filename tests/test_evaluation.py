"""qa.evaluation.quality: question files, answer matching, metrics by hand, and the table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CORPUS

import qa
from qa.answer.search import MODES
from qa.cli import DEFAULT_FOLLOWUPS, DEFAULT_QUESTIONS
from qa.evaluation.quality import (
    Outcome,
    Question,
    QuestionSetError,
    contains_answer,
    format_table,
    load_questions,
    report,
    run,
    summarize,
)


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_questions_reads_answers_and_splits(tmp_path):
    path = _write(
        tmp_path,
        [
            json.dumps({"question": "Q1?", "answers": ["a", "b"], "split": "dev"}),
            "",
            json.dumps({"question": "Q2?", "answers": []}),
        ],
    )
    assert load_questions(path) == [
        Question("Q1?", ("a", "b"), "dev"),
        Question("Q2?", (), "all"),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", r"questions.jsonl:2: not valid JSON"),
        ('["a list"]', r"questions.jsonl:2: each line must be a JSON object"),
        ('{"answers": []}', r'questions.jsonl:2: "question" must be a non-empty string'),
        ('{"question": "Q?", "answers": "text"}', r'questions.jsonl:2: "answers" must be a list'),
        ('{"question": "Q?", "answers": [""]}', r'"answers" must be a list of non-empty strings'),
        ('{"question": "Q?", "answers": [], "split": 3}', r'"split" must be a non-empty string'),
    ],
)
def test_load_questions_names_the_line_that_is_wrong(tmp_path, line, message):
    path = _write(tmp_path, [json.dumps({"question": "ok?", "answers": []}), line])
    with pytest.raises(QuestionSetError, match=message):
        load_questions(path)


def test_load_questions_reports_a_missing_or_empty_file(tmp_path):
    with pytest.raises(QuestionSetError, match="no such question file"):
        load_questions(tmp_path / "absent.jsonl")
    with pytest.raises(QuestionSetError, match="holds no questions"):
        load_questions(_write(tmp_path, [""]))


def test_shipped_question_set_is_valid_and_large_enough():
    questions = load_questions(DEFAULT_QUESTIONS)
    article = (CORPUS / "france-allies-begin-military-withdrawal-from-mali.txt").read_text("utf-8")
    assert len(questions) >= 60
    assert sum(not q.answerable for q in questions) >= 10
    assert {q.split for q in questions} == {"dev", "heldout"}
    for split in ("dev", "heldout"):
        assert sum(not q.answerable for q in questions if q.split == split) >= 10
    for q in questions:  # every answer is text of the article, so a hit is possible
        assert all(contains_answer(article, [a]) for a in q.answers), q.question
    assert len({q.question for q in questions}) == len(questions)


def test_contains_answer_ignores_case_space_and_quote_style():
    text = "Macron said  France\u2019s\nwithdrawal was \u201cbound to impact\u201d the UN."
    assert contains_answer(text, ["france's withdrawal"])
    assert contains_answer(text, ['"bound to impact"'])
    assert contains_answer(text, ["nothing", "the un"])
    assert not contains_answer(text, ["Niger"])
    assert not contains_answer(text, [])


def _outcome(answers, rank, sentence, found, ms=10.0, chars=100):
    return Outcome(Question("q", tuple(answers)), rank, sentence, found, ms / 1000, chars)


def test_summarize_computes_each_metric():
    outcomes = [
        _outcome(["a"], 1, True, True, ms=10, chars=100),
        _outcome(["a"], 2, False, True, ms=20, chars=200),
        _outcome(["a"], None, False, False, ms=30, chars=300),  # wrongly abstained
        _outcome(["a"], 4, False, True, ms=40, chars=400),
        _outcome([], None, False, False, ms=50, chars=500),  # rightly abstained
        _outcome([], None, False, True, ms=60, chars=600),  # answered, wrongly
    ]
    m = summarize(outcomes, "hybrid", "dev")
    assert (m.answerable, m.unanswerable) == (4, 2)
    assert m.hit_at_1 == pytest.approx(1 / 4)
    assert m.hit_at_3 == pytest.approx(2 / 4)
    assert m.mrr_at_5 == pytest.approx((1 + 1 / 2 + 0 + 1 / 4) / 4)
    assert m.sentence_accuracy == pytest.approx(1 / 4)
    assert m.abstain_precision == pytest.approx(1 / 2)
    assert m.abstain_recall == pytest.approx(1 / 2)
    assert m.wrong_abstention == pytest.approx(1 / 4)
    assert m.average_chars == pytest.approx(350)
    assert m.p50_ms == pytest.approx(35)


def test_summarize_of_nothing_is_zero_not_a_crash():
    m = summarize([], "dense", "all")
    assert m.hit_at_1 == 0 and m.abstain_precision == 0 and m.p50_ms == 0


def test_report_and_table_cover_every_split_and_mode():
    dev = Question("q", ("a",), "dev")
    held = Question("q", (), "heldout")
    outcomes = {
        mode: [Outcome(dev, 1, True, True, 0.01, 100), Outcome(held, None, False, False, 0.02, 90)]
        for mode in ("hybrid", "dense")
    }
    rows = report(outcomes)
    assert [(r.split, r.mode) for r in rows] == [
        ("dev", "hybrid"),
        ("dev", "dense"),
        ("heldout", "hybrid"),
        ("heldout", "dense"),
        ("all", "hybrid"),
        ("all", "dense"),
    ]
    table = format_table(rows).splitlines()
    assert table[0].startswith("| split") and "hit@1" in table[0] and "p50 ms" in table[0]
    assert len(table) == 2 + len(rows)
    assert "| dev " in table[2] and "1.000" in table[2]


def test_run_with_every_mode_on_the_article(tmp_path, fake_embedder):
    retriever = qa.Retriever.from_corpus(CORPUS, cache_dir=tmp_path, embedder=fake_embedder)
    questions = [
        Question("How many troops does MINUSMA have?", ("about 12,000 troops",), "dev"),
        Question("How many troops does Britain have in Estonia?", (), "dev"),
    ]
    outcomes = run(retriever, questions)
    assert list(outcomes) == list(MODES)
    for items in outcomes.values():
        assert [o.question for o in items] == questions
        assert all(o.seconds > 0 and 0 < o.first_chars <= 400 for o in items)
    for mode in ("hybrid", "lexical"):  # the fake embedder knows no "MINUSMA"; BM25 does
        assert outcomes[mode][0].rank == 1 and outcomes[mode][0].sentence_right
    assert not outcomes["hybrid"][1].found  # Britain and Estonia are named, and absent
    assert run(retriever, [], ["hybrid"]) == {"hybrid": []}


# Follow-up questions: the same format, plus history


def test_load_questions_reads_history_and_standalone(tmp_path):
    path = _write(
        tmp_path,
        [
            json.dumps({"history": ["Q1?"], "question": "And Q2?", "answers": ["a"]}),
            json.dumps(
                {"history": ["Q1?", "Q2?"], "question": "Q3?", "answers": [], "standalone": True}
            ),
        ],
    )
    assert load_questions(path) == [
        Question("And Q2?", ("a",), "all", ("Q1?",)),
        Question("Q3?", (), "all", ("Q1?", "Q2?"), True),
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"history": "Q1?"}, r'"history" must be a list of the earlier questions'),
        ({"history": ["Q1?", ""]}, r'"history" must be a list'),
        ({"history": [3]}, r'"history" must be a list'),
        ({"standalone": "yes"}, r'"standalone" must be true or false'),
    ],
)
def test_load_questions_names_a_bad_history(tmp_path, extra, message):
    path = _write(tmp_path, [json.dumps({"question": "Q?", "answers": [], **extra})])
    with pytest.raises(QuestionSetError, match=rf"questions\.jsonl:1: {message}"):
        load_questions(path)


def test_shipped_follow_up_set_is_valid_and_large_enough():
    questions = load_questions(DEFAULT_FOLLOWUPS)
    article = (CORPUS / "france-allies-begin-military-withdrawal-from-mali.txt").read_text("utf-8")
    assert len(questions) >= 40 and all(q.history for q in questions)
    assert {q.split for q in questions} == {"dev", "heldout"}
    for split in ("dev", "heldout"):
        half = [q for q in questions if q.split == split]
        assert len(half) >= 20
        assert sum(bool(q.standalone) for q in half) >= 5  # must not be rewritten
        assert sum(not q.answerable for q in half) >= 2  # must stay refusals
    for q in questions:
        assert all(contains_answer(article, [a]) for a in q.answers), q.question
