"""Every index kind against brute force, through save and load; the kind chosen by size,
shown in the manifest and overridable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import CORPUS, FakeEmbedder

import qa
from qa.index.cache import MANIFEST
from qa.index.faiss_store import FaissStore
from qa.index.stores import AUTO_EXACT_LIMIT, INDEX_KINDS, choose_index, default_params

DIMENSION = 32


def unit_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    vectors = rng.standard_normal((n, DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def brute_force(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, :k]


# Parameters that make the approximate kinds search (almost) everything on 2,000 rows.
THOROUGH = {"flat": {}, "hnsw": {"m": 16, "ef_search": 256}, "ivf": {"nlist": 16, "nprobe": 16}}


@pytest.mark.parametrize("kind", INDEX_KINDS)
def test_each_kind_finds_the_true_neighbours_and_survives_save_and_load(kind, tmp_path):
    rng = np.random.default_rng(7)
    vectors, queries = unit_rows(rng, 2_000), unit_rows(rng, 50)
    store = FaissStore(DIMENSION, kind, **THOROUGH[kind])
    for start in range(0, len(vectors), 777):  # awkward batch sizes keep the add order
        store.add(vectors[start : start + 777])
    assert len(store) == len(vectors)
    expected = brute_force(vectors, queries, 10)
    scores, ids = store.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, expected, strict=True)])
    assert recall >= (1.0 if kind in ("flat", "ivf") else 0.98)
    assert np.allclose(scores, np.take_along_axis(queries @ vectors.T, ids, axis=1), atol=1e-5)
    assert (np.diff(scores, axis=1) <= 1e-6).all()  # best first

    store.save(tmp_path / "index.faiss")
    loaded = FaissStore.load(tmp_path / "index.faiss", store.params())
    assert loaded.kind == kind and len(loaded) == len(store) and loaded.params() == store.params()
    again_scores, again_ids = loaded.search(queries, 10)
    assert np.array_equal(again_ids, ids) and np.allclose(again_scores, scores)


def test_search_time_parameters_come_back_from_the_manifest(tmp_path):
    rng = np.random.default_rng(3)
    store = FaissStore(DIMENSION, "ivf", nlist=16, nprobe=2)
    store.add(unit_rows(rng, 1_000))
    store.save(tmp_path / "index.faiss")
    loaded = FaissStore.load(tmp_path / "index.faiss", {**store.params(), "nprobe": 16})
    assert loaded.params()["nprobe"] == 16
    import faiss

    assert faiss.extract_index_ivf(loaded._index).nprobe == 16


def test_auto_is_exact_up_to_the_limit_then_approximate():
    assert choose_index(AUTO_EXACT_LIMIT).kind == "flat"
    big = choose_index(AUTO_EXACT_LIMIT + 1)
    assert big.kind == "ivf" and big.params == default_params("ivf", AUTO_EXACT_LIMIT + 1)
    assert "auto" in big.reason and f"{AUTO_EXACT_LIMIT:,}" in big.reason
    million = choose_index(1_000_000)
    assert million.params == {"nlist": 4096, "nprobe": 64}


def test_explicit_kind_and_params_override_auto():
    assert choose_index(10, "hnsw").kind == "hnsw"
    choice = choose_index(1_000_000, "auto", {"nprobe": 128, "ef_search": 300})
    assert (
        choice.kind == "ivf" and choice.params["nprobe"] == 128 and "ef_search" not in choice.params
    )
    assert "nprobe" in choice.reason


def test_ivf_on_a_tiny_corpus_still_trains():
    store = FaissStore(DIMENSION, "ivf", **default_params("ivf", 12))
    store.add(unit_rows(np.random.default_rng(1), 12))
    assert len(store) == 12


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("annoy", None, "index kind must be one of auto, flat, hnsw, ivf; got 'annoy'"),
        ("flat", {"nprobe": 4}, "'nprobe' is not a parameter of the flat index"),
        (
            "hnsw",
            {"nlist": 4},
            "'nlist' is not a parameter of the hnsw index; it takes ef_construction",
        ),
        ("ivf", {"nprobe": 0}, "nprobe must be a whole number >= 1, got 0"),
        ("ivf", {"nlist": 2.5}, "nlist must be a whole number >= 1, got 2.5"),
    ],
)
def test_bad_index_settings_fail_before_any_work(kind, params, message, tmp_path):
    embedder = FakeEmbedder()
    embedder.encode_documents = None  # type: ignore[assignment]  # must not be reached
    with pytest.raises(ValueError, match=message):
        qa.Retriever.from_corpus(
            CORPUS, cache_dir=tmp_path, embedder=embedder, index_kind=kind, index_params=params
        )


def manifest_of(retriever: qa.Retriever) -> dict:
    assert retriever.cache_folder is not None
    return json.loads((retriever.cache_folder / MANIFEST).read_text(encoding="utf-8"))


@pytest.mark.parametrize("kind", INDEX_KINDS)
def test_every_kind_through_the_retriever_build_save_load_search(kind, tmp_path):
    built = qa.Retriever.from_corpus(
        CORPUS, cache_dir=tmp_path, embedder=FakeEmbedder(), index_kind=kind
    )
    store = manifest_of(built)["store"]
    assert store["kind"] == kind and store["chosen_by"] == "requested"
    assert {k: v for k, v in store.items() if k not in ("kind", "chosen_by")} == default_params(
        kind, len(built.passages)
    )
    loaded = qa.Retriever.from_corpus(
        CORPUS, cache_dir=tmp_path, embedder=FakeEmbedder(), index_kind=kind
    )
    assert loaded.from_cache and len(loaded.passages) == len(built.passages)
    question = "How many troops does the UN have in Mali?"
    assert [h.to_dict() for h in loaded.search(question, k=3)] == [
        h.to_dict() for h in built.search(question, k=3)
    ]


def test_manifest_shows_the_automatic_choice_and_why(tmp_path):
    retriever = qa.Retriever.from_corpus(CORPUS, cache_dir=tmp_path, embedder=FakeEmbedder())
    store = manifest_of(retriever)["store"]
    assert store["kind"] == "flat"
    assert (
        store["chosen_by"]
        == f"auto: {len(retriever.passages)} vectors <= {AUTO_EXACT_LIMIT:,} (exact limit)"
    )


def test_index_params_reach_the_manifest(tmp_path):
    retriever = qa.Retriever.from_corpus(
        CORPUS,
        cache_dir=tmp_path,
        embedder=FakeEmbedder(),
        index_kind="hnsw",
        index_params={"ef_search": 99},
    )
    store = manifest_of(retriever)["store"]
    assert store["ef_search"] == 99 and store["m"] == 32
    assert store["chosen_by"] == "requested with ef_search"


def test_changing_the_kind_rebuilds_and_says_why(tmp_path, caplog):
    qa.Retriever.from_corpus(CORPUS, cache_dir=tmp_path, embedder=FakeEmbedder())
    with caplog.at_level("INFO", logger="qa"):
        again = qa.Retriever.from_corpus(
            CORPUS, cache_dir=tmp_path, embedder=FakeEmbedder(), index_kind="hnsw"
        )
    assert not again.from_cache
    assert "index settings changed" in caplog.text
    assert manifest_of(again)["store"]["kind"] == "hnsw"


def test_environment_chooses_the_kind(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_INDEX_KIND", "ivf")
    retriever = qa.Retriever.from_corpus(CORPUS, cache_dir=tmp_path, embedder=FakeEmbedder())
    assert manifest_of(retriever)["store"]["kind"] == "ivf"
    monkeypatch.setenv("QA_INDEX_KIND", "nope")
    with pytest.raises(ValueError, match="QA_INDEX_KIND"):
        qa.Retriever.from_corpus(CORPUS, cache_dir=tmp_path, embedder=FakeEmbedder())


def test_a_manifest_without_a_store_kind_is_rebuilt(tmp_path):
    first = qa.Retriever.from_corpus(CORPUS, cache_dir=tmp_path, embedder=FakeEmbedder())
    manifest = manifest_of(first)
    manifest["store"] = {"kind": "annoy"}
    assert first.cache_folder is not None
    (Path(first.cache_folder) / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    again = qa.Retriever.from_corpus(CORPUS, cache_dir=tmp_path, embedder=FakeEmbedder())
    assert not again.from_cache
