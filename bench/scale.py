"""Scale: each corpus size in its own process (so its peak memory is its own), with
everything compared within a size measured in that process.

    article        the bundled article: build, search and ask against the floor, and
                   search with the ONNX encoder
    docs1k         1,000 Debian package descriptions: build, search, incremental rebuild
    passages100k   100,000 passages of package descriptions (--full)
    passages1m     1,000,000 vectors: the store alone, IVF against exact (--full)

``python bench/scale.py --worker SIZE --work DIR`` runs one size and prints its JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import corpora
import numpy as np
from build import measure_build, measure_incremental
from latency import measure_search
from measure import (
    ARTICLE_QUESTION,
    FLOOR_K,
    ROOT,
    Context,
    RecordingEmbedder,
    peak_rss_mb,
    percentiles,
    rounds_of,
    timed,
)

NAME = "sizes"  # the key of the results
SIZES = ("article", "docs1k", "passages100k", "passages1m")
LARGE = ("passages100k", "passages1m")
MILLION = 1_000_000
# The 1M-passage corpus: the 100k real passage vectors and perturbed copies of them.
PERTURBATION = 0.02  # per-dimension noise before re-normalising: cosine ~0.93 to the original


def measure(context: Context) -> dict[str, Any]:
    """Every size asked for, each in a child process; partial results are checkpointed."""
    if any(s != "article" for s in context.sizes):
        try:
            corpora.translation_files() or next(corpora.descriptions())
        except corpora.MissingTextError as exc:
            raise SystemExit(str(exc)) from None
    results: dict[str, Any] = {}
    for size in context.sizes:
        print(f"{size} ...", file=sys.stderr, flush=True)
        out = subprocess.run(
            [sys.executable, __file__, "--worker", size, "--work", str(context.work)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        if out.returncode:
            raise SystemExit(f"the {size} benchmark failed (exit code {out.returncode}); see above")
        results[size] = json.loads(out.stdout.strip().splitlines()[-1])
        context.checkpoint(NAME, results)  # keep what is done if a later size fails
    return results


def worker(size: str, work: Path) -> dict[str, Any]:
    import qa
    from qa.index.embedder import ModelError
    from qa.index.torch_encoder import SentenceTransformerEmbedder

    if size == "passages1m":
        return measure_million(work)
    embedder = RecordingEmbedder(SentenceTransformerEmbedder())
    embedder.inner.encode_documents(["warm up"] * 8)  # load the model outside every timing
    cache = work / f"cache-{size}"
    result: dict[str, Any] = {"size": size}
    if size == "article":
        corpus = ROOT / "corpus"
        questions = [
            json.loads(line)["question"]
            for line in (ROOT / "qa/evaluation/sets/questions.jsonl").open()
        ]
        retriever, result["build"] = measure_build(
            corpus, cache, embedder, None, repeats=rounds_of(7)
        )
        onnx = None
        try:  # the fp32 ONNX encoder, over the same index (int8 keeps an index of its own)
            onnx = qa.Retriever.from_corpus(corpus, cache_dir=cache, encoder="onnx")
            onnx.search(ARTICLE_QUESTION)  # exports the graph, outside every timing
        except ModelError as exc:
            print(f"ONNX encoder skipped: {exc}", file=sys.stderr)
            onnx = None
        result["search"] = measure_search(retriever, questions, rounds=rounds_of(5), onnx=onnx)
    elif size == "docs1k":
        items = list(corpora.descriptions())
        chosen = [d for d in items[:: max(1, len(items) // 1200)] if passage_count(d)][:1000]
        corpus = corpora.write_corpus(work / "docs1k", chosen)
        retriever, result["build"] = measure_build(corpus, cache, embedder, None)
        result["search"] = measure_search(
            retriever, corpora.questions_for(chosen, 200), rounds=rounds_of(3)
        )
        result["incremental"] = measure_incremental(corpus, cache, embedder, items[1])
    else:  # passages100k
        chosen = first_passages(list(corpora.descriptions()), 100_000)
        corpus = corpora.write_corpus(work / "passages100k", chosen)
        retriever, result["build"] = measure_build(corpus, cache, embedder, 12_000)
        result["search"] = measure_search(
            retriever, corpora.questions_for(chosen, 200), rounds=rounds_of(2)
        )
        vectors = retriever.built.store._index.reconstruct_n(0, len(retriever.passages))
        np.save(work / "passages100k-vectors.npy", vectors)
    result["peak_rss_mb"] = peak_rss_mb()
    return result


_RULES: Any = None


def passage_count(item: corpora.Description) -> int:
    """Passages qa makes of a description (0 for the few that are all headings)."""
    from qa.ingest.chunking import chunk_document
    from qa.ingest.corpus import BoilerplateRules, parse_document

    global _RULES
    _RULES = _RULES or BoilerplateRules.load()
    return len(chunk_document(parse_document(item.as_document(), item.filename, _RULES)))


def first_passages(items: list[corpora.Description], count: int) -> list[corpora.Description]:
    """The first descriptions that together make at least ``count`` passages."""
    total, chosen = 0, []
    for item in items:
        if not (passages := passage_count(item)):
            continue
        chosen.append(item)
        total += passages
        if total >= count:
            return chosen
    raise SystemExit(f"only {total:,} passages of package descriptions here; {count:,} asked")


def measure_million(work: Path) -> dict[str, Any]:
    """1,000,000 passages: the store alone (there is no text for a million passages).

    The 100,000 real passage vectors of ``passages100k``, plus nine perturbed copies of
    each (Gaussian noise, re-normalised); queries are real questions, embedded.
    """
    import faiss

    from qa.index.faiss_store import FaissStore
    from qa.index.stores import choose_index
    from qa.index.torch_encoder import SentenceTransformerEmbedder

    source = work / "passages100k-vectors.npy"
    if not source.exists():
        raise SystemExit(f"{source} is missing: the passages100k size runs first (--full does)")
    base = np.load(source)
    rng = np.random.default_rng(0)
    vectors = np.empty((MILLION, base.shape[1]), dtype=np.float32)
    for start in range(0, MILLION, len(base)):
        rows = min(len(base), MILLION - start)
        block = (
            base[:rows]
            if start == 0
            else base[:rows] + rng.normal(0, PERTURBATION, (rows, base.shape[1])).astype(np.float32)
        )
        vectors[start : start + rows] = block / np.linalg.norm(block, axis=1, keepdims=True)
    items = list(corpora.descriptions())
    embedder = SentenceTransformerEmbedder()
    queries = embedder.encode_queries(corpora.questions_for(items[1::2], 200))

    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    exact_s, (_, truth) = timed(lambda: exact.search(queries, FLOOR_K))
    exact_single = [timed(lambda q=q: exact.search(q[None, :], FLOOR_K))[0] for q in queries[:50]]
    exact.reset()  # free its 1.5 GB before the IVF index is built

    choice = choose_index(MILLION)
    store = FaissStore(vectors.shape[1], choice.kind, **choice.params)
    build_s, _ = timed(lambda: store.add(vectors))
    for q in queries[:20]:
        store.search(q[None, :], FLOOR_K)
    single = [timed(lambda q=q: store.search(q[None, :], FLOOR_K))[0] for q in queries]
    deep = [timed(lambda q=q: store.search(q[None, :], 1000))[0] for q in queries]
    _, found = store.search(queries, FLOOR_K)
    recall = np.mean([len(set(f) & set(t)) / FLOOR_K for f, t in zip(found, truth, strict=True)])
    path = work / "passages1m.faiss"
    store.save(path)
    index_mb = path.stat().st_size / 2**20
    path.unlink()
    return {
        "size": "passages1m",
        "vectors": MILLION,
        "made_from": f"{len(base):,} real passage vectors and perturbed copies "
        f"(noise {PERTURBATION} per dimension)",
        "index": store.params(),
        "chosen_by": choice.reason,
        "build_seconds": round(build_s, 1),
        "search_k10": percentiles(single),
        "search_k1000": percentiles(deep),
        "exact_search_k10": percentiles(exact_single),
        "exact_batch_seconds": round(exact_s, 2),
        "recall_at_10": round(float(recall), 4),
        "index_file_mb": round(index_mb, 1),
        "peak_rss_mb": peak_rss_mb(),
    }


def report(sizes: dict[str, Any]) -> list[str]:
    """The sizes as a Markdown table, plus a line each for 1M, incremental and ONNX."""

    def pair(measured: float, floor: float, ratio: float, unit: str = " ms") -> str:
        return f"{measured:,.2f} / {floor:,.2f}{unit} ({ratio:.2f}x)"

    rows = [
        "| size | passages | search p50 / floor | search p99 / floor | "
        "build / bare encode (texts/s) | serial q/s | peak RSS |",
        "|---|---:|---|---|---|---:|---:|",
    ]
    for size in SIZES:
        r = sizes.get(size)
        if not r or size == "passages1m":
            continue
        s, f, b = r["search"]["search"], r["search"]["floor"], r["build"]
        rows.append(
            f"| {size} | {b['passages']:,} "
            f"| {pair(s['p50_ms'], f['p50_ms'], s['p50_ratio'])} "
            f"| {pair(s['p99_ms'], f['p99_ms'], s['p99_ratio'])} "
            f"| {pair(b['texts_per_s'], b['bare_encode_texts_per_s'], b['ratio'], '')} "
            f"| {r['search']['serial_queries_per_s']:,.0f} | {r['peak_rss_mb']:,.0f} MB |"
        )
    lines = ["\n".join(rows)]
    if m := sizes.get("passages1m"):
        k10, k1000, exact = m["search_k10"], m["search_k1000"], m["exact_search_k10"]
        lines.append(
            f"1,000,000 passages, {m['index']}: search k=10 p50 {k10['p50_ms']:.2f} ms, "
            f"p99 {k10['p99_ms']:.2f} ms; k=1000 p50 {k1000['p50_ms']:.2f} ms; "
            f"exact search p50 {exact['p50_ms']:.1f} ms; recall@10 {m['recall_at_10']:.3f}; "
            f"build {m['build_seconds']:.0f} s; index file {m['index_file_mb']:,.0f} MB; "
            f"peak RSS {m['peak_rss_mb']:,.0f} MB"
        )
    if d := sizes.get("docs1k", {}).get("incremental"):
        steps = ", ".join(
            f"{k}: {v['seconds']:.1f} s, {v['texts_embedded']} texts embedded"
            for k, v in d.items()
            if isinstance(v, dict) and "seconds" in v
        )
        lines.append(
            f"1,000 documents, incremental: {steps}; equals full rebuild: "
            f"{d['equals_full_rebuild']}; deleted document found: {d['deleted_document_found']}"
        )
    article = sizes.get("article", {}).get("search", {})
    if "onnx_search" in article:
        o, f = article["onnx_search"], article["floor"]
        lines.append(
            f"ONNX encoder, the article: search p50 {o['p50_ms']:.2f} ms, p99 "
            f"{o['p99_ms']:.2f} ms ({o['p50_ratio']:.2f}x the PyTorch floor of "
            f"{f['p50_ms']:.2f} ms)"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description="one corpus size of the benchmark")
    parser.add_argument("--worker", choices=SIZES, required=True)
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    print(json.dumps(worker(args.worker, args.work)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
