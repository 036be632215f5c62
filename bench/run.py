"""qa's benchmark: latency against its floor, build throughput, cold start, memory, scale.

    python bench/run.py            # the article and 1,000 documents (a few minutes)
    python bench/run.py --full     # also 100,000 and 1,000,000 passages (about 40 minutes)

Each corpus size runs in its own process, so its peak memory is its own; everything
compared within a size is measured in that one process, interleaved where it can be,
so ratios hold on a noisy machine. Prints a table and writes the numbers as JSON
(``bench/results/latest.json`` and a dated copy). No number here is asserted anywhere:
benchmarks report, tests check behaviour.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "scripts"))

import corpora  # noqa: E402
import load_test  # noqa: E402

SIZES = ("article", "docs1k", "passages100k", "passages1m")
LARGE = ("passages100k", "passages1m")
ARTICLE_QUESTION = "How many troops does the UN have in Mali?"
MILLION = 1_000_000
# The 1M-passage corpus: the 100k real passage vectors and perturbed copies of them.
PERTURBATION = 0.02  # per-dimension noise before re-normalising: cosine ~0.93 to the original
FLOOR_K = 10  # k of the bare FAISS search in the floor


# ---- measuring ---------------------------------------------------------------------------


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "n": len(ms),
    }


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


class RecordingEmbedder:
    """The real embedder, noting every text the build asks it to embed."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.texts: list[str] = []

    name = property(lambda self: self.inner.name)
    fingerprint = property(lambda self: self.inner.fingerprint)
    dimension = property(lambda self: self.inner.dimension)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.encode_queries(texts)

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.encode_documents(texts, progress=progress)


def bare_query_vector(model: Any, question: str) -> np.ndarray:
    """The floor's model half: tokenise, one forward pass, normalise; nothing else."""
    import torch

    preprocess = getattr(model, "preprocess", None) or model.tokenize
    features = preprocess([question])
    with torch.inference_mode():
        vector = model(features)["sentence_embedding"]
        vector = torch.nn.functional.normalize(vector, dim=1)
    return vector.numpy()


def bench_search(
    retriever: Any, questions: list[str], rounds: int, onnx: Any = None
) -> dict[str, Any]:
    """``search`` and ``ask`` against the floor, interleaved question by question; and
    ``search`` by ``onnx``, the same retriever with the ONNX encoder, when given."""
    model = retriever._embedder.inner.model
    index = retriever._built.store._index  # the FAISS index over the same vectors

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


def bench_build(
    corpus: Path,
    cache: Path,
    embedder: RecordingEmbedder,
    bare_sample: int | None,
    repeats: int = 1,
) -> tuple[Any, dict[str, Any]]:
    """Build from nothing, then encode the same texts bare (or an even sample of them);
    ``repeats`` times, alternating, keeping the median of each (small corpora only)."""
    import qa

    builds, bares = [], []
    for _ in range(repeats):
        shutil.rmtree(cache, ignore_errors=True)
        embedder.texts.clear()
        build_s, retriever = timed(
            lambda: qa.Retriever.from_corpus(corpus, cache_dir=cache, embedder=embedder)
        )
        texts = list(embedder.texts)
        step = 1 if bare_sample is None else max(1, len(texts) // bare_sample)
        sample = texts[::step]
        bare_s, _ = timed(
            lambda s=sample, m=embedder.inner.model: m.encode(
                s, batch_size=64, normalize_embeddings=True, convert_to_numpy=True
            )
        )
        builds.append(build_s)
        bares.append(bare_s)
    build_s, bare_s = statistics.median(builds), statistics.median(bares)
    build_rate = len(texts) / build_s
    bare_rate = len(sample) / bare_s
    return retriever, {
        "documents": len(retriever.documents),
        "passages": len(retriever.passages),
        "texts_embedded": len(texts),
        "seconds": round(build_s, 2),
        "passages_per_s": round(len(retriever.passages) / build_s, 1),
        "texts_per_s": round(build_rate, 1),
        "bare_encode_texts": len(sample),
        "bare_encode_texts_per_s": round(bare_rate, 1),
        "ratio": round(build_rate / bare_rate, 3),
        "repeats": repeats,
        "index": retriever._built.store.params(),
    }


def bench_incremental(
    corpus: Path, cache: Path, embedder: RecordingEmbedder, spare: corpora.Description
) -> dict[str, Any]:
    """Change, add and delete one document; compare with a full rebuild."""
    import qa

    files = sorted(corpus.glob("*.txt"))
    steps: dict[str, Any] = {}

    def step(name: str, change: Callable[[], None]) -> Any:
        change()
        embedder.texts.clear()
        seconds, retriever = timed(
            lambda: qa.Retriever.from_corpus(corpus, cache_dir=cache, embedder=embedder)
        )
        steps[name] = {"seconds": round(seconds, 2), "texts_embedded": len(embedder.texts)}
        return retriever

    changed = files[10]
    step(
        "change one",
        lambda: changed.write_text(
            changed.read_text(encoding="utf-8") + "\nThis package was updated for the benchmark.\n",
            encoding="utf-8",
        ),
    )
    step("add one", lambda: (corpus / spare.filename).write_text(spare.as_document(), "utf-8"))
    deleted = files[20]
    deleted_title = deleted.read_text(encoding="utf-8").splitlines()[0]
    incremental = step("delete one", deleted.unlink)
    full = qa.Retriever.from_corpus(corpus, cache_dir=cache, embedder=embedder, rebuild=True)

    def key(p: Any) -> tuple[str, int, int, str]:
        return (p.source, p.start, p.end, p.text)

    same_passages = [key(p) for p in incremental.passages] == [key(p) for p in full.passages]
    a = incremental._built.store._index.reconstruct_n(0, len(incremental.passages))
    b = full._built.store._index.reconstruct_n(0, len(full.passages))
    deleted_found = {
        mode: any(
            h.source == deleted.name for h in incremental.with_mode(mode).search(deleted_title, 20)
        )
        for mode in ("hybrid", "dense", "lexical")
    }
    return {
        **steps,
        "equals_full_rebuild": bool(
            same_passages and a.shape == b.shape and np.allclose(a, b, atol=1e-5)
        ),
        "max_vector_difference": float(np.abs(a - b).max()) if a.shape == b.shape else None,
        "deleted_document_found": deleted_found,
    }


# ---- the corpus sizes ----------------------------------------------------------------------


def worker(size: str, work: Path) -> dict[str, Any]:
    import qa
    from qa.embedding import ModelError, SentenceTransformerEmbedder

    if size == "passages1m":
        return bench_million(work)
    embedder = RecordingEmbedder(SentenceTransformerEmbedder())
    embedder.inner.encode_documents(["warm up"] * 8)  # load the model outside every timing
    cache = work / f"cache-{size}"
    result: dict[str, Any] = {"size": size}
    if size == "article":
        corpus = ROOT / "corpus"
        questions = [
            json.loads(line)["question"] for line in (ROOT / "tests/questions.jsonl").open()
        ]
        retriever, result["build"] = bench_build(corpus, cache, embedder, None, repeats=7)
        onnx = None
        if importlib.util.find_spec("onnxruntime"):  # the optional encoder: same index
            try:
                onnx = qa.Retriever.from_corpus(corpus, cache_dir=cache, encoder="onnx")
                onnx.search(ARTICLE_QUESTION)  # exports the graph, outside every timing
            except ModelError as exc:
                print(f"ONNX encoder skipped: {exc}", file=sys.stderr)
                onnx = None
        result["search"] = bench_search(retriever, questions, rounds=5, onnx=onnx)
    elif size == "docs1k":
        items = list(corpora.descriptions())
        chosen = [d for d in items[:: max(1, len(items) // 1200)] if passage_count(d)][:1000]
        corpus = corpora.write_corpus(work / "docs1k", chosen)
        retriever, result["build"] = bench_build(corpus, cache, embedder, None)
        result["search"] = bench_search(retriever, corpora.questions_for(chosen, 200), rounds=3)
        result["incremental"] = bench_incremental(corpus, cache, embedder, items[1])
    else:  # passages100k
        chosen = first_passages(list(corpora.descriptions()), 100_000)
        corpus = corpora.write_corpus(work / "passages100k", chosen)
        retriever, result["build"] = bench_build(corpus, cache, embedder, 12_000)
        result["search"] = bench_search(retriever, corpora.questions_for(chosen, 200), rounds=2)
        vectors = retriever._built.store._index.reconstruct_n(0, len(retriever.passages))
        np.save(work / "passages100k-vectors.npy", vectors)
    result["peak_rss_mb"] = peak_rss_mb()
    return result


_RULES: Any = None


def passage_count(item: corpora.Description) -> int:
    """Passages qa makes of a description (0 for the few that are all headings)."""
    from qa.chunking import chunk_document
    from qa.corpus import BoilerplateRules, parse_document

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


def bench_million(work: Path) -> dict[str, Any]:
    """1,000,000 passages: the store alone (there is no text for a million passages).

    The 100,000 real passage vectors of ``passages100k``, plus nine perturbed copies of
    each (Gaussian noise, re-normalised); queries are real questions, embedded.
    """
    import faiss

    from qa.embedding import SentenceTransformerEmbedder
    from qa.index import FaissStore, choose_index

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


# ---- cold start -----------------------------------------------------------------------------


def run_measured(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak memory (MB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(command)} failed with exit code {proc.returncode}")
    return seconds, usage.ru_maxrss / 1024


def app_to_serving(cache: Path) -> float:
    """Seconds from starting app.py until it serves its page (started as ``make load`` does)."""
    start = time.perf_counter()
    proc = load_test.start_app(load_test.free_port(), str(cache))
    seconds = time.perf_counter() - start
    proc.terminate()
    proc.wait(30)
    return seconds


def bench_cold_start(work: Path, repeats: int = 3) -> dict[str, Any]:
    env = {
        **os.environ,
        "QA_CACHE_DIR": str(work / "cache-cold"),
        "QA_CORPUS": str(ROOT / "corpus"),
    }
    ask = [sys.executable, "-m", "qa", "ask", ARTICLE_QUESTION]
    run_measured(ask, env)  # builds the cache: what follows is a warm-cache start
    imports = [
        run_measured([sys.executable, "-c", "import sentence_transformers, faiss"], env)
        for _ in range(repeats)
    ]
    asks = [run_measured(ask, env) for _ in range(repeats)]
    onnx: dict[str, Any] = {}
    if importlib.util.find_spec("onnxruntime"):
        onnx_env = {**env, "QA_ENCODER": "onnx"}
        try:
            run_measured(ask, onnx_env)  # exports the graph once
        except SystemExit as exc:
            print(f"ONNX cold start skipped: {exc}", file=sys.stderr)
        else:
            runs = [run_measured(ask, onnx_env) for _ in range(repeats)]
            onnx = {
                "qa_ask_onnx_s": round(statistics.median(s for s, _ in runs), 2),
                "qa_ask_onnx_peak_rss_mb": round(max(m for _, m in runs), 1),
            }
    apps = [app_to_serving(work / "cache-cold") for _ in range(repeats)]
    bare = statistics.median(s for s, _ in imports)
    ask_s = statistics.median(s for s, _ in asks)
    app_s = statistics.median(apps)
    return {
        "bare_import_s": round(bare, 2),
        "qa_ask_s": round(ask_s, 2),
        "qa_ask_ratio": round(ask_s / bare, 2),
        "qa_ask_peak_rss_mb": round(max(m for _, m in asks), 1),
        "app_to_serving_s": round(app_s, 2),
        "app_ratio": round(app_s / bare, 2),
        **onnx,
        "repeats": repeats,
    }


# ---- report ---------------------------------------------------------------------------------


def table(results: dict[str, Any]) -> str:
    """The results as a Markdown table plus a line each for 1M, incremental and cold start."""

    def pair(measured: float, floor: float, ratio: float, unit: str = " ms") -> str:
        return f"{measured:,.2f} / {floor:,.2f}{unit} ({ratio:.2f}x)"

    rows = [
        "| size | passages | search p50 / floor | search p99 / floor | "
        "build / bare encode (texts/s) | serial q/s | peak RSS |",
        "|---|---:|---|---|---|---:|---:|",
    ]
    for size in SIZES:
        r = results["sizes"].get(size)
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
    if m := results["sizes"].get("passages1m"):
        k10, k1000, exact = m["search_k10"], m["search_k1000"], m["exact_search_k10"]
        lines.append(
            f"1,000,000 passages, {m['index']}: search k=10 p50 {k10['p50_ms']:.2f} ms, "
            f"p99 {k10['p99_ms']:.2f} ms; k=1000 p50 {k1000['p50_ms']:.2f} ms; "
            f"exact search p50 {exact['p50_ms']:.1f} ms; recall@10 {m['recall_at_10']:.3f}; "
            f"build {m['build_seconds']:.0f} s; index file {m['index_file_mb']:,.0f} MB; "
            f"peak RSS {m['peak_rss_mb']:,.0f} MB"
        )
    if d := results["sizes"].get("docs1k", {}).get("incremental"):
        steps = ", ".join(
            f"{k}: {v['seconds']:.1f} s, {v['texts_embedded']} texts embedded"
            for k, v in d.items()
            if isinstance(v, dict) and "seconds" in v
        )
        lines.append(
            f"1,000 documents, incremental: {steps}; equals full rebuild: "
            f"{d['equals_full_rebuild']}; deleted document found: {d['deleted_document_found']}"
        )
    article = results["sizes"].get("article", {}).get("search", {})
    if "onnx_search" in article:
        o, f = article["onnx_search"], article["floor"]
        lines.append(
            f"ONNX encoder, the article: search p50 {o['p50_ms']:.2f} ms, p99 "
            f"{o['p99_ms']:.2f} ms ({o['p50_ratio']:.2f}x the PyTorch floor of "
            f"{f['p50_ms']:.2f} ms)"
        )
    if c := results.get("cold_start"):
        lines.append(
            f"Cold start, warm cache: bare import {c['bare_import_s']:.2f} s; "
            f"qa ask {c['qa_ask_s']:.2f} s ({c['qa_ask_ratio']:.2f}x, "
            f"peak {c['qa_ask_peak_rss_mb']:.0f} MB); "
            f"app to serving {c['app_to_serving_s']:.2f} s ({c['app_ratio']:.2f}x)"
            + (
                f"; qa ask with the ONNX encoder {c['qa_ask_onnx_s']:.2f} s "
                f"(peak {c['qa_ask_onnx_peak_rss_mb']:.0f} MB)"
                if "qa_ask_onnx_s" in c
                else ""
            )
        )
    return "\n\n".join(lines)


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
        json.dump(data, f, indent=2)
    os.replace(f.name, path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="also 100,000 and 1,000,000 passages")
    parser.add_argument("--sizes", help=f"comma-separated subset of {', '.join(SIZES)}")
    parser.add_argument("--no-cold-start", action="store_true", help="skip the cold-start runs")
    parser.add_argument(
        "--work", type=Path, default=ROOT / ".cache" / "bench", help="scratch folder"
    )
    parser.add_argument("--out", type=Path, default=HERE / "results", help="folder for the JSON")
    parser.add_argument("--worker", choices=SIZES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    # The benchmark measures the defaults; the caller's choices would change what the
    # rows mean (the PyTorch rows measuring ONNX, say). Workers inherit this.
    for name in ("QA_ENCODER", "QA_INDEX_KIND", "QA_CORPUS"):
        os.environ.pop(name, None)
    args.work.mkdir(parents=True, exist_ok=True)
    if args.worker:
        print(json.dumps(worker(args.worker, args.work)))
        return 0
    sizes = (
        args.sizes.split(",") if args.sizes else [s for s in SIZES if args.full or s not in LARGE]
    )
    if unknown := set(sizes) - set(SIZES):
        parser.error(f"unknown size {', '.join(sorted(unknown))}; choose from {', '.join(SIZES)}")
    if any(s != "article" for s in sizes):
        try:
            corpora.translation_files() or next(corpora.descriptions())
        except corpora.MissingTextError as exc:
            raise SystemExit(str(exc)) from None
    import torch

    results: dict[str, Any] = {
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "sizes": {},
    }
    if not args.no_cold_start:
        print("cold start ...", file=sys.stderr, flush=True)
        results["cold_start"] = bench_cold_start(args.work)
    for size in sizes:
        print(f"{size} ...", file=sys.stderr, flush=True)
        out = subprocess.run(
            [sys.executable, __file__, "--worker", size, "--work", str(args.work)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        if out.returncode:
            raise SystemExit(f"the {size} benchmark failed (exit code {out.returncode}); see above")
        results["sizes"][size] = json.loads(out.stdout.strip().splitlines()[-1])
        write_json(args.out / "latest.json", results)  # keep what is done if a later size fails
    stamp = results["started"].replace(":", "").replace("-", "")[:15]
    write_json(args.out / f"bench-{stamp}.json", results)
    write_json(args.out / "latest.json", results)
    print(table(results))
    print(f"\nWritten: {args.out / 'latest.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
