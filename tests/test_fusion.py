"""qa.answer.fusion: the convex blend and reciprocal-rank fusion, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from qa.answer.fusion import LEXICAL_WEIGHT, RRF_K, convex_fusion, reciprocal_rank_fusion


def test_convex_fusion_is_the_weighted_mean():
    dense = np.array([0.6, 0.5, 0.0])
    lexical = np.array([0.0, 1.0, 0.5])
    np.testing.assert_allclose(convex_fusion(dense, lexical, 0.25), [0.45, 0.625, 0.125])


def test_convex_fusion_defaults_to_the_documented_weight():
    dense, lexical = np.array([0.5]), np.array([1.0])
    expected = (1 - LEXICAL_WEIGHT) * 0.5 + LEXICAL_WEIGHT * 1.0
    assert convex_fusion(dense, lexical)[0] == pytest.approx(expected)


def test_convex_fusion_stays_in_unit_range_and_leaves_inputs_alone():
    dense = np.array([-0.2, 1.3, 0.5])
    lexical = np.array([0.0, 1.0, 2.0])
    fused = convex_fusion(dense, lexical)
    assert np.all((fused >= 0) & (fused <= 1))
    assert dense.tolist() == [-0.2, 1.3, 0.5]


def test_convex_fusion_extremes_are_the_single_signals():
    dense, lexical = np.array([0.2, 0.9]), np.array([0.7, 0.1])
    np.testing.assert_allclose(convex_fusion(dense, lexical, 0.0), dense)
    np.testing.assert_allclose(convex_fusion(dense, lexical, 1.0), lexical)


@pytest.mark.parametrize("weight", [-0.1, 1.5])
def test_convex_fusion_rejects_a_weight_outside_unit_range(weight):
    with pytest.raises(ValueError, match=r"weight must be in \[0, 1\], got"):
        convex_fusion(np.zeros(2), np.zeros(2), weight)


def test_convex_fusion_rejects_arrays_of_different_shape():
    with pytest.raises(ValueError, match="differ in shape"):
        convex_fusion(np.zeros(2), np.zeros(3))


def test_rrf_sums_reciprocal_ranks():
    fused = reciprocal_rank_fusion([[7, 3, 5], [3, 9]], k=RRF_K)
    assert fused[3] == pytest.approx(1 / (RRF_K + 2) + 1 / (RRF_K + 1))
    assert fused[7] == pytest.approx(1 / (RRF_K + 1))
    assert fused[9] == pytest.approx(1 / (RRF_K + 2))
    assert max(fused, key=fused.__getitem__) == 3  # second and first beats first alone


def test_rrf_with_small_k_trusts_first_ranks_more():
    rankings = [[1, 2, 3], [3, 2, 1]]
    assert reciprocal_rank_fusion(rankings, k=0)[2] < reciprocal_rank_fusion(rankings, k=0)[1]


def test_rrf_rejects_negative_k():
    with pytest.raises(ValueError, match="k must be >= 0, got -1"):
        reciprocal_rank_fusion([[1]], k=-1)
