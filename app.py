"""The web app: a chat that answers from the article, its HTTP API, and its MCP tools.

``python app.py`` (or ``make run``) serves it on http://127.0.0.1:7860;
``GRADIO_SERVER_NAME`` and ``GRADIO_SERVER_PORT`` change that (Hugging Face Spaces
sets them). Three surfaces, one ``qa.Retriever`` and one JSON shape:

- the chat (``/``): each reply opens with the answer, quoted from the article;
- the HTTP API (``/gradio_api/...``, gradio_client): ``ask`` returns
  ``Answer.to_dict()``, ``search`` the passages (``Hit.to_dict()``);
- the MCP server (``/gradio_api/mcp/``): the same two as tools (``qa.mcp_server``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import gradio as gr

import qa
from qa import mcp_server, presentation, webui
from qa.mcp_server import DEFAULT_K, MAX_K
from qa.types import AnswerDict, PassageDict

HERE = Path(__file__).resolve().parent
MCP_PATH = "/gradio_api/mcp"
# The queue, chosen for a public Space on 2 CPU cores. One request at a time per event
# (and one lock over the model): a question costs ~15 ms of CPU, so running them side
# by side buys nothing and costs memory. Questions are cut to 1,000 characters before
# the model runs (qa.answering.MAX_QUESTION_CHARS), so a flood of huge questions costs
# no more than a flood of short ones. Past QUEUE_MAX_SIZE waiting requests a newcomer
# is told the queue is full instead of growing memory without bound.
QUEUE_MAX_SIZE = 256
# Questions about the bundled article; clicking one asks it. Each shows something the
# app does well (a count, a reason, a name, a date), and the last one what "the article
# does not say" looks like. tests/test_app.py checks each one's answer.
EXAMPLES = [
    "How many troops does the UN have in Mali?",
    "Why is France leaving Mali?",
    "Who is the spokesman for MINUSMA?",
    "When did France first send troops to Mali?",
    "Who won the World Cup?",
]

Message = dict[str, Any]


def load_retriever() -> qa.Retriever:
    """The retriever over ``QA_CORPUS``, else the ``corpus`` folder beside this file."""
    return qa.Retriever.from_corpus(os.environ.get("QA_CORPUS") or HERE / "corpus")


def respond(
    retriever: qa.Retriever, question: str, history: list[Message]
) -> tuple[str, list[Message]]:
    """The chat handler's work: an empty textbox and the history with the answer added.

    Each question is answered on its own; ``history`` is copied, never changed.
    """
    return "", [*history, *answer_messages(retriever, question, history)]


def answer_messages(
    retriever: qa.Retriever, question: str, history: Sequence[Message] = ()
) -> list[Message]:
    """The messages that answer ``question``: the person's question, then one reply that
    opens with the answer (``presentation.reply``). An empty question gets a hint as a
    message of its own, once."""
    if not question.strip():
        if history and _text(history[-1]).startswith(presentation.HINT):
            return []  # the hint is already the last thing said
        return [{"role": "assistant", "content": presentation.hint(EXAMPLES[0])}]
    answer = retriever.ask(question, k=DEFAULT_K)
    return [
        {"role": "user", "content": presentation.shown_question(question)},
        {"role": "assistant", "content": presentation.reply(answer, retriever.documents)},
    ]


def _text(message: Message) -> str:
    content = message.get("content", "")
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content if isinstance(block, dict))


def _check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise gr.Error(f"k must be a whole number from 1 to {MAX_K}, got {k!r}.")
    return k


def _app_error(exc: Exception) -> gr.Error:
    text = str(exc)
    return gr.Error(text[:1].upper() + text[1:])


def ask_question(retriever: qa.Retriever, question: str, k: int) -> AnswerDict:
    """The ``ask`` endpoint's work: ``Answer.to_dict()``; a bad ``k`` is an error."""
    try:
        return retriever.ask(question, _check_k(k)).to_dict()
    except TypeError as exc:
        raise _app_error(exc) from None


def search_passages(retriever: qa.Retriever, question: str, k: int) -> list[PassageDict]:
    """The ``search`` endpoint's work; errors become messages the caller sees."""
    try:
        return [hit.to_dict() for hit in retriever.search(question, _check_k(k))]
    except (TypeError, ValueError) as exc:
        raise _app_error(exc) from None


def build_app(retriever: qa.Retriever, lock: threading.Lock | None = None) -> gr.Blocks:
    """The chat page and the ``ask`` and ``search`` endpoints over ``retriever``.

    ``lock``: the chat, the endpoints and the MCP tools are separate events that may run
    at once; one model (whose tokenizer is not thread-safe) serves them one at a time.
    """
    lock = lock or threading.Lock()

    def chat(message: str, history: list[Message]) -> tuple[str, list[Message]]:
        """Answer one question about the article, on its own."""
        with lock:
            return respond(retriever, message, history)

    def ask(question: str, k: int = DEFAULT_K) -> AnswerDict:
        """Answer a question from the article, quoting it.

        Args:
            question: the question, in plain words
            k: how many passages to return, from 1 to 20

        Returns:
            found, confident, message, answer (the sentence that answers, its key phrase
            and offsets; null when not found) and passages (best first, each with is_answer)
        """
        with lock:
            return ask_question(retriever, question, k)

    def search(question: str, k: int = DEFAULT_K) -> list[PassageDict]:
        """Find the passages of the article closest to a question, best first.

        Args:
            question: the question, in plain words
            k: how many passages to return, from 1 to 20

        Returns:
            passages, best first: text, answer, score, source, title, start, end, paragraph
        """
        with lock:
            return search_passages(retriever, question, k)

    titles = sorted({document.title for document in retriever.documents.values()})
    with gr.Blocks(title="qa: ask the article", analytics_enabled=False) as demo:
        gr.Markdown("# Ask the article\n\n" + presentation.describe(titles), elem_id="qa-header")
        chatbot = gr.Chatbot(
            elem_id="qa-chat",
            label="Answers quoted from the article",
            show_label=False,
            layout="panel",  # an answer uses the full width; the question stands above it
            autoscroll=False,  # chat.js keeps the question in view instead of the end
            group_consecutive_messages=False,  # the hint is a message of its own
            latex_delimiters=[],  # "$" in an article is money, not mathematics
            allow_tags=False,  # no custom tag passes through
            buttons=[],  # a copy button would copy the HTML, not the quote
            feedback_options=None,
            placeholder="Ask a question below, or click an example.",
        )
        textbox = gr.Textbox(
            elem_id="qa-question",
            placeholder="Ask a question about the article, then press Enter",
            label="Question",
            show_label=False,
            submit_btn="Ask",
            max_lines=6,
        )
        # The chat endpoint stays callable (gradio_client, api_name="/chat") but is left
        # off the API page: programs call `ask` or `search`.
        textbox.submit(
            chat,
            [textbox, chatbot],
            [textbox, chatbot],
            api_name="chat",
            api_visibility="undocumented",
        )
        # Not cached: an answer takes well under a second, and caching would run every
        # example through the model at start-up (Spaces turns caching on by default).
        gr.Examples(
            [[example] for example in EXAMPLES],
            inputs=[textbox, chatbot],  # only the textbox has example values; the chat is kept
            outputs=[textbox, chatbot],
            fn=chat,
            run_on_click=True,
            cache_examples=False,
            label="Examples (click one to ask it)",
        )
        gr.api(ask, api_name="ask", api_description=mcp_server.ask_description(titles))
        gr.api(search, api_name="search", api_description=mcp_server.search_description(titles))
    _describe_parameters(demo)
    demo.queue(default_concurrency_limit=1, max_size=QUEUE_MAX_SIZE)
    return demo


def _describe_parameters(demo: gr.Blocks) -> None:
    """Give the endpoints' parameters and results names, descriptions and bounds in the
    API info (``Client.view_api()``, the API page). ``gr.api`` derives a bare JSON
    schema from each type hint (and none from a postponed return annotation), so the
    full ones are set here."""
    from gradio_client.utils import python_type_to_json_schema

    extra: dict[str, dict[str, Any]] = {
        "question": {"description": mcp_server.QUESTION_HELP},
        "k": {"minimum": 1, "maximum": MAX_K, "description": mcp_server.K_HELP},
    }
    results: dict[str, tuple[str, Any, str]] = {
        "ask": ("answer", AnswerDict, "found, confident, message, answer, passages"),
        "search": ("passages", list[PassageDict], "the passages, best first"),
    }
    for fn in demo.fns.values():
        if fn.api_name not in results:
            continue
        for name, block in zip(("question", "k"), fn.inputs, strict=True):
            assert isinstance(block, gr.components.Component)
            info = block.api_info()
            info.update(extra[name])
            info["additional_description"] = extra[name]["description"]
        label, kind, description = results[str(fn.api_name)]
        (output,) = fn.outputs
        assert isinstance(output, gr.components.Component)
        output.label = label
        output.api_info().clear()
        output.api_info().update(python_type_to_json_schema(kind), description=description)


def build_server(retriever: qa.Retriever) -> Any:
    """The whole web app: the Gradio page and API, with the MCP server beside it."""
    from fastapi import FastAPI

    lock = threading.Lock()
    demo = build_app(retriever, lock)
    tools = mcp_server.build_mcp(retriever, lock)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with mcp_server.lifespan(tools):
            yield

    server = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    server.mount(MCP_PATH, mcp_server.http_app(tools))
    return gr.mount_gradio_app(
        server,
        demo,
        path="/",
        theme=webui.theme(),
        css=webui.css(),
        js=webui.js(),
        head=webui.HEAD,
        footer_links=["api", "settings"],
    )


def __getattr__(name: str) -> Any:
    """``app.demo``, built over the default corpus on first use, so ``import app`` stays
    cheap and tools that look for a module-level ``demo`` find one."""
    if name == "demo":
        demo = build_app(load_retriever())
        globals()["demo"] = demo
        return demo
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Load the index once, then serve the chat, the API and the MCP server."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "faiss", "sentence_transformers", "filelock", "mcp"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    retriever = load_retriever()
    retriever.search(EXAMPLES[0], k=1)  # load the model now, not on the first question
    host = os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1"
    port = int(os.environ.get("GRADIO_SERVER_PORT") or 7860)
    logging.getLogger("app").info(
        "Serving on http://%s:%d/ (MCP: http://%s:%d%s/)", host, port, host, port, MCP_PATH
    )
    uvicorn.run(build_server(retriever), host=host, port=port, log_level="warning")


if __name__ == "__main__":
    main()
