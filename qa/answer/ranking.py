"""Ranking one index for a question: dense, lexical or fused scores, the top ``k``
passages, and each hit with its answer sentence. ``qa.answer.search`` runs this over
each part of a corpus and merges the hits by score.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from qa.answer import answering, fusion
from qa.answer.key_phrase import gives_reason
from qa.index.lexical import LexicalIndex, QueryTerms
from qa.index.stores import BuiltIndex, PassageStore
from qa.types import Hit, Span

# Passages scored exactly by the dense store per question; the rest share a bound.
DENSE_DEPTH = 1_000
# How deep each ranking goes into reciprocal-rank fusion.
RRF_DEPTH = 100


@dataclass(frozen=True)
class Part:
    """One built index with its BM25: a corpus, or a set of documents added to it.

    A combined retriever searches each part and merges the hits by score, which means
    the same in every part (0.8 x cosine + 0.2 x the share of the question's words,
    the share measured against that part's own vocabulary)."""

    built: BuiltIndex
    lexical: LexicalIndex | None

    @classmethod
    def of(cls, built: BuiltIndex) -> Part:
        """``built`` with the BM25 index of its passages (none when it has none)."""
        passages = built.passages
        return cls(built, LexicalIndex([p.text for p in passages]) if passages else None)

    @functools.cached_property
    def gives_reason(self) -> np.ndarray:
        """1.0 for each passage that gives a reason (``key_phrase.gives_reason``), else
        0: worked out on the first why-question, not at start-up."""
        return np.array([gives_reason(p.text) for p in self.built.passages], dtype=np.float32)


@dataclass(frozen=True)
class Query:
    """One question as a part of the index ranks it: ``text``, the question read
    (cleaned, a follow-up completed); ``terms``, its words in the part's BM25
    vocabulary; ``vector``, its unit vector (None when ranking by words alone); ``kind``,
    what it asks for (``answering.expected_answer``; None but in "hybrid" mode)."""

    text: str
    terms: QueryTerms
    vector: np.ndarray | None
    kind: str | None = None


def rank(
    mode: str, part: Part, query: Query, k: int, *, dense: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best passage ids of ``part``, best first (by ``mode``), and the
    score each passage shows. For ``query.kind`` "reason", a passage
    that gives a reason scores ``answering.REASON_BONUS`` more; for another kind, one
    of the first ``answering.KIND_DEPTH`` that holds a phrase of that kind fitting the
    question scores ``answering.KIND_BONUS`` more (``kind_bonus``). Only a passage that
    could answer at all gets either (one below ``answering.MIN_ANSWER_SCORE`` gets
    nothing, so whether the corpus answers is decided as for any other question).
    ``dense``: ``query``'s scores, when the caller has them (``dense_scores_batch``);
    else the store is asked."""
    lexical = part.lexical
    assert lexical is not None, "a part without passages is not ranked"
    kind = query.kind
    if query.vector is None:  # "lexical"
        scores = lexical.scores(query.terms)
        return top_k(scores, k), scores
    if dense is None:
        dense = dense_scores(part.built, query.vector)
    if mode == "dense":
        return top_k(dense, k), dense
    bm25 = lexical.scores(query.terms)
    if mode == "rrf":
        by_dense = np.argsort(-dense, kind="stable")[:RRF_DEPTH].tolist()
        by_lexical = np.argsort(-bm25, kind="stable")[:RRF_DEPTH].tolist()
        fused = fusion.reciprocal_rank_fusion([by_dense, by_lexical])
        order = np.array(sorted(fused, key=lambda i: -fused[i]), dtype=np.int64)
        return order, dense  # RRF values mean nothing across questions: show the cosine
    scores = fusion.convex_fusion(dense, bm25)
    if kind == "reason":
        could_answer = scores >= answering.MIN_ANSWER_SCORE
        scores = scores + answering.REASON_BONUS * part.gives_reason * could_answer
    elif kind is not None and answering.KIND_BONUS:
        scores = kind_bonus(part, scores, query.text, kind)
    return top_k(scores, k), scores


def kind_bonus(part: Part, scores: np.ndarray, question: str, kind: str) -> np.ndarray:
    """``scores`` with ``answering.KIND_BONUS`` added for each of the first
    ``answering.KIND_DEPTH`` passages that could answer and hold, in one sentence, a
    phrase of ``kind`` that fits ``question``. Only the first few are looked at: the
    patterns cost microseconds a sentence, too much for every passage of a large corpus."""
    passages = part.built.passages
    depth = min(len(scores), answering.KIND_DEPTH)
    fitting = [
        int(i)
        for i in top_k(scores, depth)
        if scores[i] >= answering.MIN_ANSWER_SCORE
        and any(
            answering.has_answer_type(
                passages[i].text[s.start - passages[i].start : s.end - passages[i].start],
                kind,
                question,
            )
            for s in (passages[i].sentences or (Span(passages[i].start, passages[i].end),))
        )
    ]
    if not fitting:
        return scores
    out = scores.copy()
    out[fitting] += answering.COUNT_BONUS if kind == "number" else answering.KIND_BONUS
    return out


def make_hit(
    mode: str,
    part: Part,
    query: Query,
    index: int,
    score: float,
    *,
    vectors: np.ndarray | None = None,
) -> Hit:
    """Passage ``index`` of ``part`` as a hit for ``query``, with its answer sentence.
    ``vectors``: its sentences' vectors, when the caller read them already
    (``sentence_vectors``, one call for many hits); else they are read here."""
    passage = part.built.passages[index]
    texts = [
        passage.text[s.start - passage.start : s.end - passage.start] for s in passage.sentences
    ]
    dense = None
    if query.vector is not None:
        if vectors is None:
            vectors = sentence_vectors(part.built, [index])[0]
        # One sentence (no vectors): nothing to choose between.
        dense = vectors @ query.vector if len(vectors) else np.zeros(len(texts))
    coverage = None
    if mode != "dense" and part.lexical is not None:
        coverage = [part.lexical.coverage(query.terms, t) for t in texts]
    choice = answering.choose_sentence(query.text, texts, dense, coverage) if texts else 0
    sentence = passage.sentences[choice] if passage.sentences else None
    start, end = (
        (sentence.start - passage.start, sentence.end - passage.start)
        if sentence
        else (0, len(passage.text))
    )
    return Hit(
        text=passage.text,
        score=min(max(score, 0.0), 1.0),
        source=passage.source,
        title=passage.title,
        start=passage.start,
        end=passage.end,
        answer=passage.text[start:end],
        answer_start=start,
        answer_end=end,
        paragraph=passage.paragraph,
        paragraphs=passage.paragraphs,
    )


def sentence_vectors(built: BuiltIndex, ids: Sequence[int]) -> list[np.ndarray]:
    """The vectors of the sentences of passages ``ids`` of ``built`` (none for a
    one-sentence passage): in memory for FAISS; read in one call from a store that
    holds the passages (``PassageStore``: Milvus)."""
    store = built.store
    if isinstance(store, PassageStore):
        return store.sentence_vectors(ids) if len(ids) else []
    rows = built.sentence_rows
    return [built.sentence_vectors[rows[i] : rows[i + 1]] for i in ids]


def dense_scores(built: BuiltIndex, query: np.ndarray) -> np.ndarray:
    """Cosine similarity of ``query`` to every passage of ``built``, clipped to [0, 1].

    Exact for the first ``DENSE_DEPTH`` passages the store returns; the rest get the
    lowest score among those (an upper bound for them), which only matters for
    corpora of more than ``DENSE_DEPTH`` passages.
    """
    return next(dense_scores_batch(built, query[None, :]))


def dense_scores_batch(built: BuiltIndex, queries: np.ndarray) -> Iterator[np.ndarray]:
    """``dense_scores`` of each of ``queries``, from one call to the store (one round
    trip to a server engine for a batch of questions). Each full row is made only when
    it is reached, so a batch holds one row of the corpus's size at a time."""
    n = len(built.passages)
    all_scores, all_ids = built.store.search(queries, min(n, DENSE_DEPTH))
    for scores, ids in zip(all_scores, all_ids, strict=True):
        found = ids >= 0
        out = np.full(n, float(scores[found].min()) if found.any() else 0.0, dtype=np.float32)
        out[ids[found]] = scores[found]
        yield np.clip(out, 0.0, 1.0)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """The ids of the ``k`` highest scores, best first, ties in id order: the head of
    ``np.argsort(-scores, kind="stable")`` without sorting all of a large corpus
    (a full sort of 100,000 scores costs milliseconds on every question)."""
    n = len(scores)
    if k >= n:
        return np.argsort(-scores, kind="stable")
    kth = np.partition(scores, n - k)[n - k]  # the k-th highest score
    above = np.flatnonzero(scores > kth)
    ties = np.flatnonzero(scores == kth)[: k - len(above)]
    ids = np.concatenate([above, ties])
    return ids[np.argsort(-scores[ids], kind="stable")]
