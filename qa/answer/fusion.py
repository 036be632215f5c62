"""Fusing the dense and the lexical ranking into one. Small pure functions.

The shipped fusion is a convex combination of the two scores, both already on a
[0, 1] scale that means the same for every question (cosine similarity; the share of
the question's words a passage matches, see ``qa.index.lexical``):

    fused = (1 - LEXICAL_WEIGHT) * dense + LEXICAL_WEIGHT * lexical

Bruch, Gai and Ingber, "An Analysis of Fusion Functions for Hybrid Retrieval", ACM
TOIS 42(1), 2023, compare this with reciprocal-rank fusion (RRF): a convex combination
of normalised scores ranks better than RRF in and out of domain and needs only a
handful of labelled questions to set its one weight. It also keeps what RRF throws
away: how close the best passage is, which is what decides "the article does not
say". RRF is kept below as the textbook baseline that ``qa eval`` compares against.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Weight of the lexical score. Set on the dev half of qa/evaluation/sets/questions.jsonl (qa eval):
# 0.1-0.3 rank alike, above 0.3 a single shared common word ("force", "statement")
# starts to outrank a paraphrase the embedding understood. Dense carries the meaning;
# the lexical part breaks its near-ties in favour of the passage that holds the
# question's names and numbers.
LEXICAL_WEIGHT = 0.2
# RRF's k, from Cormack, Clarke and Buettcher, "Reciprocal Rank Fusion outperforms
# Condorcet and individual rank learning methods", SIGIR 2009: k = 60 damps the
# influence of the very first ranks; they found it near-optimal across collections.
RRF_K = 60


def convex_fusion(
    dense: np.ndarray, lexical: np.ndarray, weight: float = LEXICAL_WEIGHT
) -> np.ndarray:
    """``(1 - weight) * dense + weight * lexical``, element-wise, for scores in [0, 1].

    >>> convex_fusion(np.array([0.6, 0.5]), np.array([0.0, 1.0]), 0.2).round(2)
    array([0.48, 0.6 ])
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    if dense.shape != lexical.shape:
        raise ValueError(
            f"score arrays differ in shape: dense {dense.shape}, lexical {lexical.shape}"
        )
    return (1.0 - weight) * np.clip(dense, 0.0, 1.0) + weight * np.clip(lexical, 0.0, 1.0)


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> dict[int, float]:
    """RRF: each item scores the sum over rankings of ``1 / (k + rank)``, rank from 1.

    ``rankings`` are lists of item ids, best first. The result maps every item that
    appears in any ranking to its score; higher is better.

    >>> reciprocal_rank_fusion([[7, 3], [3, 9]], k=60)[3] == 1 / 62 + 1 / 61
    True
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return scores
