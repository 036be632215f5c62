"""qa.index.encoders: the one place that chooses between ONNX Runtime and PyTorch."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

import qa.index.encoders
from qa.index.encoders import default_encoder, make_embedder
from qa.index.onnx_encoder import OnnxEmbedder
from qa.index.torch_encoder import SentenceTransformerEmbedder


def test_fp32_onnx_runtime_is_the_default_where_installed(monkeypatch, tmp_path: Path) -> None:
    """int8 is opt-in (its dev follow-ups fall below tests/test_conversation_eval.py's
    floor), so the default stays the encoder whose vectors are PyTorch's."""
    monkeypatch.delenv("QA_ENCODER", raising=False)
    assert default_encoder() == "onnx"  # a dependency of qa: installed with it
    embedder = make_embedder(cache_dir=tmp_path)
    assert isinstance(embedder, OnnxEmbedder) and embedder.precision == "fp32"
    assert embedder.fingerprint == SentenceTransformerEmbedder().fingerprint
    monkeypatch.setattr(qa.index.encoders.importlib.util, "find_spec", lambda name: None)
    assert default_encoder() == "torch"
    assert isinstance(make_embedder(cache_dir=tmp_path), SentenceTransformerEmbedder)


def test_the_setting_wins(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QA_ENCODER", "torch")
    assert isinstance(make_embedder(), SentenceTransformerEmbedder)
    assert isinstance(make_embedder(encoder="onnx", cache_dir=tmp_path), OnnxEmbedder)
    monkeypatch.setenv("QA_ENCODER", "onnx")
    assert isinstance(make_embedder(cache_dir=tmp_path), OnnxEmbedder)
    assert isinstance(make_embedder(encoder="torch"), SentenceTransformerEmbedder)
    int8 = make_embedder(encoder="onnx-int8", cache_dir=tmp_path)
    assert isinstance(int8, OnnxEmbedder) and int8.precision == "int8"
    assert int8.fingerprint != make_embedder(encoder="onnx", cache_dir=tmp_path).fingerprint
    monkeypatch.setenv("QA_ENCODER", "onnx-int8")
    assert make_embedder(cache_dir=tmp_path).fingerprint == int8.fingerprint
    with pytest.raises(
        ValueError, match="encoder must be one of auto, onnx, onnx-int8, torch; got 'tensorrt'"
    ):
        make_embedder(encoder="tensorrt")


def test_auto_keeps_pytorch_for_a_model_onnx_cannot_run(caplog) -> None:
    caplog.set_level(logging.INFO, logger="qa.index.encoders")
    embedder = make_embedder("some-user/some-hub-model", encoder="auto")
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert "Encoding with PyTorch" in caplog.text and "hub name" in caplog.text


@pytest.mark.slow
def test_auto_falls_back_to_pytorch_when_the_export_fails(monkeypatch, tmp_path, caplog):
    def broken(model, path):
        raise RuntimeError("exporter broke")

    monkeypatch.setattr("qa.index.onnx_export.export_graph", broken)
    auto = make_embedder(encoder="auto", cache_dir=tmp_path)
    texts = ["How many troops does the UN have in Mali?", "Café au lait, 東京"]
    vectors = auto.encode_queries(texts)
    again = auto.encode_documents(texts)
    reference = SentenceTransformerEmbedder().encode_queries(texts)
    np.testing.assert_allclose(vectors, reference, atol=1e-6)
    np.testing.assert_allclose(again, reference, atol=1e-5)
    assert caplog.text.count("Encoding with PyTorch instead") == 1  # said once, not per call
    with pytest.raises(Exception, match="exporter broke"):  # asked for by name: an error
        make_embedder(encoder="onnx", cache_dir=tmp_path / "strict").encode_queries(texts)
