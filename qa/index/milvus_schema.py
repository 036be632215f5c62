"""One collection of qa's in Milvus: its fields, a passage as a row, and the
description that says what its vectors were made with (a collection made otherwise is
refused, never mixed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np

from qa.index.milvus_connection import DocumentRows, StoreError, passage_key

SCHEMA_VERSION = 1  # bump on any change to the fields below
MAX_VARCHAR_BYTES = 65_535  # Milvus's longest VARCHAR
MAX_ARRAY = 4_096  # Milvus's longest ARRAY field
# The fields a passage is read back from (all but the vectors).
PASSAGE_FIELDS = [
    "pk",
    "source",
    "doc_hash",
    "ordinal",
    "count",
    "text",
    "title",
    "context",
    "start",
    "end",
    "paragraph",
    "paragraphs",
    "sentences",
]


def collection_schema(client: Any, description: str, dimension: int, capacity: int) -> Any:
    """The schema of a collection of passages of ``dimension``-float vectors, each with
    at most ``capacity`` floats of sentence vectors."""
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False, description=description)
    text = {"datatype": DataType.VARCHAR, "max_length": MAX_VARCHAR_BYTES}
    schema.add_field("pk", DataType.VARCHAR, max_length=64, is_primary=True)
    schema.add_field("source", DataType.VARCHAR, max_length=4096)
    schema.add_field("doc_hash", DataType.VARCHAR, max_length=128)
    schema.add_field("ordinal", DataType.INT32)
    schema.add_field("count", DataType.INT32)
    for name in ("text", "title", "context"):
        schema.add_field(name, **text)
    for name in ("start", "end"):
        schema.add_field(name, DataType.INT64)
    for name in ("paragraph", "paragraphs"):
        schema.add_field(name, DataType.INT32)
    schema.add_field("sentences", DataType.JSON)
    schema.add_field(
        "sentence_vectors", DataType.ARRAY, element_type=DataType.FLOAT, max_capacity=capacity
    )
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    return schema


def rows_of(document: DocumentRows, capacity: int, dimension: int) -> Iterator[dict[str, Any]]:
    """The rows of ``document``'s passages: each with its vector and its sentences'
    vectors (``capacity`` floats at most); ``StoreError`` for what Milvus cannot hold."""
    passages = document.passages
    vectors = np.asarray(document.vectors, dtype=np.float32)
    at = len(passages)  # sentence vectors follow the passage vectors
    for ordinal, p in enumerate(passages):
        sentences = len(p.sentences) if len(p.sentences) > 1 else 0
        own = vectors[at : at + sentences]
        at += sentences
        for name in ("text", "title", "context"):
            if len(getattr(p, name).encode("utf-8", "surrogatepass")) > MAX_VARCHAR_BYTES:
                raise StoreError(
                    f"{document.source}: a passage's {name} is longer than Milvus's "
                    f"{MAX_VARCHAR_BYTES:,} bytes; split the document or use FAISS."
                )
        if own.size > capacity:
            raise StoreError(
                f"{document.source}: a passage of {sentences} sentences exceeds the "
                f"collection's {capacity // dimension}."
            )
        yield {
            "pk": passage_key(document.source, ordinal),
            "source": document.source,
            "doc_hash": document.doc_hash,
            "ordinal": ordinal,
            "count": len(passages),
            "text": p.text,
            "title": p.title,
            "context": p.context,
            "start": p.start,
            "end": p.end,
            "paragraph": p.paragraph,
            "paragraphs": p.paragraphs,
            "sentences": [[s.start, s.end] for s in p.sentences],
            "sentence_vectors": own.ravel().tolist(),
            "vector": vectors[ordinal],
        }


def identity_difference(stored: str, identity: dict[str, Any]) -> str:
    """Which part of ``identity`` a qa collection description differs in; "" when the
    description is not qa's."""
    try:
        data = json.loads(stored)
    except ValueError:
        return ""
    if not isinstance(data, dict) or "qa" not in data:
        return ""
    if data.get("qa") != SCHEMA_VERSION:
        return f"schema (version {data.get('qa')}, this qa writes {SCHEMA_VERSION})"
    for part, value in identity.items():
        if data.get(part) != value:
            return f"{part} ({_short(data.get(part))} -> {_short(value)})"
    return "identity"


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:79] + "…"
