"""Incremental builds: a change to one document of a 1,000-document corpus embeds that
document only, and the index it gives is the index a full rebuild gives, byte for byte."""

from __future__ import annotations

import functools
import hashlib
import json
import re
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from conftest import ARTICLE, FakeEmbedder

import qa
from qa import stopping
from qa.index import building
from qa.index.cache import (
    INDEX_FILE,
    MANIFEST,
    PASSAGES_FILE,
    SENTENCES_FILE,
    EmbeddingCache,
    embeddings_folder,
    index_folder,
)
from qa.ingest.chunking import split_sentences
from qa.ingest.corpus import load_corpus

DOCUMENTS = 1_000
INDEX_FILES = (PASSAGES_FILE, INDEX_FILE, SENTENCES_FILE, "sentence_rows.npy")


class CountingEmbedder(FakeEmbedder):
    """The fake embedder, recording every passage or sentence text it is asked to embed
    (and remembering word hashes, which makes its vectors no different, only faster)."""

    def __init__(self, *args: str):
        super().__init__(*args)
        self.texts: list[str] = []

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[row, _bucket(word, self.dimension)] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.texts.extend(texts)
        return super().encode_documents(texts, progress=progress)


@functools.cache
def _bucket(word: str, dimension: int) -> int:
    return int(hashlib.md5(word.encode()).hexdigest(), 16) % dimension


def signature(i: int) -> str:
    """The sentence only document ``i`` holds (non-ASCII on purpose): an exact query."""
    return f"Dépêche {i} was filed from Bamako by desk {i % 17} at {i % 24:02d}:00."


def write_corpus(folder: Path, count: int = DOCUMENTS) -> Path:
    """``count`` distinct news-like documents, made of the article's sentences."""
    text = ARTICLE.read_text(encoding="utf-8")
    body = text.split("\n", 1)[1]
    sentences = [
        body[s.start : s.end] for s in split_sentences(body) if len(body[s.start : s.end]) > 40
    ]
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        paragraphs = [
            " ".join(sentences[(i * 7 + 3 * j + n) % len(sentences)] for n in range(2))
            for j in range(3)
        ]
        unique = signature(i)
        (folder / f"dispatch-{i:04d}.txt").write_text(
            f"Dispatch {i} from the Sahel\n\n" + "\n\n".join([*paragraphs, unique]) + "\n",
            encoding="utf-8",
        )
    return folder


@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("big") / "corpus")


@pytest.fixture
def corpus(tmp_path: Path, big_corpus: Path) -> Path:
    """A private copy of the 1,000-document corpus that a test may change."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for file in big_corpus.iterdir():
        (folder / file.name).write_bytes(file.read_bytes())
    return folder


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """50 documents, for tests where the corpus size does not matter."""
    return write_corpus(tmp_path / "small", 50)


def build(
    corpus: Path, cache: Path, embedder: FakeEmbedder | None = None, **kwargs
) -> qa.Retriever:
    return qa.Retriever.from_corpus(
        corpus, cache_dir=cache, embedder=embedder or CountingEmbedder(), **kwargs
    )


def texts_of(retriever: qa.Retriever, source: str) -> list[str]:
    """What a build embeds for one document: its passages, then its sentences."""
    passages = [p for p in retriever.passages if p.source == source]
    sentences = [
        p.text[s.start - p.start : s.end - p.start]
        for p in passages
        if len(p.sentences) > 1
        for s in p.sentences
    ]
    return [p.text for p in passages] + sentences


def index_files(retriever: qa.Retriever) -> dict[str, bytes]:
    assert retriever.cache_folder is not None
    return {name: (retriever.cache_folder / name).read_bytes() for name in INDEX_FILES}


def assert_same_as_full_rebuild(retriever: qa.Retriever, corpus: Path, tmp_path: Path) -> None:
    fresh = build(corpus, tmp_path / "fresh-cache")
    assert retriever.passages == fresh.passages
    assert index_files(retriever) == index_files(fresh)  # the same index, byte for byte
    for question in ("How many troops does the UN have in Mali?", signature(17)):
        assert [h.to_dict() for h in retriever.search(question, k=5)] == [
            h.to_dict() for h in fresh.search(question, k=5)
        ]


def test_a_text_is_embedded_once_and_serves_every_place_it_occurs(tmp_path):
    """A one-sentence passage is one text (its vector is its sentence's too), and a
    sentence that a passage, another passage's sentence and another document share is
    embedded once; every place it occurs gets that vector."""
    shared = "The convoy reached Gao on Friday after a long delay."
    closed = "The airport in Niamey closed for two days."
    texts = {
        "a.txt": f"Report A\n\n{shared}\n\n{closed} {shared}\n",
        "b.txt": f"Report B\n\n{shared}\n",
    }
    embedder = CountingEmbedder()
    retriever = qa.Retriever.from_texts(texts, embedder=embedder)
    assert [len(p.sentences) for p in retriever.passages] == [1, 2, 1]
    # Five texts to place (three passages, two sentences of the second); three distinct.
    assert sorted(embedder.texts) == sorted([shared, f"{closed} {shared}", closed])
    built = retriever._parts[0].built
    expected = CountingEmbedder()._encode([shared, f"{closed} {shared}", shared])
    np.testing.assert_array_equal(built.store._index.reconstruct_n(0, 3), expected)
    np.testing.assert_array_equal(
        built.sentence_vectors, CountingEmbedder()._encode([closed, shared])
    )
    assert list(built.sentence_rows) == [0, 0, 2, 2]
    hit = retriever.search("Which airport closed?", k=1)[0]
    assert (hit.source, hit.answer) == ("a.txt", closed)


def test_the_bundled_article_embeds_its_passages_and_the_sentences_of_longer_ones():
    """The real article: one text per one-sentence passage, the passage and each of its
    sentences for the others; none repeats, so nothing more can be saved."""
    embedder = CountingEmbedder()
    retriever = qa.Retriever.from_texts(
        {ARTICLE.name: ARTICLE.read_text(encoding="utf-8")}, embedder=embedder
    )
    singles = sum(len(p.sentences) == 1 for p in retriever.passages)
    sentences = sum(len(p.sentences) for p in retriever.passages if len(p.sentences) > 1)
    assert 0 < singles < len(retriever.passages)
    assert len(embedder.texts) == len(retriever.passages) + sentences
    assert len(set(embedder.texts)) == len(embedder.texts)


def test_first_build_embeds_every_text_once(corpus, tmp_path, monkeypatch):
    """Every distinct passage and sentence, once: these documents repeat the article's
    sentences, so 9,500 texts to embed are 1,108 distinct ones."""
    monkeypatch.setattr(building, "EMBED_GROUP_TEXTS", 10**9)  # one group: once overall
    embedder = CountingEmbedder()
    retriever = build(corpus, tmp_path / "cache", embedder)
    assert len(retriever.documents) == DOCUMENTS
    expected = [t for source in sorted(retriever.documents) for t in texts_of(retriever, source)]
    assert sorted(embedder.texts) == sorted(set(expected))
    assert len(embedder.texts) < len(expected) / 5
    again = CountingEmbedder()
    assert build(corpus, tmp_path / "cache", again).from_cache
    assert again.texts == []


def test_changing_one_document_embeds_only_that_document(corpus, tmp_path):
    build(corpus, tmp_path / "cache")
    changed = corpus / "dispatch-0500.txt"
    changed.write_text(
        changed.read_text(encoding="utf-8")
        + "\nThe convoy reached Gao on Friday after a long delay.\n",
        encoding="utf-8",
    )
    embedder = CountingEmbedder()
    retriever = build(corpus, tmp_path / "cache", embedder)
    assert not retriever.from_cache
    assert sorted(embedder.texts) == sorted(set(texts_of(retriever, "dispatch-0500.txt")))
    assert retriever.search("convoy reached Gao on Friday", k=1)[0].source == "dispatch-0500.txt"
    assert_same_as_full_rebuild(retriever, corpus, tmp_path)


def test_adding_a_document_embeds_only_that_document(corpus, tmp_path):
    build(corpus, tmp_path / "cache")
    (corpus / "zz-new.txt").write_text(
        "A new dispatch\n\nThe harmattan wind closed the airport in Niamey for two days.\n",
        encoding="utf-8",
    )
    embedder = CountingEmbedder()
    retriever = build(corpus, tmp_path / "cache", embedder)
    assert embedder.texts == ["The harmattan wind closed the airport in Niamey for two days."]
    assert (
        retriever.search("harmattan wind closed the Niamey airport", k=1)[0].source == "zz-new.txt"
    )
    assert_same_as_full_rebuild(retriever, corpus, tmp_path)


def test_a_deleted_document_never_shows_up_again(corpus, tmp_path):
    question = signature(321)
    first = build(corpus, tmp_path / "cache")
    assert first.search(question, k=1)[0].source == "dispatch-0321.txt"
    (corpus / "dispatch-0321.txt").unlink()
    embedder = CountingEmbedder()
    retriever = build(corpus, tmp_path / "cache", embedder)
    assert embedder.texts == []  # nothing new to embed
    assert "dispatch-0321.txt" not in retriever.documents
    hits = retriever.search(question, k=20)
    assert all(h.source != "dispatch-0321.txt" for h in hits)
    # Its stored vectors are gone too, so nothing can bring it back.
    assert retriever.cache_folder is not None
    assert len(list(embeddings_folder(retriever.cache_folder).glob("*/*.npy"))) == DOCUMENTS - 1
    reloaded = build(corpus, tmp_path / "cache")
    assert reloaded.from_cache
    assert all(h.source != "dispatch-0321.txt" for h in reloaded.search(question, k=20))
    assert_same_as_full_rebuild(retriever, corpus, tmp_path)


def test_restoring_a_document_after_deleting_it(corpus, tmp_path):
    original = (corpus / "dispatch-0007.txt").read_bytes()
    build(corpus, tmp_path / "cache")
    (corpus / "dispatch-0007.txt").unlink()
    build(corpus, tmp_path / "cache")
    (corpus / "dispatch-0007.txt").write_bytes(original)
    embedder = CountingEmbedder()
    retriever = build(corpus, tmp_path / "cache", embedder)
    assert sorted(embedder.texts) == sorted(set(texts_of(retriever, "dispatch-0007.txt")))
    assert_same_as_full_rebuild(retriever, corpus, tmp_path)


def test_renaming_a_document_embeds_nothing(small_corpus, tmp_path):
    build(small_corpus, tmp_path / "cache")
    (small_corpus / "dispatch-0042.txt").rename(small_corpus / "renamed.txt")
    embedder = CountingEmbedder()
    retriever = build(small_corpus, tmp_path / "cache", embedder)
    assert embedder.texts == []
    assert "renamed.txt" in retriever.documents and "dispatch-0042.txt" not in retriever.documents
    assert retriever.search(signature(42), k=1)[0].source == "renamed.txt"


def test_another_model_or_chunking_embeds_everything_again(small_corpus, tmp_path):
    first = build(small_corpus, tmp_path / "cache")
    total = len({t for s in first.documents for t in texts_of(first, s)})  # one group
    other_model = CountingEmbedder("fake", "fake-v2")
    build(small_corpus, tmp_path / "cache", other_model)
    assert len(other_model.texts) == total
    smaller = CountingEmbedder()
    one_sentence = build(
        small_corpus, tmp_path / "cache", smaller, chunking=qa.ChunkingConfig(max_sentences=1)
    )
    assert sorted(smaller.texts) == sorted({p.text for p in one_sentence.passages})


def test_another_index_kind_embeds_nothing(small_corpus, tmp_path):
    build(small_corpus, tmp_path / "cache")
    embedder = CountingEmbedder()
    retriever = build(small_corpus, tmp_path / "cache", embedder, index_kind="ivf")
    assert not retriever.from_cache
    assert embedder.texts == []
    assert retriever.search(signature(17), k=1)[0].source == "dispatch-0017.txt"


def test_rebuild_embeds_everything_again(small_corpus, tmp_path):
    first = build(small_corpus, tmp_path / "cache")
    embedder = CountingEmbedder()
    build(small_corpus, tmp_path / "cache", embedder, rebuild=True)
    assert len(embedder.texts) == len({t for s in first.documents for t in texts_of(first, s)})


@pytest.mark.parametrize("damage", ["truncate", "pickle", "wrong shape", "nan", "not unit"])
def test_damaged_document_vectors_are_embedded_again(small_corpus, tmp_path, damage):
    first = build(small_corpus, tmp_path / "cache")
    assert first.cache_folder is not None
    victim = sorted(embeddings_folder(first.cache_folder).glob("*/*.npy"))[0]
    if damage == "truncate":
        victim.write_bytes(victim.read_bytes()[:100])
    elif damage == "pickle":
        np.save(victim, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    elif damage == "wrong shape":
        np.save(victim, np.zeros((1, 3), dtype=np.float32))
    else:
        vectors = np.load(victim, allow_pickle=False)
        vectors[0, 0] = np.nan if damage == "nan" else 7.0
        np.save(victim, vectors)
    embedder = CountingEmbedder()
    # Another index kind: the index is assembled again from the stored vectors.
    retriever = build(small_corpus, tmp_path / "cache", embedder, index_kind="flat")
    damaged = [
        s
        for s in retriever.documents
        if sorted(set(texts_of(retriever, s))) == sorted(embedder.texts)
    ]
    assert embedder.texts and damaged  # exactly the texts of one document were embedded again
    assert_same_as_full_rebuild(retriever, small_corpus, tmp_path)


def test_interrupted_build_keeps_the_old_index_and_resumes(corpus, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    old = build(corpus, cache)
    for path in sorted(corpus.iterdir())[:300]:  # 300 documents change
        path.write_text(
            path.read_text(encoding="utf-8") + "\nA late correction was issued.\n", encoding="utf-8"
        )
    monkeypatch.setattr(building, "EMBED_GROUP_TEXTS", 100)

    class Interrupted(CountingEmbedder):
        def encode_documents(self, texts, *, progress=False):
            if len(self.texts) >= 500:
                raise KeyboardInterrupt
            return super().encode_documents(texts, progress=progress)

    interrupted = Interrupted()
    with pytest.raises(KeyboardInterrupt):
        build(corpus, cache, interrupted)
    assert not list(cache.glob("**/.*.tmp"))  # no half-written file left behind
    stored = EmbeddingCache(embeddings_folder(index_folder(cache, corpus)))
    unfinished = [
        d
        for d in load_corpus(corpus)
        if building._DocumentPlan.of(d, qa.ChunkingConfig(), "fake-v1", stored).vectors is None
    ]
    # The index on disk is still the old one, whole: with the old corpus it loads as is.
    manifest = json.loads((old.cache_folder / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["counts"]["passages"] == len(old.passages)
    # The next build embeds what the interrupted one had not finished, no more.
    resumed = CountingEmbedder()
    retriever = build(corpus, cache, resumed)
    changed = {p.name for p in sorted(corpus.iterdir())[:300]}
    assert 0 < len(unfinished) < len(changed)
    assert {d.source for d in unfinished} <= changed
    assert set(resumed.texts) == {t for d in unfinished for t in texts_of(retriever, d.source)}
    assert set(interrupted.texts + resumed.texts) == {
        t for s in changed for t in texts_of(retriever, s)
    }
    assert_same_as_full_rebuild(retriever, corpus, tmp_path)


def test_stale_temporary_files_are_removed(small_corpus, tmp_path):
    first = build(small_corpus, tmp_path / "cache")
    assert first.cache_folder is not None
    stale = [
        first.cache_folder / ".index.faiss.999999.tmp",
        embeddings_folder(first.cache_folder) / "ab" / ".x.npy.1.tmp",
    ]
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half a file")
    (small_corpus / "dispatch-0002.txt").unlink()
    build(small_corpus, tmp_path / "cache")
    assert not any(path.exists() for path in stale)


def test_large_builds_show_progress(corpus, tmp_path, capsys):
    build(corpus, tmp_path / "cache")
    assert "Embedding" in capsys.readouterr().err  # more than 1,000 texts: a progress bar


def test_without_a_writable_cache_everything_still_works(small_corpus, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be", encoding="utf-8")
    embedder = CountingEmbedder()
    retriever = build(small_corpus, blocker, embedder)
    assert len(retriever.documents) == 50
    assert retriever.search(signature(5), k=1)[0].source == "dispatch-0005.txt"


@pytest.mark.slow
def test_qa_build_stopped_by_kill_leaves_the_last_index_whole(tmp_path):
    """`kill` during a real build: the command says so, exits 130, leaves no temporary
    file, and the index that was there still loads as it was."""
    corpus, cache = write_corpus(tmp_path / "corpus", 1), tmp_path / "cache"
    command = [sys.executable, "-m", "qa", "build", str(corpus), "--cache-dir", str(cache)]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    # 1,199 more documents, 1,500 distinct texts (each has a sentence of its own and
    # repeats the article's): a build with a progress bar
    write_corpus(corpus, 1200)
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    seen = ""
    while "Embedding:" not in seen:
        line = process.stderr.read(1)
        assert line, f"the build ended before embedding: {seen[-2000:]}"
        seen += line
    process.send_signal(signal.SIGTERM)
    rest = process.communicate(timeout=120)[1]
    assert process.returncode == 130, seen + rest
    assert "interrupted" in rest and "resume" in rest
    assert not list(cache.glob("**/.*.tmp"))
    # The index's own folder: the cache also holds the ONNX export (onnx/) and vectors.
    manifest = json.loads((index_folder(cache, corpus) / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["counts"]["documents"] == 1
    for extra in sorted(corpus.iterdir())[1:]:
        extra.unlink()
    again = subprocess.run(command, check=True, capture_output=True, text=True, timeout=300)
    assert "loaded from cache" in again.stdout


def test_adding_many_vectors_shows_progress(capsys):
    """Training and filling an IVF index of a million passages takes a minute: a bar
    counts the passages added, in steps of the store's batch."""
    from qa.index.building import _add_vectors
    from qa.index.faiss_store import ADD_BATCH, FaissStore

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(ADD_BATCH + 10, 8)).astype(np.float32)
    store = FaissStore(8, "flat")
    _add_vectors(store, vectors, progress=True)
    assert len(store) == ADD_BATCH + 10
    err = capsys.readouterr().err
    assert "Indexing" in err and f"/{ADD_BATCH + 10}" in err
    _add_vectors(FaissStore(8, "flat"), vectors[:10], progress=None)  # small: no bar
    assert "Indexing" not in capsys.readouterr().err


def test_a_stop_a_library_swallowed_still_stops_the_build(corpus, tmp_path, monkeypatch):
    """ONNX Runtime's import turns a Ctrl-C raised inside it into an ImportError; the
    build must still stop at its next step, with the old index whole, not run on."""
    cache = tmp_path / "cache"
    old = build(corpus, cache)
    for path in sorted(corpus.iterdir())[:300]:
        path.write_text(path.read_text(encoding="utf-8") + "\nA correction.\n", encoding="utf-8")
    monkeypatch.setattr(building, "EMBED_GROUP_TEXTS", 100)

    class Swallowing(CountingEmbedder):
        def encode_documents(self, texts, *, progress=False):
            if len(self.texts) >= 300:
                stopping.request()  # the signal handler ran; the exception was lost
            return super().encode_documents(texts, progress=progress)

    swallowing = Swallowing()
    try:
        with pytest.raises(KeyboardInterrupt):
            build(corpus, cache, swallowing)
    finally:
        stopping.clear()
    assert 300 <= len(swallowing.texts) < 600  # stopped at the next group, not at the end
    manifest = json.loads((old.cache_folder / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["counts"]["passages"] == len(old.passages)
