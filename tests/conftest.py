"""Shared fixtures: the real article, a fast deterministic embedder, the real model."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
ARTICLE = CORPUS / "france-allies-begin-military-withdrawal-from-mali.txt"

# A test worker holds many models and indexes at once (2 GB and more by the end of a
# run), past the served app's default memory bound, which a SessionStore measures on
# the whole process. Tests of that budget pass their own Limits.
os.environ.setdefault("QA_MAX_RSS_MB", "100000")


class FakeEmbedder:
    """Hashed bag of words: deterministic, instant, and similar texts get similar
    vectors, so unit tests exercise the real pipeline without loading a model."""

    dimension = 64

    def __init__(self, name: str = "fake", fingerprint: str = "fake-v1"):
        self.name = name
        self.fingerprint = fingerprint
        self.calls = 0

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        return self._encode(texts)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A private copy of the real corpus that a test may change."""
    folder = tmp_path / "corpus"
    shutil.copytree(CORPUS, folder)
    return folder


@pytest.fixture(scope="session")
def real_retriever(tmp_path_factory: pytest.TempPathFactory):
    """The real article with the real bundled model, built once per test session."""
    import qa

    return qa.Retriever.from_corpus(CORPUS, cache_dir=tmp_path_factory.mktemp("cache"))
