"""qa.index.cache: the index on disk is reused only when nothing it was built from changed,
and a damaged cache is rebuilt, never loaded wrong and never a crash."""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import ARTICLE, FakeEmbedder

from qa.files import file_sha256
from qa.index.building import build_index
from qa.index.cache import (
    FORMAT_VERSION,
    INDEX_FILE,
    MANIFEST,
    PASSAGES_FILE,
    SENTENCE_ROWS_FILE,
    SENTENCES_FILE,
    BuildSpec,
    default_cache_dir,
    index_folder,
    load_index,
    save_index,
)
from qa.ingest.chunking import ChunkingConfig
from qa.ingest.corpus import load_corpus
from qa.retriever import Retriever

QUESTION = "How many troops does the UN have in Mali?"
DATA_FILES = (INDEX_FILE, PASSAGES_FILE, SENTENCES_FILE, SENTENCE_ROWS_FILE)


def open_index(corpus: Path, cache: Path, embedder: FakeEmbedder | None = None, **kwargs):
    return Retriever.from_corpus(
        corpus, cache_dir=cache, embedder=embedder or FakeEmbedder(), **kwargs
    )


def reasons(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The log lines that announce a build, each saying why."""
    return [r.getMessage() for r in caplog.records if "Building the index" in r.getMessage()]


def results(retriever: Retriever) -> list[tuple[str, int, int, float]]:
    return [(h.text, h.start, h.end, round(h.score, 5)) for h in retriever.search(QUESTION, k=5)]


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def built(corpus_copy: Path, cache: Path, caplog: pytest.LogCaptureFixture) -> Retriever:
    """A fresh index of the article, written to the cache; the log is cleared after."""
    caplog.set_level(logging.INFO)
    retriever = open_index(corpus_copy, cache)
    assert not retriever.from_cache
    assert reasons(caplog) == ["Building the index: no cached index yet."]
    caplog.clear()
    return retriever


def test_second_open_loads_from_cache_without_embedding(built, corpus_copy, cache, caplog):
    embedder = FakeEmbedder()
    again = open_index(corpus_copy, cache, embedder)
    assert again.from_cache
    assert embedder.calls == 0
    assert reasons(caplog) == []
    assert again.passages == built.passages
    assert results(again) == results(built)


def test_cache_folder_holds_the_documented_files_and_no_temporaries(built):
    names = sorted(p.name for p in built.cache_folder.iterdir())
    assert names == sorted([MANIFEST, *DATA_FILES])
    manifest = json.loads((built.cache_folder / MANIFEST).read_text(encoding="utf-8"))
    spec = manifest["spec"]
    assert spec["format_version"] == FORMAT_VERSION
    assert spec["documents"] == {ARTICLE.name: file_sha256(ARTICLE)}
    assert spec["model"] == {"name": "fake", "fingerprint": "fake-v1"}
    assert spec["chunking"] == {"max_chars": 400, "max_sentences": 3}
    assert manifest["files"] == {n: file_sha256(built.cache_folder / n) for n in DATA_FILES}


# Anything the index was built from changes: rebuild, with one line saying why.


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (
            lambda corpus: append(corpus / ARTICLE.name, "A new last sentence was added.\n"),
            f"corpus changed (modified: {ARTICLE.name})",
        ),
        (
            lambda corpus: (corpus / "new.txt").write_text(
                "Another story\nIt is about something else, entirely.\n", encoding="utf-8"
            ),
            "corpus changed (added: new.txt)",
        ),
        (
            lambda corpus: (corpus / ".qa-boilerplate").write_text(
                "^Even after\n", encoding="utf-8"
            ),
            "boilerplate settings changed",
        ),
    ],
    ids=["modified", "added", "rules"],
)
def test_corpus_changes_rebuild(built, corpus_copy, cache, caplog, change, why):
    change(corpus_copy)
    again = open_index(corpus_copy, cache)
    assert not again.from_cache
    [line] = reasons(caplog)
    assert why in line
    assert open_index(corpus_copy, cache).from_cache  # and the new index is cached


def test_deleted_file_rebuilds(corpus_copy, cache, caplog):
    caplog.set_level(logging.INFO)
    (corpus_copy / "other.md").write_text("# Other\n\nA second story, short.\n", encoding="utf-8")
    open_index(corpus_copy, cache)
    (corpus_copy / "other.md").unlink()
    caplog.clear()
    again = open_index(corpus_copy, cache)
    assert not again.from_cache
    assert [s for s in again.documents] == [ARTICLE.name]
    [line] = reasons(caplog)
    assert "corpus changed (removed: other.md)" in line


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"chunking": ChunkingConfig(max_chars=200)}, "chunking settings changed"),
        ({"embedder": FakeEmbedder(fingerprint="fake-v2")}, "model changed (fake-v1 -> fake-v2)"),
        ({"embedder": FakeEmbedder(name="other")}, "model changed (fake -> other)"),
        ({"index_kind": "hnsw"}, "index settings changed"),
    ],
    ids=["chunking", "weights", "model-name", "index-kind"],
)
def test_setting_changes_rebuild(built, corpus_copy, cache, caplog, kwargs, why):
    again = open_index(corpus_copy, cache, **kwargs)
    assert not again.from_cache
    [line] = reasons(caplog)
    assert why in line


def test_format_version_change_rebuilds(built, corpus_copy, cache, caplog):
    path = built.cache_folder / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["spec"]["format_version"] = FORMAT_VERSION - 1
    path.write_text(json.dumps(manifest), encoding="utf-8")
    again = open_index(corpus_copy, cache)
    assert not again.from_cache
    [line] = reasons(caplog)
    assert f"cache format {FORMAT_VERSION - 1} != {FORMAT_VERSION}" in line


def test_rebuild_flag_ignores_a_valid_cache(built, corpus_copy, cache):
    embedder = FakeEmbedder()
    again = open_index(corpus_copy, cache, embedder, rebuild=True)
    assert not again.from_cache and embedder.calls > 0


# A damaged cache: detected, rebuilt, never loaded wrong, never a crash.


def truncate(folder: Path) -> None:
    data = (folder / INDEX_FILE).read_bytes()
    (folder / INDEX_FILE).write_bytes(data[: len(data) // 2])


def garbage_manifest(folder: Path) -> None:
    (folder / MANIFEST).write_bytes(b"\x00\xff{garbage")


def manifest_edit(edit: Callable[[dict], object]) -> Callable[[Path], None]:
    """Damage that edits the manifest in place (``edit``'s return value is ignored)."""

    def change(folder: Path) -> None:
        path = folder / MANIFEST
        manifest = json.loads(path.read_text(encoding="utf-8"))
        edit(manifest)
        path.write_text(json.dumps(manifest), encoding="utf-8")

    return change


def edit_passages(folder: Path) -> None:
    path = folder / PASSAGES_FILE
    path.write_text(path.read_text(encoding="utf-8").replace("12,000", "99,000"), encoding="utf-8")


def edit_passages_and_unlist_them(folder: Path) -> None:
    edit_passages(folder)
    manifest_edit(lambda m: m["files"].pop(PASSAGES_FILE))(folder)


def swap_rows(folder: Path) -> None:
    """A hand edit that keeps the file valid NumPy: only the hash can tell."""
    rows = np.load(folder / SENTENCE_ROWS_FILE)
    np.save(folder / SENTENCE_ROWS_FILE, rows[::-1].copy())


DAMAGE = {
    "truncated-index": truncate,
    "garbage-manifest": garbage_manifest,
    "manifest-not-a-dict": lambda folder: (folder / MANIFEST).write_text("[1, 2, 3]"),
    "manifest-documents-a-list": manifest_edit(
        lambda m: m["spec"].__setitem__("documents", [ARTICLE.name])
    ),
    "manifest-files-a-string": manifest_edit(lambda m: m.__setitem__("files", "all good")),
    "manifest-without-store": manifest_edit(lambda m: m.pop("store")),
    "hand-edited-passages": edit_passages,
    "edited-passages-unlisted": edit_passages_and_unlist_them,
    "edited-rows": swap_rows,
    "empty-passages": lambda folder: (folder / PASSAGES_FILE).write_bytes(b""),
    **{
        f"deleted-{name}": (lambda folder, name=name: (folder / name).unlink())
        for name in (MANIFEST, *DATA_FILES)
    },
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_damaged_cache_is_rebuilt(built, corpus_copy, cache, caplog, damage):
    damage(built.cache_folder)
    again = open_index(corpus_copy, cache)
    assert not again.from_cache
    assert len(reasons(caplog)) == 1
    assert again.passages == built.passages
    assert results(again) == results(built)
    repaired = open_index(corpus_copy, cache)
    assert repaired.from_cache and repaired.passages == built.passages


def test_pickled_array_is_refused_even_with_a_matching_hash(
    built, corpus_copy, cache, caplog, monkeypatch
):
    unpickled: list[object] = []
    monkeypatch.setattr(pickle, "load", lambda *a, **k: unpickled.append(a))
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: unpickled.append(a))
    folder = built.cache_folder
    with (folder / SENTENCES_FILE).open("wb") as handle:
        np.save(handle, np.array([{"payload": "evil"}, None], dtype=object), allow_pickle=True)
    manifest_edit(
        lambda m: m["files"].__setitem__(SENTENCES_FILE, file_sha256(folder / SENTENCES_FILE))
    )(folder)

    again = open_index(corpus_copy, cache)
    assert not again.from_cache
    assert unpickled == []
    [line] = reasons(caplog)
    assert "unreadable" in line and "allow_pickle" in line
    assert results(again) == results(built)


# Where the cache lives, and when it cannot be written.


def test_unwritable_cache_dir_still_serves_with_a_warning(corpus_copy, tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    caplog.set_level(logging.INFO)
    retriever = open_index(corpus_copy, blocker / "cache")
    assert not retriever.from_cache
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "Could not write the index cache" in warnings[0].getMessage()
    assert "QA_CACHE_DIR" in warnings[0].getMessage()
    assert results(retriever)
    assert blocker.read_text(encoding="utf-8") == "not a folder"


def test_failed_write_keeps_serving(corpus_copy, cache, caplog, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("qa.index.cache.write_atomic", full_disk)
    caplog.set_level(logging.WARNING)
    retriever = open_index(corpus_copy, cache)
    assert "No space left on device" in caplog.text
    assert results(retriever)
    monkeypatch.undo()
    assert not open_index(corpus_copy, cache).from_cache  # nothing half-written was kept


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("QA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "qa"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "qa"


def test_qa_cache_dir_environment_is_used(corpus_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "env-cache"))
    retriever = Retriever.from_corpus(corpus_copy, embedder=FakeEmbedder())
    assert retriever.cache_folder.parent == tmp_path / "env-cache"
    assert (retriever.cache_folder / MANIFEST).is_file()


def test_two_corpora_get_two_folders(tmp_path):
    a, b = tmp_path / "x" / "corpus", tmp_path / "y" / "corpus"
    assert index_folder(tmp_path, a) != index_folder(tmp_path, b)
    assert index_folder(tmp_path, a) == index_folder(tmp_path, a)


def test_loaded_store_keeps_the_kind_auto_chose(corpus_copy, tmp_path):
    documents = load_corpus(corpus_copy)
    embedder = FakeEmbedder()
    spec = BuildSpec(
        documents={d.source: d.content_hash for d in documents},
        model={"name": embedder.name, "fingerprint": embedder.fingerprint},
        chunking=ChunkingConfig().to_dict(),
        boilerplate="rules",
        embedding_input="text",
        index={"kind": "auto"},
    )
    built = build_index(documents, embedder, ChunkingConfig(), "auto")
    save_index(tmp_path, spec, built)
    loaded = load_index(tmp_path, spec)
    assert loaded.store.kind == built.store.kind == "flat"
    assert loaded.store.params() == built.store.params()
    assert loaded.passages == built.passages
    np.testing.assert_array_equal(loaded.sentence_rows, built.sentence_rows)
    np.testing.assert_array_equal(loaded.sentence_vectors, built.sentence_vectors)
