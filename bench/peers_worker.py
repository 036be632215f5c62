"""One peer's index build, timed: run by bench/build_peers.py with the Python of the
peers' own environment (bench/.peers-venv), never the app's. Imports nothing of qa.

    python bench/peers_worker.py PEER MODEL_FOLDER TEXTS_JSON OUT_FOLDER

PEER is ``langchain`` (LangChain's FAISS store over HuggingFaceEmbeddings),
``haystack`` (Haystack's in-memory store and Sentence Transformers document embedder)
or ``txtai`` (txtai's Embeddings, FAISS backend, content stored). Each loads the model
folder it is given (the bundled all-MiniLM-L6-v2; no network), embeds one text first
so that loading is outside the timing, then builds an index of the texts with their
names and writes it to OUT_FOLDER, as each documents. Prints one line of JSON: the
seconds to build and write, the load seconds, and the text of the top hit for a
question (a check that the index answers what it was given).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")  # it would post events

QUESTION = "How many troops does the UN have in Mali?"


def langchain(model: str, texts: list[str], names: list[str], out: Path) -> dict[str, Any]:
    from langchain_community.vectorstores import FAISS
    from langchain_huggingface import HuggingFaceEmbeddings

    began = time.perf_counter()
    embeddings = HuggingFaceEmbeddings(
        model_name=model,
        model_kwargs={"device": "cpu", "local_files_only": True},
        encode_kwargs={"normalize_embeddings": True},
    )
    embeddings.embed_query("warm up")
    loaded = time.perf_counter() - began
    began = time.perf_counter()
    store = FAISS.from_texts(texts, embeddings, metadatas=[{"source": n} for n in names])
    store.save_local(str(out))
    seconds = time.perf_counter() - began
    hit = store.similarity_search(QUESTION, k=1)[0].page_content
    return {"seconds": seconds, "load_seconds": loaded, "texts_embedded": len(texts), "hit": hit}


def haystack(model: str, texts: list[str], names: list[str], out: Path) -> dict[str, Any]:
    from haystack import Document
    from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
    from haystack.document_stores.in_memory import InMemoryDocumentStore
    from haystack.utils import ComponentDevice
    from haystack_integrations.components.embedders.sentence_transformers import (
        SentenceTransformersDocumentEmbedder,
        SentenceTransformersTextEmbedder,
    )

    began = time.perf_counter()
    device = ComponentDevice.from_str("cpu")
    embedder = SentenceTransformersDocumentEmbedder(
        model=model, device=device, normalize_embeddings=True, local_files_only=True
    )
    embedder.warm_up()
    embedder.run(documents=[Document(content="warm up")])
    loaded = time.perf_counter() - began
    began = time.perf_counter()
    documents = [Document(content=t, meta={"source": n}) for t, n in zip(texts, names, strict=True)]
    embedded = embedder.run(documents=documents)["documents"]
    store = InMemoryDocumentStore(embedding_similarity_function="cosine")
    store.write_documents(embedded)
    store.save_to_disk(str(out / "store.json"))
    seconds = time.perf_counter() - began
    question = SentenceTransformersTextEmbedder(
        model=model, device=device, normalize_embeddings=True, local_files_only=True
    )
    question.warm_up()
    vector = question.run(text=QUESTION)["embedding"]
    hit = InMemoryEmbeddingRetriever(store).run(query_embedding=vector, top_k=1)["documents"][0]
    return {
        "seconds": seconds,
        "load_seconds": loaded,
        "texts_embedded": len(texts),
        "hit": hit.content,
    }


def txtai(model: str, texts: list[str], names: list[str], out: Path) -> dict[str, Any]:
    from txtai import Embeddings

    began = time.perf_counter()
    embeddings = Embeddings(path=model, content=True, backend="faiss")
    embeddings.transform("warm up")  # loads the model
    loaded = time.perf_counter() - began
    began = time.perf_counter()
    rows = zip(texts, names, strict=True)
    embeddings.index([(i, {"text": t, "source": n}) for i, (t, n) in enumerate(rows)])
    embeddings.save(str(out))
    seconds = time.perf_counter() - began
    hit = embeddings.search(QUESTION, 1)[0]["text"]
    return {"seconds": seconds, "load_seconds": loaded, "texts_embedded": len(texts), "hit": hit}


PEERS = {"langchain": langchain, "haystack": haystack, "txtai": txtai}


def main() -> int:
    peer, model, texts_json, out = sys.argv[1:5]
    items = json.loads(Path(texts_json).read_text(encoding="utf-8"))
    Path(out).mkdir(parents=True, exist_ok=True)
    result = PEERS[peer](model, [i["text"] for i in items], [i["source"] for i in items], Path(out))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
