"""qa.index.faiss_store: FAISS search against a brute-force NumPy oracle, for every index kind."""

from __future__ import annotations

import numpy as np
import pytest

from qa.index.faiss_store import FaissStore
from qa.index.stores import AUTO_EXACT_LIMIT, INDEX_KINDS, choose_index


def unit_vectors(count: int, dimension: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def oracle(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k by inner product with NumPy: the answer every store must give."""
    scores = queries @ vectors.T
    ids = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, ids, axis=1), ids


@pytest.mark.parametrize(
    ("count", "dimension", "k"),
    [(1, 3, 1), (1, 8, 5), (7, 5, 3), (33, 16, 33), (257, 64, 10), (1000, 384, 7), (50, 12, 80)],
)
def test_flat_search_equals_brute_force(count, dimension, k):
    vectors = unit_vectors(count, dimension, seed=count)
    queries = unit_vectors(11, dimension, seed=count + 1)
    store = FaissStore(dimension)
    # add in awkward batches: order of rows must be the id order
    for batch in np.array_split(vectors, min(count, 3)):
        store.add(batch)
    assert len(store) == count
    scores, ids = store.search(queries, k)
    assert scores.shape == ids.shape == (11, k)
    top = min(k, count)
    expected_scores, expected_ids = oracle(vectors, queries, top)
    np.testing.assert_allclose(scores[:, :top], expected_scores, atol=1e-5)
    np.testing.assert_array_equal(ids[:, :top], expected_ids)
    assert (ids[:, top:] == -1).all()  # k beyond the count pads with -1
    assert (np.diff(scores[:, :top], axis=1) <= 1e-6).all()  # best first


KIND_PARAMS = {
    "flat": {},
    "hnsw": {"m": 16, "ef_construction": 64, "ef_search": 64},
    "ivf": {"nlist": 4, "nprobe": 4},  # probing every list: exact
}


@pytest.mark.parametrize("kind", INDEX_KINDS)
def test_store_contract_build_save_load_search(kind, tmp_path):
    vectors = unit_vectors(300, 32, seed=7)
    queries = unit_vectors(20, 32, seed=8)
    store = FaissStore(32, kind, **KIND_PARAMS[kind])
    store.add(vectors)
    assert store.kind == kind and len(store) == 300
    assert store.params() == {"kind": kind, **KIND_PARAMS[kind]}

    scores, ids = store.search(queries, 10)
    _, expected = oracle(vectors, queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, expected, strict=True)])
    assert recall >= (0.95 if kind == "hnsw" else 1.0)
    # whatever the store returns, its scores are the true inner products
    np.testing.assert_allclose(
        scores, np.take_along_axis(queries @ vectors.T, ids, axis=1), atol=1e-5
    )

    path = tmp_path / "index.faiss"
    store.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["index.faiss"]  # no temporary left
    loaded = FaissStore.load(path, store.params())
    assert loaded.kind == kind and len(loaded) == 300 and loaded.dimension == 32
    assert loaded.params() == store.params()
    loaded_scores, loaded_ids = loaded.search(queries, 10)
    np.testing.assert_array_equal(loaded_ids, ids)
    np.testing.assert_allclose(loaded_scores, scores, atol=1e-6)


def test_vectors_added_after_loading_get_the_next_ids(tmp_path):
    vectors = unit_vectors(20, 8, seed=3)
    store = FaissStore(8)
    store.add(vectors[:10])
    store.save(tmp_path / "i.faiss")
    loaded = FaissStore.load(tmp_path / "i.faiss", store.params())
    loaded.add(vectors[10:])
    _, ids = loaded.search(vectors[15:16], 1)
    assert ids[0, 0] == 15


def test_load_refuses_an_unresolved_kind(tmp_path):
    store = FaissStore(4)
    store.add(unit_vectors(3, 4, seed=1))
    store.save(tmp_path / "i.faiss")
    with pytest.raises(ValueError, match=r"unknown index kind 'auto'"):
        FaissStore.load(tmp_path / "i.faiss", {"kind": "auto"})


def test_load_of_a_broken_file_raises(tmp_path):
    (tmp_path / "i.faiss").write_bytes(b"IxFlnot really an index")
    with pytest.raises(RuntimeError):
        FaissStore.load(tmp_path / "i.faiss", {"kind": "flat"})


def test_choose_index_kind():
    assert choose_index(10).kind == "flat"
    assert choose_index(AUTO_EXACT_LIMIT).kind == "flat"
    assert choose_index(AUTO_EXACT_LIMIT + 1).kind == "ivf"
    for kind in INDEX_KINDS:
        assert choose_index(10**9, kind).kind == kind


@pytest.mark.parametrize("kind", ["annoy", "FLAT", "", "exact"])
def test_bad_kind_is_named(kind):
    with pytest.raises(
        ValueError, match=rf"index kind must be one of auto, flat, hnsw, ivf; got '{kind}'"
    ):
        FaissStore(8, kind)


@pytest.mark.parametrize("k", [0, -1, "3", True, 2.5, None])
def test_bad_k_is_named(k):
    store = FaissStore(4)
    store.add(unit_vectors(5, 4, seed=2))
    with pytest.raises(ValueError, match=r"k must be a whole number >= 1, got "):
        store.search(unit_vectors(1, 4, seed=3), k)


def test_numpy_integer_k_is_accepted():
    store = FaissStore(4)
    store.add(unit_vectors(5, 4, seed=2))
    _, ids = store.search(unit_vectors(1, 4, seed=3), np.int64(2))
    assert ids.shape == (1, 2)


def test_wrong_shapes_are_named():
    store = FaissStore(4)
    with pytest.raises(ValueError, match=r"vectors must have shape \(n, 4\), got \(2, 5\)"):
        store.add(np.zeros((2, 5), dtype=np.float32))
    with pytest.raises(ValueError, match=r"queries must have shape \(n, 4\), got \(4,\)"):
        store.search(np.zeros(4, dtype=np.float32), 1)
    with pytest.raises(ValueError, match="dimension must be >= 1, got 0"):
        FaissStore(0)


def test_search_of_an_empty_store_returns_padding():
    store = FaissStore(4)
    scores, ids = store.search(unit_vectors(2, 4, seed=1), 3)
    assert (ids == -1).all() and scores.shape == (2, 3)
