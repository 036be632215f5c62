"""README.md and docs/*.md: every command and Python snippet runs as written, so none
can rot.

Each fenced ``bash`` block runs as one script in a fresh shell (no virtual environment
on PATH, no QA_* variables) from the repository's folder, so a block that needs the
venv must say so itself, as a reader pasting it into a new terminal would need. Each
``python`` block runs in a fresh interpreter of the venv. ``json`` blocks must parse.
The few commands that cannot run inside a test are listed in ``SKIPPED`` with the
reason; a block is never skipped whole.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT
from served_app import serve_app

import qa.shortcuts

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
VENV = ROOT / ".venv"

# Commands (as written, without their comment) that a test cannot run, and why.
SKIPPED = {
    "make run": "serves until stopped; tests/test_app.py starts the same `python app.py`",
    "make test": "this is make test",
    "make test-fast": "a part of make test, which this is",
    "make check": "CI runs it right after make test (.ci/run)",
    "make bench": "minutes; tests/test_bench.py runs bench/run.py on the article",
    "make bench FULL=1": "about 40 minutes and 6 GB",
    "make load": "minutes; the same app is tested by tests/test_app.py",
    "QA_CACHE_DIR=/tmp/c .venv/bin/qa eval --encoder onnx": "minutes; "
    "tests/test_onnx_encoder.py checks that its qa eval table is PyTorch's",
    "QA_CACHE_DIR=/tmp/c .venv/bin/qa eval --encoder onnx-int8": "minutes; "
    "tests/test_onnx_encoder.py checks int8's vectors against fp32's",
    ".venv/bin/python bench/embedding_memory.py": "minutes; "
    "tests/test_bench_add_document.py runs it on 4,000 characters",
    ".venv/bin/python bench/add_document.py": "minutes; "
    "tests/test_bench_add_document.py runs it on 300 words",
    ".venv/bin/python bench/session_memory.py": "minutes: 40 visitors add documents to a "
    "served app; tests/test_bench_add_document.py runs it with 2",
    ".venv/bin/python bench/session_memory.py --max-rss-mb 500": "the same",
    ".venv/bin/python bench/build_peers.py": "installs LangChain, Haystack and txtai into a "
    "venv of its own, then builds 1,000 documents: most of an hour",
    "make screenshots": "tests/test_browser.py runs in make test; this writes its pictures",
    "git remote add space https://huggingface.co/spaces/USER/SPACE": "needs a Space",
    "git push --force space main": "needs a Space",
    "qa build corpus/": "needs the Milvus cluster of docs/milvus.md; test_milvus_store.py "
    "builds on Milvus Lite",
    "python app.py": "serves until stopped, from that cluster; test_milvus_store.py serves "
    "the app from Milvus Lite",
    'qa ask --url https://news.example.org/story "Who was rescued?"': "needs the internet; "
    "tests/test_links.py runs qa ask --url against a news site on loopback",
}
# Python snippets talk to the app at its documented address; the test serves the app on
# a free port instead (another app may be on 7860) and swaps the address in.
DOCUMENTED_APP = "http://127.0.0.1:7860/"


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    language: str
    code: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def fenced_blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path``, indented ones (in lists) included, dedented."""
    text = path.read_text(encoding="utf-8")
    blocks = []
    for match in re.finditer(r"^( *)```(\w*)\n(.*?)^\1```", text, re.M | re.S):
        indent = len(match.group(1))
        code = "".join(line[indent:] for line in match.group(3).splitlines(keepends=True))
        line = text.count("\n", 0, match.start()) + 1
        blocks.append(Block(path, line, match.group(2), code))
    return blocks


BLOCKS = [block for path in DOCUMENTS for block in fenced_blocks(path)]


def command_of(line: str) -> str:
    """A shell line without its trailing comment."""
    return re.sub(r"(^|\s+)#\s.*$", "", line).strip()


def blocks_of(language: str) -> list[pytest.param]:
    return [pytest.param(b, id=b.where) for b in BLOCKS if b.language == language]


def fresh_environment(cache: Path) -> dict[str, str]:
    """The environment of a new terminal: no venv on PATH, no qa settings, except a
    private index cache so the test leaves the user's alone."""
    venv_bins = {str(VENV / "bin"), str(Path(sys.executable).parent)}
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_") and k != "VIRTUAL_ENV"}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if p not in venv_bins
    )
    env["QA_CACHE_DIR"] = str(cache)
    return env


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("docs-cache")


def test_every_document_has_runnable_examples() -> None:
    languages = {b.language for b in BLOCKS}
    assert {"bash", "python"} <= languages
    unknown = {
        b.where: b.language for b in BLOCKS if b.language not in {"bash", "python", "json", ""}
    }
    assert not unknown, f"blocks in a language this test cannot check: {unknown}"
    # Unlabelled blocks are terminal output or diagrams, never something to run.
    for block in BLOCKS:
        if block.language == "":
            assert not block.code.lstrip().startswith(("import ", "make ", "pip ")), block.where


def test_the_skip_list_names_only_commands_the_documents_hold() -> None:
    written = {
        command_of(line)
        for block in BLOCKS
        if block.language == "bash"
        for line in block.code.splitlines()
    }
    assert not set(SKIPPED) - written, "SKIPPED lists commands no document has any more"


@pytest.mark.parametrize("block", blocks_of("json"))
def test_json_examples_parse(block: Block) -> None:
    # One JSON document, or JSON Lines (a question set is one question per line).
    try:
        json.loads(block.code)
    except ValueError:
        for line in block.code.splitlines():
            json.loads(line)


@pytest.mark.slow
@pytest.mark.parametrize("block", blocks_of("bash"))
def test_shell_examples_run_in_a_fresh_shell(
    block: Block, shared_cache: Path, tmp_path: Path
) -> None:
    if not (VENV / "bin" / "python").exists():
        pytest.skip(f"the documents' commands use {VENV}, which `make install` creates")
    script = "\n".join(
        line
        for line in block.code.replace("\\\n", " ").splitlines()
        if command_of(line) not in SKIPPED
    )
    if DOCUMENTED_APP.rstrip("/") in script:  # curl: talks to the app, served meanwhile
        with serve_app(tmp_path) as url:
            run = _run_bash(
                script.replace(DOCUMENTED_APP.rstrip("/"), url.rstrip("/")), shared_cache
            )
        assert '"found": true' in run.stdout and '"found": false' in run.stdout, run.stdout
    else:
        run = _run_bash(script, shared_cache)
    assert run.returncode == 0, (
        f"{block.where} failed ({run.returncode}):\n{script}\n--- stdout\n"
        f"{run.stdout[-3000:]}\n--- stderr\n{run.stderr[-3000:]}"
    )


@pytest.mark.slow
@pytest.mark.parametrize("block", blocks_of("python"))
def test_python_examples_run(block: Block, shared_cache: Path, tmp_path: Path) -> None:
    code = block.code
    if DOCUMENTED_APP in code:
        with serve_app(tmp_path) as url:
            run = _run_python(code.replace(DOCUMENTED_APP, url), shared_cache)
    else:
        run = _run_python(code, shared_cache)
    assert run.returncode == 0, f"{block.where} failed:\n{code}\n--- stderr\n{run.stderr[-3000:]}"


def _run_bash(script: str, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=fresh_environment(cache),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def _run_python(code: str, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=fresh_environment(cache),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def readme_section_code(heading: str, language: str = "python") -> str:
    """The first fenced ``language`` block under the ``## heading`` section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert section, f"README.md has no '## {heading}' section"
    block = re.search(rf"^```{language}\n(.*?)^```", section.group(1), re.M | re.S)
    assert block, f"README.md's '## {heading}' section has no ```{language} block"
    return block.group(1)


@pytest.mark.slow
def test_python_quick_start_does_what_its_comments_say(monkeypatch, tmp_path, capsys):
    code = readme_section_code("Python")
    assert "qa.Retriever.from_corpus" in code and "qa.search" in code
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("QA_CORPUS", raising=False)
    monkeypatch.delenv("QA_MODEL", raising=False)
    monkeypatch.setattr(qa.shortcuts, "_default", None)  # the shortcut must build from ./corpus
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md (## Python)", "exec"), namespace)

    out = capsys.readouterr().out
    hit, result = namespace["h"], namespace["result"]
    # what the README's comments promise
    assert "4,300 French soldiers" in hit.answer and hit.answer in hit.text
    assert 0.0 <= hit.score <= 1.0
    assert result.found is False and "The article does not" in result.message
    assert f"{result.found} {result.message}" in out
    assert namespace["answer"].key == "about 12,000 troops"
    assert namespace["later"].read_as == "How many troops does France have in Mali?"
    assert (
        qa.shortcuts._default is not None and qa.shortcuts._default.cache_folder.parent == tmp_path
    )
