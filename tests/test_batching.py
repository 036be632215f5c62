"""Batches: questions answered together get exactly the answers they get alone, each its
own, from ``Retriever.search_batch``/``ask_batch`` and from ``Batcher`` across threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import qa
from qa.cli import DEFAULT_FOLLOWUPS, DEFAULT_QUESTIONS
from qa.evaluation.quality import load_questions
from qa.serve.batching import Batcher

QUESTIONS = [q.question for q in load_questions(DEFAULT_QUESTIONS)]
FOLLOWUPS = load_questions(DEFAULT_FOLLOWUPS)


def key(hits: list[qa.Hit]) -> list[tuple[str, int, int, int, int]]:
    return [(h.source, h.start, h.end, h.answer_start, h.answer_end) for h in hits]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_search_batch_equals_search_one_by_one(real_retriever, mode):
    retriever = real_retriever.with_mode(mode)
    together = retriever.search_batch(QUESTIONS, 5)
    assert len(together) == len(QUESTIONS)
    for question, hits in zip(QUESTIONS, together, strict=True):
        alone = retriever.search(question, 5)
        assert key(hits) == key(alone), question
        # One padded forward pass for all: the same vectors to float rounding.
        np.testing.assert_allclose([h.score for h in hits], [h.score for h in alone], atol=1e-5)


@pytest.mark.slow
def test_follow_ups_in_a_batch_are_read_as_alone(real_retriever):
    """Each follow-up with its own history, among questions with none: the same reading
    and the same passages as ``ask`` gives it alone."""
    questions = [q.question for q in FOLLOWUPS] + QUESTIONS[:20]
    histories = [list(q.history) for q in FOLLOWUPS] + [[] for _ in QUESTIONS[:20]]
    answers = real_retriever.ask_batch(questions, 3, histories)
    hits = real_retriever.search_batch(questions, 3, histories)
    for question, history, answer, found in zip(questions, histories, answers, hits, strict=True):
        alone = real_retriever.ask(question, 3, history)
        assert (answer.read_as, answer.found, answer.message) == (
            alone.read_as,
            alone.found,
            alone.message,
        ), question
        assert key(list(answer.passages)) == key(list(alone.passages)) == key(found), question
    assert sum(a.read_as != q for a, q in zip(answers, questions, strict=True)) > 20


def test_a_combined_retriever_batches_like_one_by_one(fake_retriever, fake_embedder):
    """Several parts (the bundled corpus and a person's documents): the same merge."""
    mine = qa.Retriever.from_texts(
        {"notes.txt": "Bakery news\nThe bakery in Gao sells bread. Troops buy it daily."},
        embedder=fake_embedder,
    )
    both = qa.Retriever.combine([fake_retriever, mine])
    questions = ["Who sells bread in Gao?", "How many troops does the UN have in Mali?"]
    for mode in ("hybrid", "dense", "lexical"):
        retriever = both.with_mode(mode)
        together = retriever.search_batch(questions, [2, 4])
        assert [key(h) for h in together] == [
            key(retriever.search(q, k)) for q, k in zip(questions, [2, 4], strict=True)
        ]
    assert {h.source for h in both.search_batch(questions, 5)[0]} >= {"notes.txt"}


@pytest.mark.slow
def test_ask_batch_equals_ask_with_bad_questions_among_them(real_retriever):
    questions = ["Who won the World Cup?", "", "How many troops does the UN have in Mali?"]
    ks = [3, 3, 2]
    answers = real_retriever.ask_batch(questions, ks)
    for question, k, answer in zip(questions, ks, answers, strict=True):
        alone = real_retriever.ask(question, k)
        assert (answer.question, answer.found, answer.message) == (
            alone.question,
            alone.found,
            alone.message,
        )
        assert key(list(answer.passages)) == key(list(alone.passages))
    assert [a.found for a in answers] == [False, False, True]
    assert real_retriever.ask_batch(["Why is France leaving Mali?"], [0])[0].message.startswith(
        "K must be"
    )
    assert real_retriever.ask_batch([]) == [] and real_retriever.search_batch([]) == []


def test_batch_arguments_are_checked(fake_retriever):
    with pytest.raises(ValueError, match="empty"):
        fake_retriever.search_batch(["Mali", "  "])
    with pytest.raises(ValueError, match="k: 2 values for 3 questions"):
        fake_retriever.search_batch(["a", "b", "c"], [1, 2])
    with pytest.raises(ValueError, match="histories: 1 values for 2 questions"):
        fake_retriever.ask_batch(["a", "b"], 3, [["Mali?"]])
    with pytest.raises(ValueError, match="max_batch"):
        Batcher(fake_retriever, max_batch=0)
    batcher = Batcher(fake_retriever)
    try:
        with pytest.raises(TypeError, match="history"):
            batcher.ask("And France?", 3, [42])  # type: ignore[list-item]
        with pytest.raises(ValueError, match="k must be"):
            batcher.search("Mali", 0)
        assert batcher.ask(" ", 3).message.startswith("Question is empty")
    finally:
        batcher.close()


@pytest.fixture
def fake_retriever(tmp_path, fake_embedder):
    from conftest import CORPUS

    return qa.Retriever.from_corpus(CORPUS, cache_dir=tmp_path / "cache", embedder=fake_embedder)


@pytest.mark.slow
def test_many_threads_get_their_own_answers_in_batches(real_retriever):
    expected = {q: key(real_retriever.search(q, 3)) for q in QUESTIONS[:40]}
    batcher = Batcher(real_retriever, max_batch=16)
    start = threading.Barrier(50)

    def caller(n: int) -> list[tuple[str, bool]]:
        start.wait()
        out = []
        for i in range(8):
            question = QUESTIONS[(n * 7 + i) % 40]
            if (n + i) % 13 == 0:  # an empty question fails in its own thread only
                with pytest.raises(ValueError, match="empty"):
                    batcher.search(" ", 3)
                continue
            out.append((question, key(batcher.search(question, 3)) == expected[question]))
            answer = batcher.ask(question, 3)
            out.append((question, key(list(answer.passages)) == expected[question]))
        return out

    try:
        with ThreadPoolExecutor(max_workers=50) as pool:
            results = [r for rs in pool.map(caller, range(50)) for r in rs]
    finally:
        batcher.close()
    assert results and all(same for _, same in results), [q for q, same in results if not same]
    assert batcher.stats["largest"] > 1  # questions that arrived together were batched
    assert batcher.stats["questions"] == len(results)


def test_a_failing_batch_fails_its_callers_and_the_next_works(fake_retriever, monkeypatch):
    batcher = Batcher(fake_retriever)
    real = fake_retriever.search_batch
    calls = {"n": 0}

    def flaky(questions, k=3, histories=None):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the store went away")
        return real(questions, k, histories)

    monkeypatch.setattr(fake_retriever, "search_batch", flaky)
    try:
        with pytest.raises(RuntimeError, match="went away"):
            batcher.search("How many troops does the UN have in Mali?")
        assert batcher.search("How many troops does the UN have in Mali?")
    finally:
        batcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        batcher.search("Mali")
