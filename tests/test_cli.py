"""qa.cli: the ``qa`` command, run as ``python -m qa`` in a real subprocess."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ARTICLE, CORPUS, ROOT

from qa.cli import main

QUESTION = "How many troops does the UN have in Mali?"
MARKED = "**It currently has about 12,000 troops in the country, according to its website.**"


def run_qa(*args: str, cache: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QA_CACHE_DIR": str(cache), "PYTHONIOENCODING": "utf-8"}
    for name in ("QA_CORPUS", "QA_MODEL"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "qa", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def root_logger():
    """``main`` configures logging for the process; undo it after an in-process run."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.slow
def test_ask_prints_the_minusma_passage_with_the_answer_marked(tmp_path):
    done = run_qa("ask", QUESTION, cache=tmp_path)
    assert done.returncode == 0, done.stderr
    answer, first = done.stdout.split("\n\n")[:2]
    assert answer.startswith("Answer: “It currently has **about 12,000 troops** in the country")
    assert first.startswith("[1] ")
    assert MARKED in first
    assert "Olivier Salgado, the spokesman for the MINUSMA peacekeeping mission" in first
    header = re.match(
        r"\[1\] [a-z ]+ \((0\.\d\d)\) · (\S+) · paragraph (\d+) of (\d+) · characters (\d+)-(\d+)",
        first,
    )
    assert header, first
    _, source, paragraph, paragraphs, start, end = header.groups()
    assert source == ARTICLE.name
    assert 1 <= int(paragraph) <= int(paragraphs)
    passage = ARTICLE.read_text(encoding="utf-8")[int(start) : int(end)]
    assert passage in first.replace("**", "").replace("\n    ", "\n")
    assert "It currently has about 12,000 troops" in passage


@pytest.mark.slow
def test_ask_json(tmp_path, capsys, root_logger):
    # in process: the same code path as the subprocess above, without a second start-up
    assert (
        main(
            [
                "-q",
                "ask",
                QUESTION,
                "-k",
                "2",
                "--json",
                "--corpus",
                str(CORPUS),
                "--cache-dir",
                str(tmp_path),
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["question"] == QUESTION and result["found"] is True
    assert len(result["passages"]) == 2
    top = result["passages"][0]
    assert top["answer"] == MARKED.strip("*")
    assert top["text"][top["answer_start"] : top["answer_end"]] == top["answer"]
    assert ARTICLE.read_text(encoding="utf-8")[top["start"] : top["end"]] == top["text"]


@pytest.mark.slow
def test_build_then_up_to_date(tmp_path):
    first = run_qa("build", "corpus", cache=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("Built the index: 1 documents, ")
    assert "Building the index: no cached index yet." in first.stderr
    second = run_qa("build", cache=tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("Index up to date (loaded from cache): 1 documents, ")
    assert "Building the index" not in second.stderr
    assert f"Cache: {tmp_path}" in second.stdout


@pytest.mark.slow
def test_ask_uses_the_index_kind_the_build_chose(tmp_path):
    """``--index-kind`` is taken by every command, so ``ask`` reuses what ``build`` made."""
    built = run_qa("build", "--index-kind", "hnsw", cache=tmp_path)
    assert built.returncode == 0, built.stderr
    asked = run_qa("ask", QUESTION, "--index-kind", "hnsw", cache=tmp_path)
    assert asked.returncode == 0, asked.stderr
    assert "Building the index" not in asked.stderr
    assert MARKED in asked.stdout
    manifest = json.loads(next(tmp_path.glob("*/manifest.json")).read_text(encoding="utf-8"))
    assert manifest["store"]["kind"] == "hnsw"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("ask", QUESTION, "--corpus", "no-such-folder"),
            "qa: error: Corpus folder not found: no-such-folder",
        ),
        (("build", "no-such-folder"), "qa: error: Corpus folder not found: no-such-folder"),
        (("ask", "   "), "qa: error: question is empty"),
    ],
    ids=["ask-missing-corpus", "build-missing-corpus", "empty-question"],
)
def test_errors_exit_2_with_the_message(tmp_path, args, message):
    done = run_qa(*args, cache=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ask", QUESTION, "-k", "0"], "qa: error: k must be a whole number from 1 to 20, got 0"),
        (["ask", QUESTION, "-k", "-3"], "qa: error: k must be a whole number from 1 to 20, got -3"),
        (["ask", ""], "qa: error: question is empty"),
        (
            ["ask", QUESTION, "--corpus", "/no/such/corpus"],
            "Corpus folder not found: /no/such/corpus",
        ),
    ],
)
def test_errors_in_process(argv, message, capsys, tmp_path, root_logger):
    assert main([*argv, "--cache-dir", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["ask"])
    assert exit_info.value.code == 2
    assert "question" in capsys.readouterr().err
