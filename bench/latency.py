"""Latency: ``search`` and ``ask`` against the floor no retriever can avoid.

The floor is tokenising the question, one forward pass of the model and a bare FAISS
search (k=10) over the same vectors. Everything is interleaved question by question,
so the ratios hold on a busy machine.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from measure import FLOOR_K, percentiles, timed


def bare_query_vector(model: Any, question: str) -> np.ndarray:
    """The floor's model half: tokenise, one forward pass, normalise; nothing else."""
    import torch

    preprocess = getattr(model, "preprocess", None) or model.tokenize
    features = preprocess([question])
    with torch.inference_mode():
        vector = model(features)["sentence_embedding"]
        vector = torch.nn.functional.normalize(vector, dim=1)
    return vector.numpy()


def measure_search(
    retriever: Any, questions: list[str], rounds: int, onnx: Any = None
) -> dict[str, Any]:
    """``search`` and ``ask`` against the floor, interleaved question by question; and
    ``search`` by ``onnx``, the same retriever with the ONNX encoder, when given."""
    model = retriever.embedder.inner.model
    index = retriever.built.store._index  # the FAISS index over the same vectors

    def floor(question: str) -> None:
        index.search(bare_query_vector(model, question), FLOOR_K)

    for question in questions[:20]:  # warm up every path
        floor(question)
        retriever.search(question, k=3)
        retriever.ask(question, k=3)
        if onnx is not None:
            onnx.search(question, k=3)
    floor_s, search_s, ask_s, onnx_s = [], [], [], []
    for _ in range(rounds):
        for question in questions:
            floor_s.append(timed(lambda q=question: floor(q))[0])
            search_s.append(timed(lambda q=question: retriever.search(q, k=3))[0])
            ask_s.append(timed(lambda q=question: retriever.ask(q, k=3))[0])
            if onnx is not None:
                onnx_s.append(timed(lambda q=question: onnx.search(q, k=3))[0])
    out = {
        "floor": percentiles(floor_s),
        "search": percentiles(search_s),
        "ask": percentiles(ask_s),
    }
    names = ["search", "ask"]
    if onnx_s:
        out["onnx_search"] = percentiles(onnx_s)
        names.append("onnx_search")
    for name in names:
        for p in ("p50_ms", "p99_ms"):
            out[name][p.replace("_ms", "_ratio")] = round(out[name][p] / out["floor"][p], 3)
    out["serial_queries_per_s"] = round(len(search_s) / sum(search_s), 1)
    return out
