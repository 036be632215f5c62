"""Which runtime turns text into vectors: the one place that chooses the encoder.

The default is ONNX Runtime running the model quantized to int8 (``"onnx-int8"``),
wherever ONNX Runtime is installed (it is a dependency of qa): about half fp32's time
to embed a document and 0.65x per question, with the same ``heldout`` results in
``qa eval`` (docs/benchmarks.md). Its vectors are close to fp32's, not
equal, so it keeps an index of its own. ``"onnx"`` runs the fp32 graph and PyTorch
(``"torch"``) runs sentence-transformers: the same vectors (to 1e-5;
tests/test_onnx_embedding.py checks it, with identical ``qa eval`` tables), so those
two share an index. ONNX Runtime loads its graph without importing PyTorch, so a
question is answered in about a second from a cold start instead of five; PyTorch
does the one-time export. This module sits above the embedders, which know nothing
of each other's choice.

>>> make_embedder()                       # QA_ENCODER, else int8 ONNX where it runs
OnnxEmbedder('sentence-transformers/all-MiniLM-L6-v2', precision='int8')
>>> make_embedder(encoder="onnx")         # the fp32 graph: PyTorch's vectors
OnnxEmbedder('sentence-transformers/all-MiniLM-L6-v2')
>>> make_embedder(encoder="torch")        # the same model run by PyTorch
SentenceTransformerEmbedder('sentence-transformers/all-MiniLM-L6-v2')
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

from qa.embedding import Embedder, ModelError, SentenceTransformerEmbedder
from qa.onnx_embedding import OnnxEmbedder

log = logging.getLogger(__name__)

ENCODERS = ("auto", "onnx", "onnx-int8", "torch")


def default_encoder() -> str:
    """``"onnx-int8"`` where ONNX Runtime is installed, else ``"torch"``."""
    return "onnx-int8" if importlib.util.find_spec("onnxruntime") else "torch"


def make_embedder(
    model: str | None = None, encoder: str | None = None, cache_dir: Path | None = None
) -> Embedder:
    """The embedder for ``model`` run by ``encoder``: the argument, else ``QA_ENCODER``,
    else ``"auto"``.

    ``"auto"`` runs the int8 graph where ONNX Runtime is installed and the model can be
    exported (a transformer with mean pooling in a local folder, like the bundled one);
    else the fp32 graph, else PyTorch (also if the fp32 export fails). The int8 graph is
    opened here, not on first use: if it cannot be made, the choice must fall to fp32
    before an index is keyed by the encoder's fingerprint. ``"onnx-int8"``, ``"onnx"``
    and ``"torch"`` insist (an error says why one cannot run). The graphs are kept in
    ``cache_dir``.
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
            int8 = OnnxEmbedder(model, cache_dir=cache_dir, precision="int8")
        except ModelError as exc:  # a model ONNX cannot run: PyTorch, as chosen before
            log.info("Encoding with PyTorch: %s", exc)
            return SentenceTransformerEmbedder(model)
        try:
            int8.load()
            return int8
        except ModelError as exc:
            log.warning("%s Encoding with the fp32 graph instead.", exc)
        return OnnxEmbedder(model, cache_dir=cache_dir, fallback=True)
    raise ValueError(
        f"encoder must be one of {', '.join(ENCODERS)}; got {encoder!r}. "
        "Set it with encoder= or QA_ENCODER."
    )
