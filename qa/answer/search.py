"""Searching: questions read, embedded together, ranked over every part of the index.

``read`` turns a question as typed into a ``Reading``: cleaned (``qa.answer.question``),
read in the context of the conversation's earlier questions
(``qa.answer.conversation``), with its ``k`` checked. ``search_parts`` ranks the passages of
every ``Part`` for many readings at once: one forward pass of the model for all their
vectors, one store call per part for their dense scores, and one for the sentence
vectors of all their hits (to choose each hit's answer sentence). The hits of several
parts (the bundled article and a visitor's documents) are merged by score, which means
the same in every part.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from qa.answer import answering, conversation
from qa.answer.question import prepare_question
from qa.answer.ranking import Part, Query, dense_scores_batch, make_hit, rank, sentence_vectors
from qa.index.encoders import Embedder
from qa.index.lexical import LexicalIndex, QueryTerms
from qa.limits import check_k
from qa.types import Hit

# How passages are ranked. "hybrid" is the shipped default: dense and lexical scores
# fused (qa.answer.fusion), misspellings corrected, names checked before answering. The
# others are the ablations ``qa eval`` compares it with: "dense" (embeddings only, the
# earlier cosine threshold), "lexical" (BM25 only), "rrf" (textbook reciprocal-rank
# fusion of the same two rankings, with the dense threshold).
MODES = ("hybrid", "dense", "lexical", "rrf")
# A batch of questions is embedded in groups of about this many characters (the
# longest question of a group times its size): padding to one long question is paid
# by its group only. 32 questions of 60 characters fit in one.
QUERY_BATCH_CHARS = 2_000


@dataclass(frozen=True)
class Reading:
    """A question as searched: ``cleaned`` (``prepare_question``), ``text`` (read in
    context: a follow-up completed), and its checked ``k``."""

    cleaned: str
    text: str
    k: int

    @property
    def completed(self) -> bool:
        """Whether ``text`` was completed from the conversation (a follow-up)."""
        return self.text != self.cleaned


@dataclass(frozen=True)
class Found:
    """What one reading found: its hits, best first."""

    reading: Reading
    hits: list[Hit]


def read(question: str, k: object, history: Sequence[str]) -> Reading:
    """``question`` cleaned and read in context, with its ``k`` checked: raises
    ``ValueError`` (empty question, bad ``k``) or ``TypeError`` (bad history)."""
    cleaned = prepare_question(question)
    return Reading(cleaned, conversation.read_in_context(cleaned, history), check_k(k))


def check_mode(mode: object) -> str:
    """``mode`` if it is one of ``MODES``, else ``ValueError`` naming them."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    return str(mode)


def search_parts(
    parts: Sequence[Part], embedder: Embedder, mode: str, readings: Sequence[Reading]
) -> list[Found]:
    """The hits of each of ``readings`` over ``parts``, ranked by ``mode``."""
    ranked = [(part, part.lexical) for part in parts if part.lexical is not None]
    if not ranked or not readings:
        return [Found(r, []) for r in readings]
    lexicals = [lexical for _, lexical in ranked]
    analyses = [[lexical.analyze(r.text) for lexical in lexicals] for r in readings]
    vectors: list[np.ndarray | None] = [None] * len(readings)
    streams: list[Iterator[np.ndarray | None]] = [itertools.repeat(None)] * len(ranked)
    if mode != "lexical":
        embedded = query_vectors(embedder, readings, analyses, lexicals)
        vectors = list(embedded)
        # Per part, one store call; each question's row is made when it is ranked.
        streams = [dense_scores_batch(part.built, embedded) for part, _ in ranked]
    queries = []  # per reading, per part
    chosen = []  # per reading: (score, part number, passage id), best first
    for reading, terms, vector in zip(readings, analyses, vectors, strict=True):
        kind = answering.expected_answer(reading.text) if mode == "hybrid" else None
        per_part = [Query(reading.text, t, vector, kind) for t in terms]
        queries.append(per_part)
        rows = [next(stream) for stream in streams]
        lists = []
        for number, (part, _) in enumerate(ranked):
            order, scores = rank(mode, part, per_part[number], reading.k, dense=rows[number])
            lists.append([(float(scores[i]), number, int(i)) for i in order[: reading.k]])
        best = lists[0] if len(lists) == 1 else heapq.merge(*lists, key=lambda c: -c[0])
        chosen.append(list(itertools.islice(best, reading.k)))
    flat = [c for found in chosen for c in found]
    hit_vectors: list[np.ndarray | None] = [None] * len(flat)
    if mode != "lexical":  # the answer sentence is chosen by them too
        hit_vectors = [*_sentence_vectors([ranked[n][0] for _, n, _ in flat], flat)]
    vectors_of = iter(hit_vectors)
    out = []
    for reading, per_part, found in zip(readings, queries, chosen, strict=True):
        hits = [
            make_hit(mode, ranked[n][0], per_part[n], index, score, vectors=next(vectors_of))
            for score, n, index in found
        ]
        out.append(Found(reading, hits))
    return out


def query_vectors(
    embedder: Embedder,
    readings: Sequence[Reading],
    analyses: Sequence[Sequence[QueryTerms]],
    lexicals: Sequence[LexicalIndex],
) -> np.ndarray:
    """Each question's unit vector, from one batch through the model; for a
    completed follow-up, blended with the vector of the question as typed
    (``conversation.OWN_WORDS_WEIGHT``)."""
    texts = [corrected(r.text, terms) for r, terms in zip(readings, analyses, strict=True)]
    typed = {
        i: corrected(r.cleaned, [lexical.analyze(r.cleaned) for lexical in lexicals])
        for i, r in enumerate(readings)
        if r.completed
    }
    vectors = encode_by_length(embedder, [*texts, *typed.values()])
    out = vectors[: len(texts)].copy()
    for row, i in enumerate(typed, start=len(texts)):
        blended = out[i] + conversation.OWN_WORDS_WEIGHT * vectors[row]
        out[i] = blended / max(float(np.linalg.norm(blended)), 1e-12)
    return out


def corrected(text: str, analyses: Sequence[QueryTerms]) -> str:
    """``text`` with its misspellings corrected, for the model. In a combined corpus a
    word is corrected only if no part knows it as it is written."""
    if len(analyses) == 1:
        return analyses[0].corrected(text)
    corrections: dict[str, str] = {}
    for terms in analyses:
        for wrong, right in terms.corrections.items():
            if all(wrong in t.corrections or wrong in t.unknown for t in analyses):
                corrections.setdefault(wrong, right)
    return QueryTerms((), corrections).corrected(text)


def encode_by_length(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """``embedder.encode_queries(texts)``, in groups of similar length.

    A batch is padded to its longest text, so one 1,000-character question among
    thirty short ones would make the model read thirty long ones. Texts are sorted by
    length and cut into groups of at most ``QUERY_BATCH_CHARS`` characters, counted as
    the group's longest times its size."""
    if len(texts) <= 1:
        return embedder.encode_queries(texts)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    groups: list[list[int]] = [[]]
    for i in order:
        if groups[-1] and len(texts[i]) * (len(groups[-1]) + 1) > QUERY_BATCH_CHARS:
            groups.append([])
        groups[-1].append(i)
    out: np.ndarray | None = None
    for group in groups:
        vectors = embedder.encode_queries([texts[i] for i in group])
        if out is None:
            out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
        out[group] = vectors
    assert out is not None
    return out


def _sentence_vectors(
    parts: Sequence[Part], chosen: Sequence[tuple[float, int, int]]
) -> list[np.ndarray]:
    """The sentence vectors of each chosen passage (score, part number, passage id) of
    ``parts[i]``: one read per part (one round trip to a server engine for all)."""
    out: list[np.ndarray] = [np.zeros((0, 0), np.float32)] * len(chosen)
    for part in {id(p): p for p in parts}.values():
        at = [i for i, p in enumerate(parts) if p is part]
        ids = [chosen[i][2] for i in at]
        for i, vectors in zip(at, sentence_vectors(part.built, ids), strict=True):
            out[i] = vectors
    return out
