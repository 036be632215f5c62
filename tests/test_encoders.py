"""qa.encoders: the one place that chooses between PyTorch and ONNX Runtime."""

from __future__ import annotations

import pytest

from qa.embedding import SentenceTransformerEmbedder
from qa.encoders import make_embedder
from qa.onnx_embedding import OnnxEmbedder


def test_encoder_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QA_ENCODER", raising=False)
    assert isinstance(make_embedder(), SentenceTransformerEmbedder)
    monkeypatch.setenv("QA_ENCODER", "onnx")
    assert isinstance(make_embedder(), OnnxEmbedder)
    assert isinstance(make_embedder(encoder="torch"), SentenceTransformerEmbedder)
    with pytest.raises(ValueError, match="encoder must be one of torch, onnx; got 'tensorrt'"):
        make_embedder(encoder="tensorrt")
