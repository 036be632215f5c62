"""The MCP server: ``ask`` and ``search`` as tools an assistant can call, in JSON.

Built with the official MCP SDK rather than Gradio's automatic MCP bridge, which
returns a tool's result as the Python ``repr`` of a dict in one text block, with no
structured content, no output schema, no bounds on ``k`` and no server instructions.
Here each tool returns structured JSON (``Answer.to_dict`` / ``Hit.to_dict``, the same
shapes as the HTTP endpoints and ``qa ask --json``) with an output schema, ``k`` is
bounded in the input schema, and the descriptions name what the corpus is, read from
its documents at start-up, so a Space serving another article describes itself.

The app mounts ``streamable_http_app()`` at ``/gradio_api/mcp/`` (see ``app.py``); its
session manager must run inside the web server's lifespan (``lifespan``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Annotated, Any, TypeVar

import anyio
from mcp.server.fastmcp import FastMCP
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import Field
from starlette.applications import Starlette

from qa.answer.answering import GOOD_MATCH, MIN_ANSWER_SCORE, STRONG_MATCH
from qa.answer.question import prepare_question
from qa.limits import DEFAULT_K, MAX_K
from qa.retriever import Retriever
from qa.types import AnswerDict, PassageDict

T = TypeVar("T")

SCORE_MEANING = (
    "Each passage has a score from 0 to 1 that means the same for every question: about "
    f"{STRONG_MATCH:.2f} and above is a strong match, {GOOD_MATCH:.2f} a good one, below "
    f"{MIN_ANSWER_SCORE:.2f} not an answer."
)
QUOTED = "Every passage is quoted word for word from the article, with character offsets; "
QUOTED += "nothing is generated, so what it returns can be cited as the article's words."
QUESTION_HELP = "The question, in plain words, e.g. “How many troops does the UN have in Mali?”"
K_HELP = f"How many passages to return, from 1 to {MAX_K}."
HISTORY_HELP = (
    "The conversation's earlier questions, oldest first, for reading a follow-up such as "
    "“And France?” in their light; leave empty for a question that stands alone."
)


def corpus_summary(titles: Sequence[str]) -> str:
    """What the corpus is, for the tools' descriptions: the titles of its documents."""
    if len(titles) == 1:
        return f"one news article, “{titles[0]}”"
    shown = "; ".join(f"“{t}”" for t in titles[:10])
    more = f"; and {len(titles) - 10} more" if len(titles) > 10 else ""
    return f"{len(titles)} news articles: {shown}{more}"


def ask_description(titles: Sequence[str]) -> str:
    return (
        f"Answer a question from {corpus_summary(titles)}. Returns JSON: found (whether the "
        "article answers), confident (false when the best match is weak), message (plain "
        "words, e.g. “The article does not mention World Cup.”), answer (the sentence that "
        "answers, with its key phrase, e.g. “about 12,000 troops”, and offsets in the "
        "article; null when not found) and passages (the closest passages, best first, "
        "each with is_answer). Use it to check what the article says; when found is false, "
        "the article does not say. kind is “answer”, or “overview” for a question about the "
        "whole article (“What is this article about?”): then overview lists each document's "
        "lead and most central sentences, with offsets; or “not_english” for a question in "
        "another language (language names it): ask in English. "
        f"{SCORE_MEANING} {QUOTED}"
    )


def search_description(titles: Sequence[str]) -> str:
    return (
        f"Find the passages of {corpus_summary(titles)} closest to a question, best first, "
        "whether or not they answer it (use ask to know whether the article answers). "
        "Each passage has text, answer (its sentence closest to the question), score, "
        "source, title, start and end (character offsets in the article) and paragraph n "
        f"of paragraphs. {SCORE_MEANING} {QUOTED}"
    )


def instructions(titles: Sequence[str]) -> str:
    """What an assistant is told about this server as a whole."""
    return (
        f"This server answers questions from {corpus_summary(titles)} by quoting it. Call "
        "ask with the user's question; quote answer.text and cite the paragraph. When "
        "found is false, tell the user the article does not say; do not answer from the "
        "passages. When confident is false, say the article only comes close. Nothing is "
        "generated: every passage is the article's own words."
    )


def build_mcp(retriever: Retriever) -> FastMCP:
    """The MCP server over ``retriever``; its tools run on worker threads (the model
    serialises its own calls: ``qa.index.embedder.ModelLock``)."""
    titles = retriever.titles
    server = FastMCP(
        name="qa",
        instructions=instructions(titles),
        stateless_http=True,
        streamable_http_path="/",
        # The tools only read a public article; the server is meant to be reached by
        # host names that are not known here (a Space's address), so no host check.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )

    async def in_thread(work: Callable[[], T]) -> T:
        return await anyio.to_thread.run_sync(work)

    async def ask(
        question: Annotated[str, Field(description=QUESTION_HELP)],
        k: Annotated[int, Field(ge=1, le=MAX_K, description=K_HELP)] = DEFAULT_K,
        history: Annotated[list[str], Field(max_length=50, description=HISTORY_HELP)] = [],  # noqa: B006
    ) -> AnswerDict:
        prepare_question(question)  # an empty question is an error, as in search
        return await in_thread(lambda: retriever.ask(question, k, history).to_dict())

    async def search(
        question: Annotated[str, Field(description=QUESTION_HELP)],
        k: Annotated[int, Field(ge=1, le=MAX_K, description=K_HELP)] = DEFAULT_K,
        history: Annotated[list[str], Field(max_length=50, description=HISTORY_HELP)] = [],  # noqa: B006
    ) -> list[PassageDict]:
        return await in_thread(
            lambda: [hit.to_dict() for hit in retriever.search(question, k, history)]
        )

    read_only: dict[str, Any] = {"readOnlyHint": True, "openWorldHint": False}
    server.tool(
        name="ask",
        title="Ask the article",
        description=ask_description(titles),
        annotations=read_only,  # type: ignore[arg-type]
        structured_output=True,
    )(ask)
    server.tool(
        name="search",
        title="Search the article",
        description=search_description(titles),
        annotations=read_only,  # type: ignore[arg-type]
        structured_output=True,
    )(search)
    return server


def http_app(server: FastMCP) -> Starlette:
    """The streamable HTTP endpoint of ``server``, to mount in the web app."""
    return server.streamable_http_app()


@contextlib.asynccontextmanager
async def lifespan(server: FastMCP) -> AsyncIterator[None]:
    """Run ``server``'s session manager for as long as the web server runs."""
    async with server.session_manager.run():
        yield
