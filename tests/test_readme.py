"""README.md: the documented Python quick start runs as written, so it cannot rot."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

import qa.api


def readme_section_code(heading: str, language: str = "python") -> str:
    """The first fenced ``language`` block under the ``## heading`` section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert section, f"README.md has no '## {heading}' section"
    block = re.search(rf"^```{language}\n(.*?)^```", section.group(1), re.M | re.S)
    assert block, f"README.md's '## {heading}' section has no ```{language} block"
    return block.group(1)


@pytest.mark.slow
def test_python_quick_start_runs(monkeypatch, tmp_path, capsys):
    code = readme_section_code("Python")
    assert "qa.Retriever.from_corpus" in code and "qa.search" in code
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("QA_CORPUS", raising=False)
    monkeypatch.delenv("QA_MODEL", raising=False)
    monkeypatch.setattr(qa.api, "_default", None)  # the shortcut must build from ./corpus
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md (## Python)", "exec"), namespace)

    out = capsys.readouterr().out
    hit, result = namespace["h"], namespace["result"]
    # what the README's comments promise
    assert "4,300 French soldiers" in hit.answer and hit.answer in hit.text
    assert 0.0 <= hit.score <= 1.0
    assert result.found is False and "The article does not" in result.message
    assert f"{result.found} {result.message}" in out
    assert qa.api._default is not None and qa.api._default.cache_folder.parent == tmp_path
