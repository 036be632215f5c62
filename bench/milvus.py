"""FAISS and Milvus side by side: search latency, index build rate, memory of every process.

    python bench/run.py                           # with the other measurements (--no-milvus skips)
    python bench/milvus.py                        # alone: the article and 1,000 documents
    python bench/milvus.py --sizes passages100k   # 100,000 passages (IVF_FLAT on both)

Milvus runs as Milvus Lite: Milvus's own C++ engine (segcore, knowhere) in a server
process of its own that qa talks to over gRPC, as it would to a cluster. For each
corpus size, in separate processes so each peak is its own:

- a build process embeds the corpus once into the shared per-document vector cache
  (both engines read it: nothing is embedded twice), then builds each engine's index
  from those vectors, timed with the model already loaded: the build rate here is the
  index's, not the model's (for Milvus it includes starting Milvus Lite);
- a search process loads both indexes and times ``Retriever.search(q, k=3)`` on both,
  interleaved question by question so they share the machine's load;
- a serve process per engine loads its index alone and answers a few questions: its
  peak memory, and for Milvus the engine process's too.

As a module of bench/run.py: ``NAME``, ``measure(context)`` (the sizes asked for that
it knows) and ``report(result)`` (the table). Alone, it prints the table and writes
``bench/results/milvus-latest.json`` (and a dated copy). Nothing here is asserted:
benchmarks report, tests check.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

# bench/ is not a package: its modules are found beside this script (sys.path[0]).
import corpora
from measure import HERE, ROOT, Context, percentiles, rounds_of, write_json
from scale import first_passages, passage_count

NAME = "milvus"  # the key of the results
SIZES = ("article", "docs1k", "passages100k")
ENGINES = ("faiss", "milvus")
ROUNDS = {"article": 2, "docs1k": 1, "passages100k": 1}


# ---- corpora ---------------------------------------------------------------------------------


def corpus_for(size: str, work: Path) -> tuple[Path, list[str]]:
    """The corpus folder of ``size`` (written once, then reused) and its questions."""
    if size == "article":
        questions = [
            json.loads(line)["question"]
            for line in (ROOT / "qa/evaluation/sets/questions.jsonl").open()
        ]
        return ROOT / "corpus", questions
    folder = work / f"milvus-{size}"
    items = list(corpora.descriptions())
    if size == "docs1k":
        chosen = [d for d in items[:: max(1, len(items) // 1200)] if passage_count(d)][:1000]
    else:
        chosen = first_passages(items, 100_000)
    if not (folder / ".complete").is_file():
        corpora.write_corpus(folder, chosen)
        (folder / ".complete").touch()
    return folder, corpora.questions_for(chosen, 200)


# ---- measuring -------------------------------------------------------------------------------


def retriever(corpus: Path, cache: Path, engine: str, **kwargs: Any) -> Any:
    import qa

    return qa.Retriever.from_corpus(corpus, cache_dir=cache, vector_store=engine, **kwargs)


def engine_processes() -> list[int]:
    """Our child processes: the Milvus Lite server when one is running."""
    children = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        text = (task / "children").read_text().split()
        children.extend(int(pid) for pid in text)
    return children


def memory_mb(pid: int | str = "self") -> dict[str, float]:
    """Current (VmRSS) and peak (VmHWM) resident memory of a process, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mb": fields.get("VmRSS", 0.0), "peak_mb": fields.get("VmHWM", 0.0)}


def build(size: str, work: Path) -> dict[str, Any]:
    """Embed once (the FAISS build from nothing), then each engine's index from the
    cached vectors, timed."""
    from qa.index.cache import MANIFEST, index_folder
    from qa.index.encoders import make_embedder

    corpus, _ = corpus_for(size, work)
    cache = work / f"milvus-cache-{size}"
    folder = index_folder(cache, corpus)
    embedder = make_embedder(None, None, cache)  # the default encoder, as served
    embedder.encode_queries(["warm up"])  # load the model outside every timing
    began = time.perf_counter()
    first = retriever(corpus, cache, "faiss", embedder=embedder)
    out: dict[str, Any] = {
        "documents": len(first.documents),
        "passages": len(first.passages),
        "first_build_seconds": round(time.perf_counter() - began, 2),
        "first_build_embedded": not first.from_cache,
    }
    del first
    for engine in ENGINES:
        # Drop the engine's index, keep the vectors: the build times the index alone.
        if engine == "faiss":
            (folder / MANIFEST).unlink(missing_ok=True)
        else:
            shutil.rmtree(folder.with_name(folder.name + ".milvus"), ignore_errors=True)
        began = time.perf_counter()
        built = retriever(corpus, cache, engine, embedder=embedder)
        seconds = time.perf_counter() - began
        out[engine] = {
            "index_build_seconds": round(seconds, 2),
            "passages_per_s": round(len(built.passages) / seconds, 1),
            "index": built.built.store.params(),
        }
        del built
    return out


def search(size: str, work: Path) -> dict[str, Any]:
    """Both engines loaded, searched interleaved question by question."""
    corpus, questions = corpus_for(size, work)
    cache = work / f"milvus-cache-{size}"
    loaded = {engine: retriever(corpus, cache, engine) for engine in ENGINES}
    assert all(r.from_cache for r in loaded.values()), "run the build step first"
    for question in questions[:20]:
        for r in loaded.values():
            r.search(question, k=3)
    times: dict[str, list[float]] = {engine: [] for engine in ENGINES}
    same = 0
    for _ in range(rounds_of(ROUNDS[size])):
        for question in questions:
            hits = {}
            for engine, r in loaded.items():
                began = time.perf_counter()
                hits[engine] = r.search(question, k=3)
                times[engine].append(time.perf_counter() - began)
            same += [(h.source, h.start) for h in hits["faiss"]] == [
                (h.source, h.start) for h in hits["milvus"]
            ]
    total = rounds_of(ROUNDS[size]) * len(questions)
    return {
        **{engine: percentiles(times[engine]) for engine in ENGINES},
        **{f"{e}_queries_per_s": round(len(times[e]) / sum(times[e]), 1) for e in ENGINES},
        "same_top3_share": round(same / total, 4),
        "questions": total,
    }


def serve(size: str, work: Path, engine: str) -> dict[str, Any]:
    """One engine's index loaded alone and a few questions answered: memory."""
    corpus, questions = corpus_for(size, work)
    began = time.perf_counter()
    r = retriever(corpus, work / f"milvus-cache-{size}", engine)
    load_s = time.perf_counter() - began
    for question in questions[:50]:
        r.search(question, k=3)
    out = {"load_seconds": round(load_s, 2), "qa_process": memory_mb()}
    servers = engine_processes()
    if servers:
        out["engine_process"] = memory_mb(servers[0])
    return out


# ---- running and reporting -------------------------------------------------------------------


def run_step(step: str, size: str, work: Path, engine: str = "") -> dict[str, Any]:
    command = [sys.executable, __file__, "--step", step, "--size", size, "--work", str(work)]
    if engine:
        command += ["--engine", engine]
    out = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"{step} {size} {engine} failed (exit code {out.returncode}); see above")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def table(results: dict[str, Any]) -> str:
    rows = [
        "| corpus | engine | passages (index) | search p50 | search p99 | queries/s "
        "| index build, passages/s | qa process | engine process |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for size, r in results["sizes"].items():
        for engine in ENGINES:
            s, b, m = r["search"][engine], r["build"][engine], r["serve"][engine]
            index = b["index"]
            lists = f" {index['nlist']}/{index['nprobe']}" if "nlist" in index else ""
            shown = index["kind"] + lists
            server = m.get("engine_process")
            engine_mb = f"{server['peak_mb']:,.0f} MB" if server else "(in process)"
            rows.append(
                f"| {size} | {engine} | {r['build']['passages']:,} ({shown}) "
                f"| {s['p50_ms']:.2f} ms | {s['p99_ms']:.2f} ms "
                f"| {r['search'][engine + '_queries_per_s']:,.0f} "
                f"| {b['passages_per_s']:,.0f} "
                f"| {m['qa_process']['peak_mb']:,.0f} MB "
                f"| {engine_mb} |"
            )
    return "\n".join(rows)


def measure(context: Context) -> dict[str, Any]:
    """Each size asked for that this module knows, its steps in child processes."""
    results: dict[str, Any] = {}
    for size in [s for s in context.sizes if s in SIZES]:
        print(f"milvus {size}: build ...", file=sys.stderr, flush=True)
        result = {"build": run_step("build", size, context.work)}
        print(f"milvus {size}: search ...", file=sys.stderr, flush=True)
        result["search"] = run_step("search", size, context.work)
        result["serve"] = {e: run_step("serve", size, context.work, e) for e in ENGINES}
        results[size] = result
        context.checkpoint(NAME, {"sizes": results})  # keep what is done
    return {"sizes": results, "load_average_end": os.getloadavg()}


def report(result: dict[str, Any]) -> list[str]:
    if not result.get("sizes"):
        return []
    return [
        "FAISS and Milvus (Lite) side by side, hybrid search(q, k=3), both loaded in one "
        "process and interleaved:\n\n" + table(result)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="article,docs1k", help=f"from {', '.join(SIZES)}")
    parser.add_argument("--work", type=Path, default=ROOT / ".cache" / "bench")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--step", choices=("build", "search", "serve"), help=argparse.SUPPRESS)
    parser.add_argument("--size", choices=SIZES, help=argparse.SUPPRESS)
    parser.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    # Measure the defaults, with the engine's store beside the cache.
    for name in ("QA_ENCODER", "QA_INDEX_KIND", "QA_CORPUS", "QA_VECTOR_STORE", "QA_MILVUS_URI"):
        os.environ.pop(name, None)
    args.work.mkdir(parents=True, exist_ok=True)
    if args.step == "build":
        print(json.dumps(build(args.size, args.work)))
        return 0
    if args.step == "search":
        print(json.dumps(search(args.size, args.work)))
        return 0
    if args.step == "serve":
        print(json.dumps(serve(args.size, args.work, args.engine)))
        return 0
    sizes = args.sizes.split(",")
    if unknown := set(sizes) - set(SIZES):
        parser.error(f"unknown size {', '.join(sorted(unknown))}; choose from {', '.join(SIZES)}")
    results: dict[str, Any] = {
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average": os.getloadavg(),
        },
    }

    def checkpoint(name: str, value: Any) -> None:
        results.update(value)
        write_json(args.out / "milvus-latest.json", results)

    checkpoint(NAME, measure(Context(work=args.work, sizes=sizes, checkpoint=checkpoint)))
    stamp = results["started"].replace(":", "").replace("-", "")[:15]
    write_json(args.out / f"milvus-{stamp}.json", results)
    print("\n\n".join(report(results)))
    print(f"\nWritten: {args.out / 'milvus-latest.json'}")
    return 0


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    raise SystemExit(main())
