"""Security: nothing is unpickled or evaluated, and the question path survives fuzzing."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qa
from qa.answer.question import prepare_question
from qa.limits import MAX_QUESTION_CHARS

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [*sorted((ROOT / "qa").rglob("*.py")), ROOT / "app.py"]
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}
FORBIDDEN_MODULES = {"pickle", "dill", "joblib", "marshal", "shelve", "cloudpickle"}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_pickle_no_eval(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not {a.name.split(".")[0] for a in node.names} & FORBIDDEN_MODULES, path
        if isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in FORBIDDEN_MODULES, path
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            builtin = isinstance(node.func, ast.Name)  # re.compile is fine, compile() is not
            assert not (builtin and name in FORBIDDEN_CALLS), f"{path}:{node.lineno} calls {name}"
            if name == "load" and getattr(node.func.value, "id", "") == "np":
                kwargs = {k.arg: k.value for k in node.keywords}
                assert "allow_pickle" in kwargs, (
                    f"{path}:{node.lineno} np.load without allow_pickle=False"
                )
                assert getattr(kwargs["allow_pickle"], "value", True) is False, path


def test_cache_refuses_a_pickled_array(corpus_copy, tmp_path, fake_embedder):
    """A cache file swapped for a pickled object array is not loaded, even with a
    manifest that vouches for it: np.load refuses it and the index is rebuilt."""
    import json

    from qa.index.cache import MANIFEST
    from qa.index.torch_encoder import file_sha256

    retriever = qa.Retriever.from_corpus(corpus_copy, cache_dir=tmp_path, embedder=fake_embedder)
    folder = retriever.cache_folder
    assert folder is not None
    target = next(folder.glob("*.npy"))
    np.save(target, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    manifest["files"][target.name] = file_sha256(target)
    (folder / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    again = qa.Retriever.from_corpus(corpus_copy, cache_dir=tmp_path, embedder=fake_embedder)
    assert again.from_cache is False


@settings(max_examples=1500, deadline=None)
@given(st.text(max_size=3000))
def test_prepare_question_never_crashes_and_bounds_length(text):
    try:
        cleaned = prepare_question(text)
    except ValueError as exc:
        assert "question is empty" in str(exc)
        return
    assert cleaned == cleaned.strip() and cleaned
    assert len(cleaned) <= MAX_QUESTION_CHARS
    assert not any(ord(c) < 32 for c in cleaned)
    cleaned.encode("utf-8")  # no lone surrogates left


@settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    question=st.text(max_size=500),
    k=st.one_of(st.integers(-5, 200), st.none(), st.floats(), st.text(max_size=3)),
)
def test_search_and_ask_fuzz(fake_retriever, question, k):
    """Any text and any k: hits with exact offsets, or ValueError/TypeError in words."""
    try:
        hits = fake_retriever.search(question, k=k)
    except ValueError as exc:
        assert "question is empty" in str(exc) or "k must be" in str(exc)
    else:
        assert len(hits) <= len(fake_retriever.passages)
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)
        for h in hits:
            assert 0.0 <= h.score <= 1.0
            assert fake_retriever.documents[h.source].text[h.start : h.end] == h.text
            assert h.text[h.answer_start : h.answer_end] == h.answer
    answer = fake_retriever.ask(question)
    assert answer.message


@pytest.fixture(scope="module")
def fake_retriever(tmp_path_factory):
    from conftest import CORPUS, FakeEmbedder

    return qa.Retriever.from_corpus(
        CORPUS, cache_dir=tmp_path_factory.mktemp("c"), embedder=FakeEmbedder()
    )
