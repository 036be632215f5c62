"""Which runtime turns text into vectors: the one place that chooses the encoder.

Both encoders give the same vectors for the same model (to 1e-5; tests/test_onnx_encoder.py
checks it, with identical ``qa eval`` tables), so they share an index. They differ in
start-up: ONNX Runtime loads an exported graph without importing PyTorch, so a
question is answered in about a second from a cold start instead of five. It is
therefore the default wherever it is installed (it is a dependency of qa); PyTorch
stays one setting away and does the one-time export. This module sits above both
embedders, which know nothing of each other's choice.

``"onnx-int8"`` runs the ONNX graph quantized to int8: about half fp32's time to embed
a document and 0.65x per question, with vectors close to fp32's but not equal, so it
keeps an index of its own. It is opt-in: on ``qa eval``'s ``heldout`` split it gives
the same results as fp32, but follow-ups on ``dev`` fall below the floor that
tests/test_conversation_eval.py holds (docs/benchmarks.md).

>>> make_embedder()                       # QA_ENCODER, else ONNX Runtime if installed
OnnxEmbedder('sentence-transformers/all-MiniLM-L6-v2')
>>> make_embedder(encoder="torch")        # the same model run by PyTorch
SentenceTransformerEmbedder('sentence-transformers/all-MiniLM-L6-v2')
>>> make_embedder(encoder="onnx-int8")    # quantized: faster, close vectors, own index
OnnxEmbedder('sentence-transformers/all-MiniLM-L6-v2', precision='int8')
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

from qa.index.embedder import Embedder, ModelError
from qa.index.onnx_encoder import OnnxEmbedder
from qa.index.torch_encoder import SentenceTransformerEmbedder

log = logging.getLogger(__name__)

ENCODERS = ("auto", "onnx", "onnx-int8", "torch")


def default_encoder() -> str:
    """``"onnx"`` where ONNX Runtime is installed, else ``"torch"``."""
    return "onnx" if importlib.util.find_spec("onnxruntime") else "torch"


def make_embedder(
    model: str | None = None, encoder: str | None = None, cache_dir: Path | None = None
) -> Embedder:
    """The embedder for ``model`` run by ``encoder``: the argument, else ``QA_ENCODER``,
    else ``"auto"``.

    ``"auto"`` runs ONNX Runtime where it is installed and the model can be exported
    (a transformer with mean pooling in a local folder, like the bundled one), and
    PyTorch otherwise, or if the export fails: the same vectors either way, so this
    only changes speed. ``"onnx"`` insists (an error says why it cannot), ``"torch"``
    runs sentence-transformers, ``"onnx-int8"`` the int8 graph (no fallback: its
    vectors are its own). The graphs are kept in ``cache_dir``.
    """
    encoder = encoder or os.environ.get("QA_ENCODER") or "auto"
    if encoder == "torch":
        return SentenceTransformerEmbedder(model)
    if encoder == "onnx":
        return OnnxEmbedder(model, cache_dir=cache_dir)
    if encoder == "onnx-int8":
        return OnnxEmbedder(model, cache_dir=cache_dir, precision="int8")
    if encoder == "auto":
        if default_encoder() == "torch":
            return SentenceTransformerEmbedder(model)
        try:
            return OnnxEmbedder(model, cache_dir=cache_dir, fallback=True)
        except ModelError as exc:
            log.info("Encoding with PyTorch: %s", exc)
            return SentenceTransformerEmbedder(model)
    raise ValueError(
        f"encoder must be one of {', '.join(ENCODERS)}; got {encoder!r}. "
        "Set it with encoder= or QA_ENCODER."
    )
