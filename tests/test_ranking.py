"""qa.answer.ranking: the top k of one index's scores."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.answer.ranking import top_k


@settings(max_examples=300, deadline=None)
@given(
    scores=st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5, 0.9, 1.0]), min_size=1, max_size=60),
    k=st.integers(min_value=1, max_value=70),
)
def test_top_k_is_the_head_of_a_stable_sort(scores, k):
    """Partial selection gives exactly what a full stable sort would, ties included."""
    values = np.array(scores, dtype=np.float32)
    expected = np.argsort(-values, kind="stable")[:k]
    np.testing.assert_array_equal(top_k(values, k)[:k], expected)
