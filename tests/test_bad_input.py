"""Every bad input we know of, and what the user gets back: a clear message, never a crash.

Questions go through the real model and the real article; corpus and cache cases use
the fast fake embedder, since what they test happens before and after embedding.
The web app's side of the same inputs is in tests/test_app.py.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

import qa
from qa.index.cache import MANIFEST
from qa.ingest.corpus import CorpusError
from qa.limits import MAX_K

UN_TROOPS = "How many troops does the UN have in Mali?"


# --- Questions -------------------------------------------------------------------------

Q = "How many troops does the UN have in Mali?"
ANSWERED_DESPITE_NOISE = {
    "control characters and NUL bytes": "\x00How\x01 many troops\x1b[31m does the UN\x7f in Mali?",
    "lone surrogates": "How many \ud800troops does the UN\udfff have in Mali?",
    "HTML and script around it": f"<script>alert(1)</script><b>{Q}</b>",
    "Markdown image and link around it": f"![x](http://127.0.0.1/x.png) [{Q}](javascript:alert(1))",
    "zero-width and odd spaces": "How\u200b many\u00a0troops\u2003does the UN have in Mali?",
    "an img tag with onerror": f'<img src=x onerror="alert(1)">{Q}',
    "a style element": f"<style>p {{color: red}}</style>{Q}",
}


@pytest.mark.slow
@pytest.mark.parametrize(
    "question", ANSWERED_DESPITE_NOISE.values(), ids=ANSWERED_DESPITE_NOISE.keys()
)
def test_noisy_question_still_finds_the_answer(real_retriever, question):
    """The noise is dropped before the question is read: it is answered, and nothing in
    the markup ("alert(1)", a link's address) is taken for what it asks about."""
    hits = real_retriever.search(question, k=3)
    assert any("12,000 troops" in h.text for h in hits)
    result = real_retriever.ask(question)
    assert result.found, result.message


ODD_BUT_VALID = {
    "RTL Arabic": "كم عدد الجنود الفرنسيين في مالي؟",
    "Hebrew with emoji": "כמה חיילים 🇫🇷🪖?",
    "combining marks": "Ma\u0301li\u0300 tro\u0304ops\u0323?",
    "emoji only": "🤔🤔🤔",
    "100,000 characters": "Why is France leaving Mali? " * 3572,
    "10 MB": "x" * 10_000_000,
    "one character": "?",
    "a number": "12000",
}


@pytest.mark.slow
@pytest.mark.parametrize("question", ODD_BUT_VALID.values(), ids=ODD_BUT_VALID.keys())
def test_odd_questions_are_answered_or_declined_in_words(real_retriever, question):
    result = real_retriever.ask(question)
    assert isinstance(result.found, bool)
    assert result.message
    for hit in result.passages:
        assert real_retriever.documents[hit.source].text[hit.start : hit.end] == hit.text


@pytest.mark.slow
def test_a_huge_question_is_echoed_once_cut_and_read_without_markup(real_retriever):
    question = "<b>How many troops does the UN have in Mali?</b> " + "Mali " * 200_000
    reply = real_retriever.ask(question).to_dict()
    assert len(json.dumps(reply)) < 20_000  # was over 2 MB: the question twice
    assert reply["question"].startswith("<b>How many troops") and reply["question"].endswith("…")
    assert reply["read_as"].startswith("How many troops does the UN have in Mali? Mali")
    assert "<b>" not in reply["read_as"] and len(reply["read_as"]) <= 1_000
    lone = real_retriever.ask("How many \ud800troops does the UN have in Mali?").to_dict()
    json.dumps(lone).encode("utf-8")  # no lone surrogate left to break a JSON encoder


@pytest.mark.slow
@pytest.mark.parametrize("question", ["", " ", "\n\t  \u3000", "\x00\x00", "\u200b"])
def test_empty_questions(real_retriever, question):
    with pytest.raises(ValueError, match="question is empty"):
        real_retriever.search(question)
    result = real_retriever.ask(question)
    assert result.found is False
    assert result.passages == ()
    assert result.message.startswith("Question is empty")


@pytest.mark.slow
@pytest.mark.parametrize("k", [0, -1, -(10**12), "3", None, 2.5, True, float("nan")])
def test_bad_k_is_refused_with_its_name(real_retriever, k):
    with pytest.raises(ValueError, match="k must be"):
        real_retriever.search(UN_TROOPS, k=k)


@pytest.mark.slow
def test_the_most_k_returns_every_passage_of_the_article_once(real_retriever):
    assert len(real_retriever.passages) <= MAX_K
    hits = real_retriever.search(UN_TROOPS, k=MAX_K)
    assert len(hits) == len(real_retriever.passages)
    assert len({(h.source, h.start) for h in hits}) == len(hits)
    with pytest.raises(ValueError, match=f"k must be a whole number from 1 to {MAX_K}"):
        real_retriever.search(UN_TROOPS, k=10**9)  # one limit on every surface


@pytest.mark.slow
@pytest.mark.parametrize("question", [None, 42, b"bytes", ["a list"]])
def test_a_question_that_is_not_text_is_a_type_error(real_retriever, question):
    with pytest.raises(TypeError, match="question must be a string"):
        real_retriever.search(question)


# --- Corpus ----------------------------------------------------------------------------

ARTICLE_NAME = "france-allies-begin-military-withdrawal-from-mali.txt"


def build(corpus: Path, cache: Path, embedder) -> qa.Retriever:
    return qa.Retriever.from_corpus(corpus, cache_dir=cache, embedder=embedder)


def test_missing_folder(tmp_path, fake_embedder):
    with pytest.raises(CorpusError, match=r"Corpus folder not found: .*nowhere.*QA_CORPUS"):
        build(tmp_path / "nowhere", tmp_path / "cache", fake_embedder)


def test_empty_folder(tmp_path, fake_embedder):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match=r"has no documents: add \.txt or \.md"):
        build(tmp_path / "empty", tmp_path / "cache", fake_embedder)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.txt", b"", r"empty\.txt: the file is empty"),
        ("blank.md", b"  \n\n\t\n", r"blank\.md: the file is empty"),
        (
            "latin1.txt",
            "Title\nCaf\u00e9 au lait.\n".encode("latin-1"),
            r"latin1\.txt, line 2 .*not valid UTF-8",
        ),
        ("binary.txt", bytes(range(256)) * 4, r"binary\.txt: looks like a binary file"),
    ],
)
def test_unreadable_file_is_named(corpus_copy, tmp_path, fake_embedder, name, content, message):
    (corpus_copy / name).write_bytes(content)
    with pytest.raises(CorpusError, match=message):
        build(corpus_copy, tmp_path / "cache", fake_embedder)


def test_file_over_the_size_limit_is_skipped_with_a_warning(
    corpus_copy, tmp_path, fake_embedder, caplog, monkeypatch
):
    monkeypatch.setenv("QA_MAX_DOCUMENT_MB", "1")
    (corpus_copy / "dump.txt").write_text(
        "Dump\n" + "Words and words. " * 200_000, encoding="utf-8"
    )
    with caplog.at_level(logging.WARNING):
        retriever = build(corpus_copy, tmp_path / "cache", fake_embedder)
    assert list(retriever.documents) == [ARTICLE_NAME]
    assert "dump.txt: 3.4 MB is over the 1 MB limit" in caplog.text


def test_a_50_mb_file_alone_is_refused_in_words(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    with (corpus / "huge.txt").open("w", encoding="utf-8") as handle:
        handle.write("Huge\n")
        for _ in range(50):
            handle.write("A sentence of filler text that goes on. " * 25_000 + "\n")
    with pytest.raises(CorpusError, match=r"over the size limit of 10 MB.*QA_MAX_DOCUMENT_MB"):
        build(corpus, tmp_path / "cache", fake_embedder)


def test_duplicate_document_is_skipped(corpus_copy, tmp_path, fake_embedder, caplog):
    (corpus_copy / "copy-of-article.txt").write_bytes((corpus_copy / ARTICLE_NAME).read_bytes())
    with caplog.at_level(logging.WARNING):
        retriever = build(corpus_copy, tmp_path / "cache", fake_embedder)
    assert len(retriever.documents) == 1
    assert "same content as" in caplog.text
    hits = retriever.search(UN_TROOPS, k=20)
    assert len({(h.start, h.end) for h in hits}) == len(hits)


def test_symlink_out_of_the_corpus_is_not_followed(corpus_copy, tmp_path, fake_embedder, caplog):
    secret = tmp_path / "secret.txt"
    secret.write_text("Secret\nThe password is hunter2.\n", encoding="utf-8")
    (corpus_copy / "link.txt").symlink_to(secret)
    outside_dir = tmp_path / "outside"
    outside_dir.mkdir()
    (outside_dir / "more.txt").write_text("More\nAnother secret sentence.\n", encoding="utf-8")
    (corpus_copy / "linked-dir").symlink_to(outside_dir, target_is_directory=True)
    with caplog.at_level(logging.WARNING):
        retriever = build(corpus_copy, tmp_path / "cache", fake_embedder)
    assert list(retriever.documents) == [ARTICLE_NAME]
    assert all("secret" not in p.text.lower() for p in retriever.passages)
    assert "links outside the corpus folder" in caplog.text


def test_other_file_types_are_skipped_with_a_warning(corpus_copy, tmp_path, fake_embedder, caplog):
    (corpus_copy / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(100))
    (corpus_copy / "table.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        retriever = build(corpus_copy, tmp_path / "cache", fake_embedder)
    assert list(retriever.documents) == [ARTICLE_NAME]
    assert "photo.jpg: not a document type" in caplog.text
    assert "table.csv: not a document type" in caplog.text


# --- Cache -----------------------------------------------------------------------------


@pytest.fixture
def cached(corpus_copy, tmp_path, fake_embedder) -> tuple[Path, Path, Path]:
    """A corpus with a built cache: (corpus, cache root, index folder)."""
    retriever = build(corpus_copy, tmp_path / "cache", fake_embedder)
    assert retriever.cache_folder is not None
    return corpus_copy, tmp_path / "cache", retriever.cache_folder


def damage_truncate(folder: Path) -> None:
    target = folder / "index.faiss"
    target.write_bytes(target.read_bytes()[:100])


def damage_corrupt(folder: Path) -> None:
    for file in folder.iterdir():
        if file.name != MANIFEST and file.is_file():
            data = bytearray(file.read_bytes())
            data[len(data) // 2] ^= 0xFF
            file.write_bytes(bytes(data))


def damage_manifest_garbage(folder: Path) -> None:
    (folder / MANIFEST).write_text("{not json", encoding="utf-8")


def damage_manifest_edit(folder: Path) -> None:
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    manifest["spec"]["chunking"]["max_chars"] = 9999
    (folder / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


def damage_old_format(folder: Path) -> None:
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    manifest["spec"]["format_version"] = 0
    (folder / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


def damage_delete_everything(folder: Path) -> None:
    for file in folder.iterdir():
        file.unlink()


DAMAGES = {
    "missing": damage_delete_everything,
    "truncated": damage_truncate,
    "corrupted": damage_corrupt,
    "garbage manifest": damage_manifest_garbage,
    "hand-edited manifest": damage_manifest_edit,
    "older format": damage_old_format,
}


@pytest.mark.parametrize("damage", DAMAGES.values(), ids=DAMAGES.keys())
def test_damaged_cache_is_rebuilt_with_one_line_saying_why(cached, fake_embedder, caplog, damage):
    corpus, cache, folder = cached
    expected = [
        (h.start, h.end) for h in build(corpus, cache, fake_embedder).search(UN_TROOPS, k=3)
    ]
    damage(folder)
    with caplog.at_level(logging.INFO, logger="qa"):
        retriever = build(corpus, cache, fake_embedder)
    assert retriever.from_cache is False
    reasons = [r.getMessage() for r in caplog.records if "Building the index" in r.getMessage()]
    assert len(reasons) == 1, caplog.text
    assert [(h.start, h.end) for h in retriever.search(UN_TROOPS, k=3)] == expected
    assert build(corpus, cache, fake_embedder).from_cache is True


def test_unwritable_cache_still_serves_from_memory(corpus_copy, tmp_path, fake_embedder, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        retriever = build(corpus_copy, blocker / "cache", fake_embedder)
    assert retriever.search(UN_TROOPS, k=1)
    assert "serving from memory" in caplog.text


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through file permissions")
def test_read_only_cache_folder_still_serves(corpus_copy, tmp_path, fake_embedder, caplog):
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o500)
    try:
        with caplog.at_level(logging.WARNING):
            retriever = build(corpus_copy, cache, fake_embedder)
        assert retriever.search(UN_TROOPS, k=1)
        assert "serving from memory" in caplog.text
    finally:
        cache.chmod(0o700)
