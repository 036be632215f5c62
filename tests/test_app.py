"""app.py: the chat handler and the search endpoint, then the real app in a subprocess,
asked through gradio_client (a real client) and an MCP client.

The handler tests use the fake embedder; the served-app tests use the real model and
the real article, as ``python app.py`` does.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import gradio as gr
import pytest
from packaging.requirements import Requirement

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: tomlkit comes with Gradio, same loads()
    import tomlkit as tomllib  # type: ignore[no-redef]

from helpers import text_of
from served_app import ROOT, mcp_call, serve_app

import qa
from qa.limits import MAX_K
from qa.serve import web
from qa.serve.sessions import SessionStore

QUESTION = "How many troops does the UN have in Mali?"
ANSWER = "12,000 troops"


def _load_app() -> ModuleType:
    spec = importlib.util.spec_from_file_location("app", ROOT / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


app = _load_app()


def test_importing_the_app_loads_no_index() -> None:
    # `app.demo` is built on first use (or by `python app.py`), not on import.
    assert "demo" not in vars(_load_app())


# --- the endpoints' work, over the fake embedder ----------------------------------


@pytest.fixture
def store(corpus_copy: Path, fake_embedder, tmp_path: Path) -> SessionStore:
    retriever = qa.Retriever.from_corpus(
        corpus_copy, embedder=fake_embedder, cache_dir=tmp_path / "cache"
    )
    return SessionStore(retriever)


def test_ask_returns_the_one_json_shape(store: SessionStore) -> None:
    result = web.ask_question(store, "s", QUESTION, 3)
    assert result == store.ask("s", QUESTION, 3).to_dict()
    json.dumps(result)
    with pytest.raises(gr.Error, match="Question is empty"):  # an error, as in search
        web.ask_question(store, "s", "   ", 3)
    # A caller without a session asks the bundled article only, and makes no session.
    assert web.ask_question(store, None, QUESTION, 3, None, "mine")["found"] is not None
    assert len(store) == 0


@pytest.mark.parametrize("k", [0, -1, MAX_K + 1, True, 2.5, "3", None])
def test_ask_rejects_a_bad_k_with_a_clear_message(store: SessionStore, k: object) -> None:
    with pytest.raises(gr.Error, match=rf"k must be a whole number from 1 to {MAX_K}"):
        web.ask_question(store, "s", QUESTION, k)  # type: ignore[arg-type]


def test_ask_rejects_a_bad_history_or_scope(store: SessionStore) -> None:
    with pytest.raises(gr.Error, match="History must hold strings"):
        web.ask_question(store, "s", QUESTION, 3, [1])  # type: ignore[list-item]
    with pytest.raises(gr.Error, match=r"[Ss]cope"):
        web.ask_question(store, "s", QUESTION, 3, None, "everything")


def test_add_document_needs_a_session(store: SessionStore) -> None:
    demo = web.build_app(store.retriever("-", "bundled"), store)
    (fn,) = [f for f in demo.fns.values() if f.api_name == "add_document"]
    with pytest.raises(gr.Error, match="needs a session"):
        fn.fn("Title\nSome text.", "x.txt", None)


def test_the_queue_does_not_rebuild_its_summary_after_every_event(
    store: SessionStore,
) -> None:
    # Gradio's default rebuilt a table of 10,000 events per event: make load's rate fell
    # from 67 to 41 to 35 answered/s over runs against one app (docs/milvus.md).
    demo = web.build_app(store.retriever("-", "bundled"), store)
    assert demo._queue.ANAYLTICS_CACHE_FREQUENCY >= web.ANALYTICS_EVERY  # Gradio's spelling


def test_ask_reads_a_follow_up_with_its_history(store: SessionStore) -> None:
    result = web.ask_question(store, "s", "And France?", 3, [QUESTION])
    assert result["read_as"] == "How many troops does France have in Mali?"


# Each example of the app and what its answer must be: the key phrase marked, from the
# passage that must come first. None: the article does not answer, and says so.
EXAMPLE_ANSWERS = {
    "How many troops does the UN have in Mali?": ("about 12,000 troops", "MINUSMA"),
    "Why is France leaving Mali?": ('"multiple obstructions" by the ruling junta', "statement"),
    "Who is the spokesman for MINUSMA?": ("Olivier Salgado", "MINUSMA"),
    "When did France first send troops to Mali?": ("in 2013", "initially deployed"),
    "Who won the World Cup?": None,
}


@pytest.mark.slow
def test_every_example_is_answered_right_first(real_retriever: qa.Retriever) -> None:
    assert list(EXAMPLE_ANSWERS) == web.EXAMPLES, "each example needs its expected answer here"
    for question, expected in EXAMPLE_ANSWERS.items():
        answer = real_retriever.ask(question)
        if expected is None:
            assert not answer.found, question
            continue
        key, passage = expected
        assert answer.found and answer.confident and answer.answer, question
        assert answer.answer.passage == 1 and passage in answer.passages[0].text, question
        assert answer.answer.key == key, question


def test_search_returns_the_api_fields(store: SessionStore) -> None:
    passages = web.search_passages(store, "s", QUESTION, 3)
    assert len(passages) == 3
    for passage in passages:
        assert {"text", "score", "source", "title", "start", "end", "answer"} <= set(passage)
        document = store.retriever("s", "bundled").documents[passage["source"]].text
        assert document[passage["start"] : passage["end"]] == passage["text"]
        assert passage["answer"] in passage["text"]
    json.dumps(passages)  # JSON, as the endpoint sends it


@pytest.mark.parametrize("k", [0, -1, MAX_K + 1, 10**9, True, 2.5, "3", None])
def test_search_rejects_a_bad_k_with_a_clear_message(store: SessionStore, k: object) -> None:
    with pytest.raises(gr.Error, match=rf"k must be a whole number from 1 to {MAX_K}"):
        web.search_passages(store, "s", QUESTION, k)  # type: ignore[arg-type]


def test_search_rejects_an_empty_question_with_a_clear_message(store: SessionStore) -> None:
    with pytest.raises(gr.Error, match="Question is empty"):
        web.search_passages(store, "s", "  ", 3)


def test_search_accepts_every_k_in_range(store: SessionStore) -> None:
    assert len(web.search_passages(store, "s", QUESTION, 1)) == 1
    assert 1 <= len(web.search_passages(store, "s", QUESTION, MAX_K)) <= MAX_K


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
def test_ask_endpoint_through_gradio_client(client) -> None:
    found = client.predict(QUESTION, 3, api_name="/ask")
    assert found["found"] is True and found["confident"] is True
    assert found["answer"]["key"] == "about 12,000 troops"
    assert found["passages"][0]["is_answer"] is True
    missing = client.predict("Who won the World Cup?", 2, api_name="/ask")
    assert missing["found"] is False and missing["answer"] is None
    assert "does not mention World Cup" in missing["message"]
    assert len(missing["passages"]) == 2
    assert not any(p["is_answer"] for p in missing["passages"])


@pytest.mark.slow
def test_ask_endpoint_rejects_a_bad_k(client) -> None:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="k must be a whole number from 1 to"):
        client.predict(QUESTION, 0, api_name="/ask")


@pytest.mark.slow
def test_the_api_page_describes_each_parameter_and_result(client) -> None:
    info = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(info) == {"/ask", "/search", "/add_document", "/add_url"}
    for endpoint in (info["/ask"], info["/search"]):
        parameters = {p["parameter_name"]: p for p in endpoint["parameters"]}
        assert "plain words" in parameters["question"]["python_type"]["description"]
        assert "from 1 to 20" in parameters["k"]["python_type"]["description"]
        assert parameters["k"]["type"]["minimum"] == 1 and parameters["k"]["type"]["maximum"] == 20
        (result,) = endpoint["returns"]
        assert result["python_type"]["description"] and result["python_type"]["type"] != "Any"
    assert "is_answer: bool" in info["/ask"]["returns"][0]["python_type"]["type"]
    text = client.view_api(print_info=False, return_format="str")
    assert "(How many passages to return, from 1 to 20.)" in text


@pytest.mark.slow
def test_chat_through_gradio_client_answers_and_follows_up(client) -> None:
    textbox, history, _, _ = client.predict(QUESTION, [], "both", api_name="/chat")
    assert textbox == ""
    assert history[0]["role"] == "user" and text_of(history[0]) == QUESTION
    assert '<mark class="qa-key">about 12,000 troops</mark>' in text_of(history[1])

    follow_up = "How many French soldiers died in Mali?"
    _, after, _, _ = client.predict(follow_up, history, "both", api_name="/chat")
    assert after[: len(history)] == history
    assert text_of(after[len(history)]) == follow_up
    assert '<mark class="qa-key">48 of them</mark>' in text_of(after[len(history) + 1])

    # A follow-up leans on the questions before it, and says how it was read.
    _, last, _, _ = client.predict(
        "And how many were killed in total?", after, "both", api_name="/chat"
    )
    assert "Read as:" in text_of(last[-1])


@pytest.mark.slow
def test_two_clients_never_see_each_others_documents(served: str) -> None:
    """Two API clients at once, each with its own session: a document one adds is in
    its own answers only."""
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client

    texts = {
        "alpha": "Alpha bakery news\nThe Alpha bakery sells forty kinds of bread.\n",
        "beta": "Beta garage news\nThe Beta garage repairs thirty bicycles a day.\n",
    }
    questions = {
        "alpha": "How many kinds of bread does the bakery sell?",
        "beta": "How many bicycles does the garage repair?",
    }

    def visitor(name: str) -> tuple[str, list[str], list[str]]:
        client = Client(served, verbose=False)
        added = client.predict(texts[name], f"{name}.txt", api_name="/add_document")
        other = "beta" if name == "alpha" else "alpha"
        mine = client.predict(questions[name], 3, None, "mine", api_name="/ask")
        theirs = client.predict(questions[other], 5, None, "both", api_name="/ask")
        return (
            added["name"],
            [p["source"] for p in mine["passages"]],
            [p["source"] for p in theirs["passages"]],
        )

    with ThreadPoolExecutor(2) as pool:
        results = dict(zip(texts, pool.map(visitor, texts), strict=True))
    for name, (added, mine, theirs) in results.items():
        other = "beta" if name == "alpha" else "alpha"
        assert added == f"{name}.txt"
        assert mine and set(mine) == {f"{name}.txt"}
        assert f"{other}.txt" not in theirs


@pytest.mark.slow
def test_chat_handles_empty_huge_and_hostile_questions(client) -> None:
    _, history, _, _ = client.predict("", [], "both", api_name="/chat")
    assert [m["role"] for m in history] == ["assistant"]
    assert text_of(history[0]).startswith("Type a question")

    huge = ("How many troops does the UN have in Mali? " * 2400)[:100_000]
    _, history, _, _ = client.predict(huge, [], "both", api_name="/chat")
    assert "100,000 characters in all" in text_of(history[0])
    assert len(history) == 2

    hostile = "<img src=x onerror=window.__pwned=1> <script>window.__pwned=2</script>"
    _, history, _, _ = client.predict(hostile, [], "both", api_name="/chat")
    assert text_of(history[0]).startswith("&lt;img src=x onerror=window.\\_\\_pwned=1&gt;")
    assert all("<script" not in text_of(m) and "<img" not in text_of(m) for m in history)


# --- MCP, through the official client ---------------------------------------------------


@pytest.fixture(scope="module")
def mcp_tools(served: str):
    async def work(session, initialized):
        return initialized, (await session.list_tools()).tools

    return mcp_call(served + "gradio_api/mcp/", work)


@pytest.mark.slow
def test_mcp_tools_say_what_the_article_is_and_bound_k(mcp_tools) -> None:
    initialized, tools = mcp_tools
    assert "France, allies to begin military withdrawal from Mali" in initialized.instructions
    assert {tool.name for tool in tools} == {"ask", "search"}
    for tool in tools:
        assert "“France, allies to begin military withdrawal from Mali”" in tool.description
        assert "quoted word for word" in tool.description and "score" in tool.description
        assert "  " not in tool.description and ",," not in tool.description
        k = tool.inputSchema["properties"]["k"]
        assert (k["type"], k["minimum"], k["maximum"], k["default"]) == ("integer", 1, 20, 3)
        assert tool.inputSchema["required"] == ["question"]
        assert tool.inputSchema["properties"]["question"]["description"]
        assert tool.outputSchema and tool.annotations.readOnlyHint is True
    ask = next(tool for tool in tools if tool.name == "ask")
    assert set(ask.outputSchema["properties"]) == {
        "question",
        "kind",
        "found",
        "confident",
        "read_as",
        "message",
        "answer",
        "passages",
        "overview",
        "language",
    }


@pytest.mark.slow
def test_mcp_ask_says_found_or_not_in_json(served: str, real_retriever: qa.Retriever) -> None:
    async def work(session, _):
        found = await session.call_tool("ask", {"question": QUESTION, "k": 3})
        missing = await session.call_tool("ask", {"question": "Who won the World Cup?"})
        search = await session.call_tool("search", {"question": QUESTION, "k": 2})
        bad = await session.call_tool("ask", {"question": QUESTION, "k": 0})
        empty = await session.call_tool("ask", {"question": "   "})
        return found, missing, search, bad, empty

    found, missing, search, bad, empty = mcp_call(served + "gradio_api/mcp/", work)
    assert empty.isError and "question is empty" in empty.content[0].text
    assert not found.isError and found.structuredContent["found"] is True
    assert found.structuredContent["answer"]["key"] == "about 12,000 troops"
    assert json.loads(found.content[0].text) == found.structuredContent  # JSON, not a repr
    assert missing.structuredContent["found"] is False
    assert missing.structuredContent["answer"] is None
    passages = search.structuredContent["result"]
    assert len(passages) == 2 and ANSWER in passages[0]["text"]
    assert bad.isError and "greater than or equal to 1" in bad.content[0].text


OTHER_LANGUAGES = {
    "Quand la France quittera-t-elle le Mali ?": "French",
    "¿Cuántos soldados tiene la ONU en Malí?": "Spanish",
    "Wie viele Soldaten hat Frankreich in Mali?": "German",
    "Perché la Francia lascia il Mali?": "Italian",
}


@pytest.mark.slow
def test_other_languages_and_overviews_over_http_and_mcp(served: str, client) -> None:
    """A question in French, Spanish, German or Italian is told so, with nothing quoted;
    "What is this article about?" gets the overview: the same over HTTP and MCP."""

    async def work(session, _):
        asked = [*OTHER_LANGUAGES, "What is this article about?"]
        return [(await session.call_tool("ask", {"question": q})).structuredContent for q in asked]

    from_mcp = mcp_call(served + "gradio_api/mcp/", work)
    from_http = [
        client.predict(q, 3, api_name="/ask") for q in [*OTHER_LANGUAGES, "Summarize the article"]
    ]
    for answers in (from_http, from_mcp):
        *foreign, brief = answers
        for answer, language in zip(foreign, OTHER_LANGUAGES.values(), strict=True):
            assert (answer["kind"], answer["found"], answer["language"]) == (
                "not_english",
                False,
                language,
            )
            assert answer["answer"] is None and answer["passages"] == []
            assert answer["message"].startswith(f"This question looks like {language}.")
        assert (brief["kind"], brief["found"], brief["answer"]) == ("overview", True, None)
        (overview,) = brief["overview"]
        assert overview["sentences"][0]["lead"] is True
        assert overview["sentences"][0]["text"].startswith("A statement signed by France")
    assert from_http[-1]["overview"] == from_mcp[-1]["overview"]


@pytest.mark.slow
def test_one_json_shape_for_python_http_mcp_and_cli(
    served: str, client, real_retriever: qa.Retriever, tmp_path: Path
) -> None:
    """``Answer.to_dict()`` is what the ask endpoint, the MCP tool and ``qa ask --json``
    return, and it fits the output schema the MCP tool announces."""
    from pydantic import TypeAdapter

    from qa.types import AnswerDict

    expected = real_retriever.ask(QUESTION, 3).to_dict()
    TypeAdapter(AnswerDict).validate_python(expected, strict=True)

    async def work(session, _):
        return (await session.call_tool("ask", {"question": QUESTION, "k": 3})).structuredContent

    from_mcp = mcp_call(served + "gradio_api/mcp/", work)
    from_http = client.predict(QUESTION, 3, api_name="/ask")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "qa",
            "-q",
            "ask",
            QUESTION,
            "--json",
            "--corpus",
            str(ROOT / "corpus"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "QA_CACHE_DIR": str(tmp_path)},
        check=True,
    )
    from_cli = json.loads(done.stdout)
    for other in (from_mcp, from_http, from_cli):
        assert other == expected


@pytest.mark.slow
def test_the_readme_assistant_configuration_connects(served: str) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)\n```", text, re.S)
    (config,) = [json.loads(b) for b in blocks if '"mcpServers"' in b]
    url = config["mcpServers"]["qa"]["url"]
    assert url.startswith("http://127.0.0.1:7860/")
    url = url.replace("http://127.0.0.1:7860/", served)

    async def work(session, _):
        return [tool.name for tool in (await session.list_tools()).tools]

    assert sorted(mcp_call(url, work)) == ["ask", "search"]
