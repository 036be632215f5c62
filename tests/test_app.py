"""app.py: the chat handler and the search endpoint, then the real app in a subprocess,
asked through gradio_client (a real client) and an MCP client.

The handler tests use the fake embedder; the served-app tests use the real model and
the real article, as ``python app.py`` does.
"""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import gradio as gr
import pytest
from markdown_it import MarkdownIt
from packaging.requirements import Requirement

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: tomlkit comes with Gradio, same loads()
    import tomlkit as tomllib  # type: ignore[no-redef]

from served_app import ROOT, serve_app

import qa

QUESTION = "How many troops does the UN have in Mali?"
ANSWER = "12,000 troops"
MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def _load_app() -> ModuleType:
    spec = importlib.util.spec_from_file_location("app", ROOT / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


app = _load_app()


def text_of(message: dict[str, Any]) -> str:
    """A message's text, whether it is a plain string or Gradio 6's typed blocks."""
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content)


def tags_in(markdown: str) -> set[str]:
    return set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", MARKDOWN.render(markdown)))


def test_importing_the_app_loads_no_index() -> None:
    # `app.demo` is built on first use (or by `python app.py`), not on import.
    assert "demo" not in vars(_load_app())


# --- the handler, over the fake embedder -------------------------------------------


@pytest.fixture
def retriever(corpus_copy: Path, fake_embedder, tmp_path: Path) -> qa.Retriever:
    (corpus_copy / "hostile.txt").write_text(
        "<script>window.__pwned=1</script> Hostile <b>headline</b>\n"
        'The UN troops <img src=x onerror="window.__pwned=1"> said **nothing** here.\n',
        encoding="utf-8",
    )
    return qa.Retriever.from_corpus(
        corpus_copy, embedder=fake_embedder, cache_dir=tmp_path / "cache"
    )


def test_respond_adds_the_answer_and_never_changes_the_history(retriever: qa.Retriever) -> None:
    history = [
        {"role": "user", "content": [{"type": "text", "text": "Earlier question?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Earlier answer."}]},
    ]
    before = copy.deepcopy(history)
    textbox, new = app.respond(retriever, QUESTION, history)
    assert history == before
    assert textbox == ""
    assert new[:2] == before
    assert [m["role"] for m in new[2:4]] == ["user", "assistant"]
    assert text_of(new[2]) == QUESTION


def test_each_question_is_answered_on_its_own(retriever: qa.Retriever) -> None:
    alone = app.respond(retriever, QUESTION, [])[1]
    after_others = app.respond(retriever, QUESTION, app.respond(retriever, "Why?", [])[1])[1]
    assert after_others[-len(alone) :] == alone


def test_answer_shows_passages_and_the_article_with_them_marked(retriever: qa.Retriever) -> None:
    messages = app.answer_messages(retriever, "troops in the country according to its website")
    reply = text_of(messages[1])
    assert "<strong>" in reply and "paragraph " in reply
    views = [m for m in messages if m.get("metadata", {}).get("title")]
    assert views, "the whole article is offered"
    assert all(m["metadata"]["status"] == "done" for m in views)  # collapsed at first
    assert all("<mark>" in text_of(m) for m in views)
    assert len(messages) == 2 + len(views)


def test_not_found_says_so_and_offers_one_closest_passage(
    retriever: qa.Retriever, monkeypatch: pytest.MonkeyPatch
) -> None:
    hits = tuple(retriever.search("troops", k=3))
    not_found = qa.Answer("q", False, hits, "The article does not say.")
    monkeypatch.setattr(retriever, "ask", lambda question, k=3: not_found)
    messages = app.answer_messages(retriever, "Who won the World Cup?")
    reply = text_of(messages[1])
    assert reply.startswith("The article does not say.")
    assert reply.count("Closest passage, not an answer") == 1
    (view,) = messages[2:]
    assert "\\[closest\\]" in text_of(view)


def test_empty_question_gets_a_friendly_hint(retriever: qa.Retriever) -> None:
    for blank in ("", "   ", "\n\t"):
        (message,) = app.answer_messages(retriever, blank)
        assert message["role"] == "assistant"
        assert text_of(message).startswith("Type a question about the article")


def test_huge_question_is_answered_and_shown_shortened(retriever: qa.Retriever) -> None:
    question = ("How many troops does the UN have in Mali? " * 2400)[:100_000]
    messages = app.answer_messages(retriever, question)
    assert len(text_of(messages[0])) < 2_200
    assert "100,000 characters in all" in text_of(messages[0])
    assert "passage" in text_of(messages[1])


def test_hostile_question_and_document_show_as_text(retriever: qa.Retriever) -> None:
    question = '<img src=x onerror="window.__pwned=1"> <script>alert(1)</script> UN troops said'
    messages = app.answer_messages(retriever, question)
    allowed = {"p", "blockquote", "strong", "em", "mark"}
    for message in messages:
        assert tags_in(text_of(message)) <= allowed, text_of(message)
        assert tags_in(message.get("metadata", {}).get("title", "")) <= allowed
    assert text_of(messages[0]).startswith("&lt;img src=x")
    (hostile,) = [m for m in messages if "Hostile" in m.get("metadata", {}).get("title", "")]
    assert hostile["metadata"]["title"].endswith(
        "&lt;script&gt;window.\\_\\_pwned=1&lt;/script&gt; Hostile &lt;b&gt;headline&lt;/b&gt;"
    )
    assert "&lt;img src=x onerror=" in text_of(hostile)


def test_search_returns_the_api_fields(retriever: qa.Retriever) -> None:
    passages = app.search_passages(retriever, QUESTION, 3)
    assert len(passages) == 3
    for passage in passages:
        assert {"text", "score", "source", "title", "start", "end", "answer"} <= set(passage)
        document = retriever.documents[passage["source"]].text
        assert document[passage["start"] : passage["end"]] == passage["text"]
        assert passage["answer"] in passage["text"]
    json.dumps(passages)  # JSON, as the endpoint sends it


@pytest.mark.parametrize("k", [0, -1, app.MAX_K + 1, 10**9, True, 2.5, "3", None])
def test_search_rejects_a_bad_k_with_a_clear_message(retriever: qa.Retriever, k: object) -> None:
    with pytest.raises(gr.Error, match=rf"k must be a whole number from 1 to {app.MAX_K}"):
        app.search_passages(retriever, QUESTION, k)  # type: ignore[arg-type]


def test_search_rejects_an_empty_question_with_a_clear_message(retriever: qa.Retriever) -> None:
    with pytest.raises(gr.Error, match="Question is empty"):
        app.search_passages(retriever, "  ", 3)


def test_search_accepts_every_k_in_range(retriever: qa.Retriever) -> None:
    assert len(app.search_passages(retriever, QUESTION, 1)) == 1
    assert 1 <= len(app.search_passages(retriever, QUESTION, app.MAX_K)) <= app.MAX_K


# --- Spaces configuration -------------------------------------------------------------


def _front_matter() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n", text, re.S)
    assert match, "README.md must start with the Spaces YAML front matter"
    return dict(line.split(": ", 1) for line in match.group(1).splitlines())


def test_spaces_front_matter_matches_what_is_tested() -> None:
    meta = _front_matter()
    assert meta["sdk"] == "gradio"
    assert meta["sdk_version"] == gr.__version__
    assert meta["app_file"] == "app.py"
    assert meta["python_version"].strip('"') == "3.11"
    for key in ("title", "emoji", "license", "short_description"):
        assert meta.get(key), f"front matter lacks {key}"
    assert len(meta["short_description"]) <= 60  # the Hub's limit


def test_requirements_txt_is_the_pyproject_dependencies() -> None:
    """Spaces installs requirements.txt before the repository is copied in, so it cannot
    say `.`; it repeats pyproject's dependencies, which stay the one source of truth."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    entries = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    # Option lines (pip's own syntax, e.g. --extra-index-url) say where to look, not what.
    options = [line for line in entries if line.startswith("-")]
    required = [line for line in entries if not line.startswith("-")]
    assert sorted(required) == sorted(project["dependencies"]), (
        "requirements.txt must list exactly [project].dependencies of pyproject.toml"
    )
    assert all(line.startswith("--extra-index-url ") for line in options), (
        f"requirements.txt may only add package indexes, not {options}: an option like -e "
        "or -r would install something pyproject.toml does not list"
    )
    gradio = next(Requirement(r) for r in required if Requirement(r).name == "gradio")
    assert gradio.specifier.contains(_front_matter()["sdk_version"]), (
        "the gradio requirement must allow the Space's sdk_version"
    )


# --- the real app, through real clients ---------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_app(tmp_path_factory.mktemp("app")) as url:
        yield url


@pytest.fixture(scope="module")
def client(served: str):
    from gradio_client import Client

    return Client(served, verbose=False)


@pytest.mark.slow
def test_search_endpoint_through_gradio_client(client) -> None:
    passages = client.predict(QUESTION, 3, api_name="/search")
    assert len(passages) == 3
    assert any(ANSWER in p["answer"] for p in passages)
    assert ANSWER in passages[0]["text"], "the passage that answers comes first"
    for passage in passages:
        assert {"text", "score", "source", "title", "start", "end", "answer"} <= set(passage)


@pytest.mark.slow
@pytest.mark.parametrize("k", [0, -3, 1000])
def test_search_endpoint_rejects_a_bad_k(client, k: int) -> None:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="k must be a whole number from 1 to"):
        client.predict(QUESTION, k, api_name="/search")


@pytest.mark.slow
def test_search_endpoint_rejects_an_empty_question(client) -> None:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Question is empty"):
        client.predict("   ", 3, api_name="/search")


@pytest.mark.slow
def test_chat_through_gradio_client_answers_and_follows_up(client) -> None:
    textbox, history = client.predict(QUESTION, [], api_name="/chat")
    assert textbox == ""
    assert history[0]["role"] == "user" and text_of(history[0]) == QUESTION
    assert ANSWER in text_of(history[1])
    assert any(ANSWER in text_of(m) and "<mark>" in text_of(m) for m in history[2:])

    follow_up = "How many French soldiers died in Mali?"
    _, after = client.predict(follow_up, history, api_name="/chat")
    assert after[: len(history)] == history
    assert text_of(after[len(history)]) == follow_up
    assert "<strong>Of the 53 soldiers killed" in text_of(after[len(history) + 1])


@pytest.mark.slow
def test_chat_handles_empty_huge_and_hostile_questions(client) -> None:
    _, history = client.predict("", [], api_name="/chat")
    assert [m["role"] for m in history] == ["assistant"]
    assert text_of(history[0]).startswith("Type a question")

    huge = ("How many troops does the UN have in Mali? " * 2400)[:100_000]
    _, history = client.predict(huge, [], api_name="/chat")
    assert "100,000 characters in all" in text_of(history[0])
    assert len(history) >= 2

    hostile = "<img src=x onerror=window.__pwned=1> <script>window.__pwned=2</script>"
    _, history = client.predict(hostile, [], api_name="/chat")
    assert text_of(history[0]).startswith("&lt;img src=x onerror=window.\\_\\_pwned=1&gt;")
    assert all("<script" not in text_of(m) and "<img" not in text_of(m) for m in history)


@pytest.mark.slow
def test_mcp_schema_lists_the_search_tool_only(served: str) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(served + "gradio_api/mcp/schema", timeout=30) as response:
        tools = json.load(response)
    assert [tool["name"] for tool in tools] == ["search"]
    schema = tools[0]["inputSchema"]
    assert schema["properties"]["question"]["type"] == "string"
    assert schema["properties"]["k"]["type"] == "integer"
    assert "quoted" in tools[0]["description"]


@pytest.mark.slow
def test_search_tool_through_an_mcp_client(served: str) -> None:
    from mcp import ClientSession

    try:
        from mcp.client.streamable_http import streamable_http_client as connect
    except ImportError:  # mcp before the rename
        from mcp.client.streamable_http import streamablehttp_client as connect

    async def call() -> tuple[list[str], str]:
        async with (
            connect(served + "gradio_api/mcp/") as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            names = [tool.name for tool in (await session.list_tools()).tools]
            result = await session.call_tool("search", {"question": QUESTION, "k": 3})
            return names, "".join(getattr(block, "text", "") for block in result.content)

    names, text = asyncio.run(asyncio.wait_for(call(), timeout=60))
    assert "search" in names
    assert ANSWER in text
