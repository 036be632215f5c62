"""Which runtime turns text into vectors: the one place that chooses the encoder.

Both encoders give the same vectors for the same model (to 1e-5), so they share an
index; they differ in what they import and how fast they start. This module sits
above both embedders, which know nothing of each other's choice.

>>> make_embedder()                       # QA_ENCODER, else the default
SentenceTransformerEmbedder('sentence-transformers/all-MiniLM-L6-v2')
>>> make_embedder(encoder="onnx")         # the same model run by ONNX Runtime
OnnxEmbedder('sentence-transformers/all-MiniLM-L6-v2')
"""

from __future__ import annotations

import os
from pathlib import Path

from qa.embedding import Embedder, SentenceTransformerEmbedder
from qa.onnx_embedding import OnnxEmbedder

ENCODERS = ("torch", "onnx")


def make_embedder(
    model: str | None = None, encoder: str | None = None, cache_dir: Path | None = None
) -> Embedder:
    """The embedder for ``model`` run by ``encoder``: the argument, else ``QA_ENCODER``,
    else ``"torch"`` (sentence-transformers). ``"onnx"`` gives the same vectors
    faster (see ``qa.onnx_embedding``), its exported graph kept in ``cache_dir``."""
    encoder = encoder or os.environ.get("QA_ENCODER") or "torch"
    if encoder == "torch":
        return SentenceTransformerEmbedder(model)
    if encoder == "onnx":
        return OnnxEmbedder(model, cache_dir=cache_dir)
    raise ValueError(
        f"encoder must be one of {', '.join(ENCODERS)}; got {encoder!r}. "
        "Set it with encoder= or QA_ENCODER."
    )
