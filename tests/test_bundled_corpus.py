"""The article ships inside the package (qa/ingest/bundled), a copy of corpus/, and is what
qa answers from when no corpus folder is given or found."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import CORPUS, ROOT

from qa.retriever import BUNDLED_CORPUS, default_corpus


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_the_bundled_article_is_corpus_byte_for_byte():
    # corpus/ is the source of truth: change it, then copy it to qa/ingest/bundled.
    assert files(BUNDLED_CORPUS) == files(CORPUS), (
        "qa/ingest/bundled differs from corpus/: cp corpus/* qa/ingest/bundled/"
    )


def test_the_default_corpus_falls_back_to_the_bundled_article(tmp_path, monkeypatch):
    monkeypatch.delenv("QA_CORPUS", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_corpus() == BUNDLED_CORPUS
    (tmp_path / "corpus").mkdir()
    assert default_corpus() == Path("corpus")  # a corpus folder here comes first
    monkeypatch.setenv("QA_CORPUS", str(tmp_path / "elsewhere"))
    assert default_corpus() == tmp_path / "elsewhere"  # named on purpose: no fallback


@pytest.mark.slow
def test_the_wheel_holds_the_bundled_article(tmp_path):
    # Built from a copy, in it, so that setuptools writes its build/ and egg-info there.
    source = tmp_path / "source"
    shutil.copytree(ROOT / "qa", source / "qa", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            ".",
        ],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    wheel = next(tmp_path.glob("qa-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        packaged = {
            n.split("/")[-1]: archive.read(n)
            for n in archive.namelist()
            if n.startswith("qa/ingest/bundled/")
        }
    assert packaged == files(CORPUS)


@pytest.mark.slow
def test_qa_ask_answers_from_an_empty_folder(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {**os.environ, "QA_CACHE_DIR": str(tmp_path / "cache"), "PYTHONIOENCODING": "utf-8"}
    env.pop("QA_CORPUS", None)
    done = subprocess.run(
        [sys.executable, "-m", "qa", "ask", "How many troops does the UN have in Mali?"],
        cwd=empty,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Answer: “It currently has **about 12,000 troops**")
    assert list(empty.iterdir()) == []  # nothing written where it was asked
