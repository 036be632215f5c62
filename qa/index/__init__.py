"""Stage 2, passages to a searchable index: vectors in a store, and BM25 beside them.

- ``encoders``: the ``Embedder`` protocol and the choice of encoder (``make_embedder``):
  ``onnx_encoder`` (ONNX Runtime, the default) or ``torch_encoder`` (PyTorch); the same
  vectors either way;
- ``stores``: the ``BuiltIndex`` record and the choice of vector store: ``faiss_store``
  (in process) or ``milvus_store`` (a Milvus server or Milvus Lite);
- ``lexical``: BM25 over the passages, and the spelling correction of questions;
- ``cache`` and ``building``: the index on disk, rebuilt when what it was built from
  changes, vectors cached per document.

Takes ``Passage`` records from ``qa.ingest``; hands on a ``BuiltIndex`` (passages,
their vectors and sentence vectors, behind a ``PassageStore``) to ``qa.answer``.
"""
