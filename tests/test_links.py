"""Asking an article by its link, on every surface: the chat (a link alone adds the
article), the session store, ``Retriever.from_urls``, ``qa ask --url`` and the app's
``add_url`` endpoint; against a real news site on loopback (tests/news_site.py), with
``QA_ALLOW_PRIVATE_URLS=1`` where loopback must be reached and without it where it
must be refused. The fetcher itself is tested in tests/test_fetching.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from news_site import NewsSite
from served_app import serve_app

import qa
from qa.serve import chat
from qa.serve.sessions import SessionStore

HARBOUR = "/local/harbour-reopens-after-storm"
QUESTION = "What was the barge carrying?"
KEY = "was carrying 600 tonnes of wheat"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site() -> Iterator[NewsSite]:
    with NewsSite() as running:
        yield running


@pytest.fixture
def private_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_ALLOW_PRIVATE_URLS", "1")


@pytest.mark.parametrize(
    ("message", "link"),
    [
        ("https://news.example.org/local/story", "https://news.example.org/local/story"),
        ("  ask https://news.example.org/a?b=1  ", "https://news.example.org/a?b=1"),
        ("Read: <http://example.com/x>", "http://example.com/x"),
        ("file:///etc/passwd", "file:///etc/passwd"),
        ("What does https://news.example.org/a say about divers?", None),
        ("https://news.example.org/a and https://news.example.org/b", None),
        ("How many divers cleared the harbour?", None),
    ],
)
def test_a_link_alone_is_an_article_to_add_a_link_in_a_question_is_not(message, link):
    assert chat.link_of(message) == link


def test_a_pasted_link_adds_the_article_then_it_answers(site, private_allowed, real_retriever):
    store = SessionStore(real_retriever)
    session = store.create()
    history = chat.respond(store, session, f"ask {site.url(HARBOUR)}", [], "mine")
    said = history[-1]["content"]
    assert said.startswith("Added **127") and "harbour-reopens-after-storm**" in said
    assert "In brief" in said  # the article's overview is the first reply
    [info] = store.documents(session)
    assert info.url == site.url(HARBOUR) and info.kind == "html"
    history = chat.respond(store, session, QUESTION, history, "mine")
    assert "600 tonnes of wheat" in history[-1]["content"]
    assert chat.earlier_questions(history) == [QUESTION]  # the link is not a question


def test_a_link_to_this_machine_is_refused_in_the_chat(site, real_retriever, monkeypatch):
    monkeypatch.delenv("QA_ALLOW_PRIVATE_URLS", raising=False)
    store = SessionStore(real_retriever)
    session = store.create()
    reached = len(site.requests)
    for link, words in [
        (site.url(HARBOUR), "a loopback address (this machine itself)"),
        ("file:///etc/passwd", "qa does not open files on the machine it runs on"),
        ("ftp://example.com/a.txt", "ftp:// links are not fetched"),
    ]:
        said = chat.respond(store, session, link, [], "both")[-1]["content"]
        assert said.startswith("Could not add **") and words in said, said
    assert store.documents(session) == []
    assert len(site.requests) == reached  # refused before any connection


def test_from_urls_answers_from_the_page(site, private_allowed, real_retriever):
    retriever = qa.Retriever.from_urls(
        [site.url(HARBOUR), site.url("/notices/harbour-brief.txt")],
        embedder=real_retriever.embedder,
    )
    answer = retriever.ask(QUESTION)
    assert answer.confident and answer.answer.key == KEY
    assert answer.passages[0].source == "127.0.0.1 \u203a harbour-reopens-after-storm"


def test_from_urls_refuses_this_machine_by_default(site, monkeypatch):
    monkeypatch.delenv("QA_ALLOW_PRIVATE_URLS", raising=False)
    with pytest.raises(qa.DocumentError, match="loopback address"):
        qa.Retriever.from_urls([site.url(HARBOUR)])


def test_qa_ask_url_from_the_command_line(site, tmp_path):
    env = {**os.environ, "QA_ALLOW_PRIVATE_URLS": "1", "QA_CACHE_DIR": str(tmp_path / "c")}
    run = subprocess.run(
        [sys.executable, "-m", "qa", "ask", "--url", site.url(HARBOUR), QUESTION, "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["found"] and result["answer"]["key"] == KEY
    env.pop("QA_ALLOW_PRIVATE_URLS")
    refused = subprocess.run(
        [sys.executable, "-m", "qa", "ask", "--url", site.url(HARBOUR), QUESTION],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert refused.returncode != 0 and "loopback address" in refused.stderr


@pytest.fixture(scope="module")
def served_with_links(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_app(tmp_path_factory.mktemp("app"), QA_ALLOW_PRIVATE_URLS="1") as url:
        yield url


def test_the_add_url_endpoint_adds_to_the_clients_session(site, served_with_links):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(served_with_links, verbose=False)
    info = client.predict(site.url(HARBOUR), api_name="/add_url")
    assert info["url"] == site.url(HARBOUR) and info["passages"] > 3
    answer = client.predict(QUESTION, 3, [], "mine", api_name="/ask")
    assert answer["found"] and answer["answer"]["key"] == KEY
    with pytest.raises(AppError, match="was not found on the site"):
        client.predict(site.url("/no/such/story"), api_name="/add_url")
    with pytest.raises(AppError, match="not a web link"):
        client.predict("the harbour story", api_name="/add_url")


def test_the_served_app_refuses_loopback_links_by_default(site, tmp_path):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    with serve_app(tmp_path) as url:
        client = Client(url, verbose=False)
        with pytest.raises(AppError, match="qa does not fetch private or local addresses"):
            client.predict(site.url(HARBOUR), api_name="/add_url")
    assert "Traceback" not in (tmp_path / "app.log").read_text(errors="replace")
