"""The public app under hostile use: its file routes expose nothing of the machine,
the corpus or the cache, and bad API input gets an error in words, never a crash."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from served_app import serve_app

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = "corpus/france-allies-begin-military-withdrawal-from-mali.txt"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    workdir = tmp_path_factory.mktemp("app")
    with serve_app(workdir) as url:
        yield url, workdir


@pytest.fixture(scope="module")
def client(served):
    from gradio_client import Client

    return Client(served[0], verbose=False)


def status_of(url: str) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=10) as response:
            body = response.read()
            return 200 if body else 204
    except urllib.error.HTTPError as exc:
        return exc.code


def file_urls(base: str, path: str) -> list[str]:
    quoted = urllib.parse.quote(path)
    return [f"{base}gradio_api/file={quoted}", f"{base}file={quoted}"]


def test_files_of_the_machine_repo_and_cache_are_not_served(served):
    base, workdir = served
    manifests = list((workdir / "cache").rglob("manifest.json"))
    assert manifests, "the app should have written its index cache"
    private = [
        "/etc/passwd",
        str(ROOT / "app.py"),
        str(ROOT / ARTICLE),
        ARTICLE,
        "app.py",
        "../../../../etc/passwd",
        str(manifests[0]),
        str(manifests[0].parent / "passages.jsonl"),
    ]
    for path in private:
        for url in file_urls(base, path):
            assert status_of(url) in (403, 404), f"{url} is served"


def test_the_page_itself_is_served(served):
    assert status_of(served[0]) == 200


@pytest.mark.parametrize("k", [0, -1, 21, 10**12, "3", None, 2.5], ids=lambda k: f"k={k!r}")
def test_bad_k_through_the_api_is_an_error_in_words(client, k):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=r"k must be a whole number from 1 to 20, got "):
        client.predict("How many troops does the UN have in Mali?", k, api_name="/search")


QUESTIONS = {
    "10 MB": "Mali " * 2_000_000,
    "NUL and control bytes": "\x00\x07How many troops does the UN have in Mali?\x1b",
    "RTL, emoji, combining": "كم عدد الجنود 🇲🇱 Ma\u0301li?",
    "Markdown link and image": "![x](http://127.0.0.1:1/x.png) [a](javascript:alert(1)) Mali?",
    "HTML and script": "<script>alert(1)</script><img src=x onerror=alert(1)> troops in Mali?",
}


@pytest.mark.parametrize("question", QUESTIONS.values(), ids=QUESTIONS.keys())
def test_hostile_questions_through_the_api_are_answered(client, question):
    passages = client.predict(question, 3, api_name="/search")
    assert 1 <= len(passages) <= 3
    assert all(set(p) >= {"text", "score", "source", "start", "end", "answer"} for p in passages)


def test_the_app_still_answers_after_all_that(client):
    passages = client.predict("How many troops does the UN have in Mali?", 3, api_name="/search")
    assert any("12,000 troops" in p["text"] for p in passages)
