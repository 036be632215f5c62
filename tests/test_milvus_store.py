"""The index in a Milvus collection, against the real engine (Milvus Lite 2.5.1: Milvus's
own C++ query engine, started as a subprocess), compared with FAISS on the same corpus."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import CORPUS, FakeEmbedder
from test_incremental import CountingEmbedder, signature, write_corpus

import qa
from qa.cli import DEFAULT_FOLLOWUPS, DEFAULT_QUESTIONS
from qa.index.milvus_connection import MilvusSettings, StoreError, collection_name, connect
from qa.index.milvus_store import MilvusStore
from qa.index.stores import vector_store_name
from qa.ingest.chunking import ChunkingConfig

WORKER = Path(__file__).resolve().parent / "milvus_worker.py"
DOCUMENTS = 40


@pytest.fixture(scope="module")
def lite_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One Milvus Lite file (one engine process) for the tests of this module; each test
    gets its own collection, named after its corpus folder."""
    with warnings.catch_warnings():  # milvus-lite 2.5 imports the old pkg_resources
        warnings.simplefilter("ignore", UserWarning)
        from milvus_lite.server_manager import server_manager_instance

    path = tmp_path_factory.mktemp("lite") / "qa.db"
    yield str(path)
    server_manager_instance.release_server(str(path))


@pytest.fixture
def milvus(monkeypatch: pytest.MonkeyPatch, lite_uri: str) -> str:
    monkeypatch.setenv("QA_VECTOR_STORE", "milvus")
    monkeypatch.setenv("QA_MILVUS_URI", lite_uri)
    monkeypatch.delenv("QA_MILVUS_COLLECTION", raising=False)
    monkeypatch.delenv("QA_MILVUS_TOKEN", raising=False)
    return lite_uri


def spans(hits: list[qa.Hit]) -> list[tuple[str, int, int, str]]:
    return [(h.source, h.start, h.end, h.answer) for h in hits]


def faiss(corpus: Path, cache: Path, embedder: object) -> qa.Retriever:
    return qa.Retriever.from_corpus(
        corpus, cache_dir=cache, embedder=embedder, vector_store="faiss"
    )


def test_build_search_and_manifest_match_faiss(milvus, tmp_path, monkeypatch):
    corpus = write_corpus(tmp_path / "corpus", DOCUMENTS)
    monkeypatch.setenv("QA_MILVUS_TOKEN", "secret-token-123")  # Lite ignores it; never written
    built = qa.Retriever.from_corpus(corpus, cache_dir=tmp_path / "cache", embedder=FakeEmbedder())
    reference = faiss(corpus, tmp_path / "faiss", FakeEmbedder())
    assert not built.from_cache
    assert built.passages == reference.passages  # the same rows, read back from the engine
    for i in (0, 7, DOCUMENTS - 1):
        hits, expected = built.search(signature(i), 5), reference.search(signature(i), 5)
        assert spans(hits) == spans(expected)
        assert hits[0].source == f"dispatch-{i:04d}.txt"
        np.testing.assert_allclose([h.score for h in hits], [h.score for h in expected], atol=1e-5)
    manifests = list((tmp_path / "cache").glob("*.milvus/manifest.json"))
    assert len(manifests) == 1
    text = manifests[0].read_text(encoding="utf-8")
    assert "secret-token-123" not in text
    engine = json.loads(text)["engine"]
    assert engine == {
        "name": "milvus",
        "uri": milvus,
        "collection": collection_name(built.cache_folder),
    }
    again = qa.Retriever.from_corpus(corpus, cache_dir=tmp_path / "cache", embedder=FakeEmbedder())
    assert again.from_cache and again.passages == built.passages


@pytest.mark.slow
def test_hybrid_parity_with_faiss_on_the_question_set(milvus, tmp_path):
    """The real model and article: every question and follow-up gets the same passages,
    the same answer sentence, the same scores, and qa eval the same tables."""
    from qa.cli import HISTORY_CHECK_SEED
    from qa.evaluation.followups import history_regressions, report_followups, run_followups
    from qa.evaluation.quality import load_questions, report
    from qa.evaluation.quality import run as run_questions

    reference = faiss(CORPUS, tmp_path / "faiss", None)
    held = qa.Retriever.from_corpus(CORPUS, cache_dir=tmp_path / "milvus")
    questions = load_questions(DEFAULT_QUESTIONS)
    for question in questions:
        for mode in ("hybrid", "dense", "lexical"):
            a = reference.with_mode(mode).ask(question.question, 5)
            b = held.with_mode(mode).ask(question.question, 5)
            assert (a.found, a.message) == (b.found, b.message), question.question
            assert spans(list(a.passages)) == spans(list(b.passages)), question.question
            np.testing.assert_allclose(
                [h.score for h in a.passages], [h.score for h in b.passages], atol=1e-5
            )
    tables = [report(run_questions(r, questions, ["hybrid", "dense"])) for r in (reference, held)]
    without_time = [[{**row.to_dict(), "p50_ms": None} for row in rows] for rows in tables]
    assert without_time[0] == without_time[1]
    # The follow-up rows of qa eval: each follow-up read the same way, with the same
    # passages, and the same table and history check.
    followups = load_questions(DEFAULT_FOLLOWUPS)
    for question in followups:
        a = reference.ask(question.question, 5, question.history)
        b = held.ask(question.question, 5, question.history)
        assert (a.read_as, a.found, a.message) == (b.read_as, b.found, b.message)
        assert spans(list(a.passages)) == spans(list(b.passages)), question.question
    rows = [
        [m.to_dict() for m in report_followups(run_followups(r, followups))]
        for r in (reference, held)
    ]
    assert rows[0] == rows[1] and rows[0]
    worse = [history_regressions(r, questions, HISTORY_CHECK_SEED) for r in (reference, held)]
    assert worse[0] == worse[1]


def test_incremental_change_add_delete_embeds_only_those(milvus, tmp_path):
    corpus = write_corpus(tmp_path / "corpus", DOCUMENTS)
    embedder = CountingEmbedder()
    qa.Retriever.from_corpus(corpus, cache_dir=tmp_path / "cache", embedder=embedder)
    changed, deleted = corpus / "dispatch-0003.txt", corpus / "dispatch-0005.txt"
    changed.write_text(
        changed.read_text(encoding="utf-8") + "\nA correction was filed from Gao.\n", "utf-8"
    )
    deleted.unlink()
    (corpus / "dispatch-new.txt").write_text(
        "A new dispatch\n\nThe convoy reached Ménaka before dawn.\n", encoding="utf-8"
    )
    embedder.texts.clear()
    updated = qa.Retriever.from_corpus(corpus, cache_dir=tmp_path / "cache", embedder=embedder)
    assert not updated.from_cache
    embedded = " ".join(embedder.texts)
    assert "Gao" in embedded and "Ménaka" in embedded
    assert "Dépêche 3 " in embedded and "Dépêche 4 " not in embedded  # the others: cached
    reference = faiss(corpus, tmp_path / "faiss", CountingEmbedder())
    assert updated.passages == reference.passages
    assert spans(updated.search("convoy Ménaka", 3)) == spans(reference.search("convoy Ménaka", 3))
    for mode in ("hybrid", "dense", "lexical"):
        hits = updated.with_mode(mode).search(signature(5), 20)
        assert all(h.source != deleted.name for h in hits), mode
    # The shorter version of a document leaves no passage of the longer one behind.
    changed.write_text("A short dispatch\n\nOnly this remains.\n", encoding="utf-8")
    shorter = qa.Retriever.from_corpus(corpus, cache_dir=tmp_path / "cache", embedder=embedder)
    assert [p.text for p in shorter.passages if p.source == changed.name] == ["Only this remains."]
    assert shorter.passages == faiss(corpus, tmp_path / "faiss", CountingEmbedder()).passages


def run_worker(corpus: Path, cache: Path, uri: str, *extra: str) -> dict:
    proc = subprocess.run(
        [sys.executable, str(WORKER), str(corpus), str(cache), uri, *extra],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_reopen_after_a_restart_and_finish_a_killed_build(tmp_path, corpus_copy):
    """Processes of their own (Milvus Lite serves one at a time): a build, a restart that
    loads it, a build killed after its first rows, and the run after it."""
    uri = str(tmp_path / "lite" / "qa.db")
    corpus = write_corpus(corpus_copy, 30)  # the article and 30 dispatches
    built = run_worker(corpus, tmp_path / "cache", uri)
    assert not built["from_cache"] and built["passages"] > 30
    reopened = run_worker(corpus, tmp_path / "cache", uri)
    assert reopened["from_cache"] and reopened["top"] == built["top"]

    article = next(corpus.glob("france-*.txt"))
    article.write_text(article.read_text("utf-8").replace("12,000", "13,500"), "utf-8")
    for n in range(30):
        (corpus / f"dispatch-{n:04d}.txt").write_text(
            f"Dispatch {n}, revised\n\nRevised dispatch {n} from Timbuktu.\n", "utf-8"
        )
    killed = subprocess.run(
        [
            sys.executable,
            str(WORKER),
            str(corpus),
            str(tmp_path / "cache"),
            uri,
            "--kill-after-upserts",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert killed.returncode == -9, killed.stderr[-3000:]
    finished = run_worker(corpus, tmp_path / "cache", uri)
    assert not finished["from_cache"]  # the half-written documents were found and rewritten
    fresh = run_worker(corpus, tmp_path / "fresh", str(tmp_path / "lite2" / "qa.db"))
    assert finished["passages"] == fresh["passages"] and finished["top"] == fresh["top"]


def test_another_model_or_chunking_is_refused_then_rebuilt(milvus, tmp_path, monkeypatch):
    corpus = write_corpus(tmp_path / "corpus", 5)
    cache = tmp_path / "cache"
    qa.Retriever.from_corpus(corpus, cache_dir=cache, embedder=FakeEmbedder("fake", "weights-a"))
    with pytest.raises(StoreError, match=r"built with another model .*weights-a.*weights-b"):
        qa.Retriever.from_corpus(
            corpus, cache_dir=cache, embedder=FakeEmbedder("fake", "weights-b")
        )
    with pytest.raises(StoreError, match=r"another chunking.*--rebuild"):
        qa.Retriever.from_corpus(
            corpus,
            cache_dir=cache,
            embedder=FakeEmbedder("fake", "weights-a"),
            chunking=ChunkingConfig(max_chars=200),
        )
    rebuilt = qa.Retriever.from_corpus(
        corpus, cache_dir=cache, embedder=FakeEmbedder("fake", "weights-b"), rebuild=True
    )
    assert not rebuilt.from_cache and rebuilt.search(signature(2), 1)[0].source.endswith("2.txt")
    again = qa.Retriever.from_corpus(
        corpus, cache_dir=cache, embedder=FakeEmbedder("fake", "weights-b")
    )
    assert again.from_cache


def test_a_collection_qa_did_not_make_is_never_written(milvus, tmp_path, monkeypatch):
    from pymilvus import MilvusClient

    client = MilvusClient(uri=milvus)
    client.create_collection("someone_elses", dimension=4)
    client.insert("someone_elses", [{"id": 1, "vector": [0.1, 0.2, 0.3, 0.4]}])
    monkeypatch.setenv("QA_MILVUS_COLLECTION", "someone_elses")
    corpus = write_corpus(tmp_path / "corpus", 3)
    for rebuild in (False, True):
        with pytest.raises(StoreError, match="not made by qa"):
            qa.Retriever.from_corpus(
                corpus, cache_dir=tmp_path / "cache", embedder=FakeEmbedder(), rebuild=rebuild
            )
    assert client.query("someone_elses", filter="", output_fields=["count(*)"])[0]["count(*)"] == 1


def test_a_wrong_uri_is_an_error_that_names_it(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_MILVUS_TOKEN", "secret-token-123")
    for uri, message in (
        ("ftp://example/x", "neither a server address"),
        (str(tmp_path / "index.sqlite"), r"ends in \.db"),
        (str(tmp_path / ("x" * 40 + ".db")), "at most 36"),
    ):
        with pytest.raises(StoreError, match=message) as error:
            connect(MilvusSettings(uri))
        assert uri in str(error.value) and "secret-token-123" not in str(error.value)
    with pytest.raises(StoreError, match="not a Milvus collection name"):
        MilvusStore.open(
            MilvusSettings(str(tmp_path / "qa.db")), "bad name", {}, dimension=4, max_sentences=3
        )


def test_an_unreachable_server_times_out_with_what_to_check(monkeypatch):
    monkeypatch.setenv("QA_MILVUS_TOKEN", "secret-token-123")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(StoreError, match=rf"Could not reach Milvus at http://127\.0\.0\.1:{port}"):
        connect(MilvusSettings(f"http://127.0.0.1:{port}", timeout=2))
    # A server that accepts the connection and never answers: bounded by the timeout.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        accepted: list[socket.socket] = []
        threading.Thread(
            target=lambda: accepted.extend(silent.accept()[0] for _ in range(8)), daemon=True
        ).start()
        uri = f"http://user:password@127.0.0.1:{silent.getsockname()[1]}"
        began = time.monotonic()
        with pytest.raises(StoreError) as error:
            connect(MilvusSettings(uri, timeout=2))
        assert time.monotonic() - began < 15
    text = str(error.value)
    assert "Check that the server is running" in text and "QA_MILVUS_URI" in text
    assert "password" not in text and "secret-token-123" not in text


def test_the_cli_says_what_is_wrong(tmp_path):
    env = {
        "QA_VECTOR_STORE": "milvus",
        "QA_MILVUS_URI": "ftp://example/x",
        "QA_CACHE_DIR": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "qa", "build", str(CORPUS)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "qa: error: QA_MILVUS_URI='ftp://example/x'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_settings_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("QA_MILVUS_URI", "https://user:pw@cluster.example:19530")
    monkeypatch.setenv("QA_MILVUS_COLLECTION", "news")
    monkeypatch.setenv("QA_MILVUS_TOKEN", "secret-token-123")
    settings = MilvusSettings.from_env(default_uri=tmp_path / "x.db")
    assert (settings.uri, settings.collection, settings.is_lite) == (
        "https://user:pw@cluster.example:19530",
        "news",
        False,
    )
    assert settings.shown_uri() == "https://cluster.example:19530"
    assert "secret-token-123" not in repr(settings)
    monkeypatch.setenv("QA_MILVUS_TIMEOUT", "soon")
    with pytest.raises(StoreError, match="QA_MILVUS_TIMEOUT must be"):
        MilvusSettings.from_env(default_uri=tmp_path / "x.db")
    with pytest.raises(ValueError, match="QA_VECTOR_STORE"):
        vector_store_name("qdrant")
    monkeypatch.setenv("QA_VECTOR_STORE", "milvus")
    assert vector_store_name() == "milvus"


def test_ivf_on_lite_and_hnsw_refused_there(milvus, tmp_path):
    corpus = write_corpus(tmp_path / "corpus", DOCUMENTS)
    ivf = qa.Retriever.from_corpus(
        corpus,
        cache_dir=tmp_path / "cache",
        embedder=FakeEmbedder(),
        index_kind="ivf",
        index_params={"nlist": 4, "nprobe": 4},  # every list: exact
    )
    assert ivf.built.store.params() == {"kind": "ivf", "nlist": 4, "nprobe": 4}
    reference = faiss(corpus, tmp_path / "faiss", FakeEmbedder())
    assert spans(ivf.search(signature(9), 3)) == spans(reference.search(signature(9), 3))
    with pytest.raises(StoreError, match="Milvus Lite has no HNSW"):
        qa.Retriever.from_corpus(
            corpus, cache_dir=tmp_path / "cache", embedder=FakeEmbedder(), index_kind="hnsw"
        )


@pytest.mark.slow
def test_the_cli_and_the_app_serve_from_milvus(tmp_path, monkeypatch):
    """The same settings select Milvus for ``qa`` and for the app; the app, answering
    30 concurrent callers in batches, gives each exactly its own answer."""
    import httpx
    from served_app import serve_app

    question = "How many troops does the UN have in Mali?"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("QA_")},
        "QA_VECTOR_STORE": "milvus",
        "QA_CACHE_DIR": str(tmp_path / "cli-cache"),
        "QA_CORPUS": str(CORPUS),
    }
    asked = subprocess.run(
        [sys.executable, "-m", "qa", "ask", question, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert asked.returncode == 0, asked.stderr[-2000:]
    assert "12,000 troops" in json.loads(asked.stdout)["passages"][0]["text"]
    assert list((tmp_path / "cli-cache").glob("*.milvus/manifest.json"))

    monkeypatch.setenv("QA_VECTOR_STORE", "milvus")
    questions = QUESTIONS_FOR_APP
    with serve_app(tmp_path) as url:
        assert list((tmp_path / "cache").glob("*.milvus/manifest.json"))

        def search(q: str) -> list[tuple[str, int, int]]:
            with httpx.Client(timeout=120, trust_env=False) as http:
                call = f"{url}gradio_api/call/search"
                event = http.post(call, json={"data": [q, 3, [], "both"]})
                stream = http.get(f"{call}/{event.json()['event_id']}")
            lines = stream.text.splitlines()
            assert "event: complete" in lines, stream.text[:500]
            data = lines[lines.index("event: complete") + 1].removeprefix("data: ")
            return [(p["source"], p["start"], p["end"]) for p in json.loads(data)[0]]

        alone = {q: search(q) for q in questions}
        asked_together = [questions[i % len(questions)] for i in range(60)]
        with ThreadPoolExecutor(max_workers=30) as pool:
            together = list(pool.map(search, asked_together))
    assert [alone[q] for q in asked_together] == together


QUESTIONS_FOR_APP = [
    "How many troops does the UN have in Mali?",
    "Why is France leaving Mali?",
    "Who is the spokesman for the MINUSMA mission?",
    "When did France first deploy troops in Mali?",
    "Who won the World Cup?",
]
