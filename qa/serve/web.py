"""The web app's page and endpoints: a chat that answers from the article, with its
HTTP API (``ask``, ``search``, ``add_document``, ``add_url``), as Gradio Blocks.

``build_app`` makes the page; ``qa.serve.server`` serves it beside the MCP tools. Every
handler is a line or two over ``qa.serve.chat`` and ``qa.serve.sessions``, which call the
same ``qa.Retriever`` Python users call, and every endpoint returns the one JSON shape
of ``Answer.to_dict()``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any

import gradio as gr

import qa
from qa.answer.question import prepare_question
from qa.limits import DEFAULT_K, check_k
from qa.serve import chat as turns
from qa.serve import mcp, presentation, uploads
from qa.serve.api_schema import describe_parameters
from qa.serve.chat import Message
from qa.serve.documents import Limits
from qa.serve.sessions import SessionStore
from qa.types import AnswerDict, PassageDict

log = logging.getLogger("app")
MCP_PATH = "/gradio_api/mcp"
# The queue, chosen for a public Space on 2 CPU cores. Up to CONCURRENCY requests of
# each event run at once on Gradio's threads, but the questions over the bundled
# article alone (scope "bundled", or a session with no document of its own: most
# visitors) meet in one place: the store's batcher (SessionStore(batched=True),
# qa.serve.batching), one worker thread that answers every such question waiting with one
# model call. Nothing waits on purpose; questions queue only while the model is busy,
# which is when batching them pays. Each caller gets its own answer, the same JSON.
# Questions over a session's own documents go through the store as before (one model
# lock). Queue positions are sent every STATUS_UPDATE_SECONDS instead of to every
# waiting client each time a request starts, which under load cost more than the
# model (docs/milvus.md, "Served throughput"). Questions are cut to 1,000 characters
# before the model runs (qa.limits.MAX_QUESTION_CHARS), so a flood of huge
# questions costs no more than a flood of short ones. Past QUEUE_MAX_SIZE waiting
# requests a newcomer is told the queue is full instead of growing memory without bound.
QUEUE_MAX_SIZE = 256
CONCURRENCY = 32  # below Gradio's 40 worker threads, so the page always gets one
STATUS_UPDATE_SECONDS = 1.0
ANALYTICS_EVERY = 1000  # events between two rebuilds of Gradio's queue summary
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

QUESTION_PLACEHOLDER = "Ask a question about the article, then press Enter"
# What a person may upload; the content decides how it is read (qa.ingest.extraction).
UPLOAD_TYPES = (".txt", ".md", ".html", ".htm", ".pdf")
# Gradio refuses an upload larger than this before it reaches the app. It is above the
# app's own limit per file (qa.serve.sessions.Limits.max_file_mb, 10 MB) on purpose, so that
# a 50 MB file gets the app's message in the chat rather than a passing toast.
MAX_UPLOAD = "64mb"
# Seconds a stopping app waits for open requests and streams before it cancels them. A
# document being added stops at its next batch of texts and its visitor is told so.
SHUTDOWN_SECONDS = 5


def served_port() -> int:
    """The port the app serves on: ``GRADIO_SERVER_PORT``, else 7860."""
    return int(os.environ.get("GRADIO_SERVER_PORT") or 7860)


def refusal(message: str) -> gr.Error:
    """A bad request's error: the caller reads ``message``; the server log gets one
    line, not a traceback (Gradio prints one for every error unless told not to)."""
    return uploads.refusal(message, log)


def _app_error(exc: Exception) -> gr.Error:
    text = str(exc)
    return refusal(text[:1].upper() + text[1:])


def _session(request: gr.Request | None) -> str | None:
    """The browser tab's (or API client's) session, which holds its own documents; None
    for a caller without one (such a caller asks the bundled corpus only)."""
    return request.session_hash if request is not None and request.session_hash else None


def _tab(request: gr.Request | None) -> str:
    """The browser tab's session, which the chat, uploads and pastes always have."""
    session = _session(request)
    if session is None:
        raise refusal("This works in the web page only: it needs the page's session.")
    return session


def _checked(question: object, k: object) -> int:
    """``k`` checked, and the question too: an empty one is an error, as in ``search``."""
    try:
        checked = check_k(k)
    except ValueError as exc:
        raise refusal(str(exc)) from None
    try:
        prepare_question(question)
    except (TypeError, ValueError) as exc:
        raise _app_error(exc) from None
    return checked


def ask_question(
    store: SessionStore,
    session: str | None,
    question: str,
    k: int,
    history: list[str] | None = None,
    scope: str = "both",
) -> AnswerDict:
    """The ``ask`` endpoint's work: ``Answer.to_dict()``; a bad argument is an error."""
    k = _checked(question, k)
    try:
        if session is None:
            return store.retriever("-", "bundled").ask(question, k, history or ()).to_dict()
        return store.ask(session, question, k, history or (), scope).to_dict()
    except (TypeError, ValueError) as exc:
        raise _app_error(exc) from None


def search_passages(
    store: SessionStore,
    session: str | None,
    question: str,
    k: int,
    history: list[str] | None = None,
    scope: str = "both",
) -> list[PassageDict]:
    """The ``search`` endpoint's work; errors become messages the caller sees."""
    k = _checked(question, k)
    try:
        hits = store.search(
            session or "-", question, k, history or (), scope if session else "bundled"
        )
    except (TypeError, ValueError, qa.DocumentError) as exc:
        raise _app_error(exc) from None
    return [hit.to_dict() for hit in hits]


def _hold() -> Any:
    return gr.update(interactive=False, placeholder="Adding your document ...")


def _release() -> Any:
    return gr.update(interactive=True, placeholder=QUESTION_PLACEHOLDER)


def build_app(retriever: qa.Retriever, store: SessionStore | None = None) -> gr.Blocks:
    """The chat page and the ``ask``, ``search``, ``add_document`` and ``add_url``
    endpoints over ``retriever`` and each session's own documents (``store``).

    The chat, the uploads and the endpoints are Gradio events that may run at once, and
    the MCP tools (``qa.serve.server``) too; the one model serves them all one call at a
    time (``qa.index.embedder.ModelLock``).
    """
    store = store or SessionStore(retriever, Limits.from_environment(), batched=True)
    # Gradio reads the folder when each component is made: choose it first.
    folder = uploads.upload_folder(served_port())

    def chat(
        message: str,
        history: list[Message],
        scope: str,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's way)
    ) -> tuple[str, list[Message], str, Any]:
        """Answer one question, read in the light of the chat's earlier questions; a
        link alone adds that article to the tab's documents."""
        session = _tab(request)
        history = turns.respond(store, session, message, history, scope, EXAMPLES[0], progress)
        return "", history, *_panel(store, session)

    def add_files(
        paths: list[str] | None,
        history: list[Message],
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's way)
    ) -> tuple[list[Message], str, Any, None]:
        session = _tab(request)
        try:
            history = turns.add_files(store, session, paths or [], history, progress)
        finally:
            uploads.discard(paths or [], folder)  # read into memory, or refused: not kept
        return history, *_panel(store, session), None

    def add_pasted(
        text: str,
        history: list[Message],
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's way)
    ) -> tuple[list[Message], str, Any, str]:
        session = _tab(request)
        history, added = turns.add_text(store, session, text, history, progress)
        return history, *_panel(store, session), "" if added else text

    def remove(
        name: str | None, history: list[Message], request: gr.Request
    ) -> tuple[list[Message], str, Any]:
        session = _tab(request)
        history = turns.remove(store, session, name, history)
        return history, *_panel(store, session)

    def ask(
        question: str,
        k: int = DEFAULT_K,
        history: list[str] | None = None,
        scope: str = "both",
        request: gr.Request = None,  # type: ignore[assignment]
    ) -> AnswerDict:
        """Answer a question from the article, quoting it."""
        return ask_question(store, _session(request), question, k, history, scope)

    def search(
        question: str,
        k: int = DEFAULT_K,
        history: list[str] | None = None,
        scope: str = "both",
        request: gr.Request = None,  # type: ignore[assignment]
    ) -> list[PassageDict]:
        """Find the passages of the article closest to a question, best first."""
        return search_passages(store, _session(request), question, k, history, scope)

    def add_document(
        text: str,
        name: str = "",
        request: gr.Request = None,  # type: ignore[assignment]
    ) -> dict[str, Any]:
        """Add a text to this client's session, to ask about with scope "mine" or "both"."""
        session = _session(request)
        if session is None:
            raise refusal(
                "add_document needs a session, to keep the document for your later "
                "questions: call it through gradio_client (a Client keeps its session)."
            )
        try:
            info = store.add_text(session, text, name or None)
        except qa.DocumentError as exc:
            raise _app_error(exc) from None
        return dataclasses.asdict(info)

    def add_url(
        url: str,
        request: gr.Request = None,  # type: ignore[assignment]
    ) -> dict[str, Any]:
        """Fetch the article at a link and add it to this client's session, to ask about
        with scope "mine" or "both" (http and https only; public addresses only)."""
        session = _session(request)
        if session is None:
            raise refusal(
                "add_url needs a session, to keep the article for your later questions: "
                "call it through gradio_client (a Client keeps its session)."
            )
        if not isinstance(url, str):
            raise refusal(f"url must be a string, got {type(url).__name__}.")
        try:
            info = store.add_url(session, url)
        except qa.DocumentError as exc:
            raise _app_error(exc) from None
        return dataclasses.asdict(info)

    def forget(request: gr.Request) -> None:
        if (session := _session(request)) is not None:
            store.close(session)

    titles = retriever.titles
    # CheckedBlocks: Gradio's check that a file an event names was uploaded runs in every
    # event, mounted or launched (qa.serve.uploads); delete_cache removes unclaimed uploads.
    with uploads.CheckedBlocks(
        title="qa: ask the article",
        analytics_enabled=False,
        delete_cache=uploads.cleaning(),
    ) as demo:
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
            placeholder="Ask a question below, click an example, or paste a news link.",
        )
        textbox = gr.Textbox(
            elem_id="qa-question",
            placeholder=QUESTION_PLACEHOLDER,
            label="Question",
            show_label=False,
            submit_btn="Ask",
            max_lines=6,
        )
        scope = gr.Radio(
            [
                ("The article and my documents", "both"),
                ("The article only", "bundled"),
                ("My documents only", "mine"),
            ],
            value="both",
            label="Ask",
            elem_id="qa-scope",
            render=False,  # shown in "Your own articles", below the examples
        )
        # Shown in "Your own articles": the visitor's documents (a link pasted in the chat
        # adds one too), and the choice of one to remove.
        documents = gr.Markdown("No document of yours yet.", elem_id="qa-listing", render=False)
        chosen = gr.Dropdown(
            [],
            value=None,
            label="Remove one of your documents",
            elem_id="qa-remove-choice",
            scale=4,
            render=False,
        )
        panel = [documents, chosen]
        # The chat endpoint stays callable (gradio_client, api_name="/chat") but is left
        # off the API page: programs call `ask` or `search`.
        textbox.submit(
            chat,
            [textbox, chatbot, scope],
            [textbox, chatbot, *panel],
            api_name="chat",
            api_visibility="undocumented",
        )
        # Not cached: an answer takes well under a second, and caching would run every
        # example through the model at start-up (Spaces turns caching on by default).
        gr.Examples(
            [[example] for example in EXAMPLES],
            inputs=[textbox, chatbot, scope],  # only the textbox has example values
            outputs=[textbox, chatbot, *panel],
            fn=chat,
            run_on_click=True,
            cache_examples=False,
            label="Examples (click one to ask it)",
        )
        with gr.Accordion(
            "Your own articles: paste, upload or link one", open=False, elem_id="qa-documents"
        ):
            gr.Markdown(
                "Paste an article, upload `.txt`, `.md`, `.html` or `.pdf` files (up to "
                f"{store.limits.max_file_mb:g} MB each), or paste a news link in the question "
                "box, then ask about them. They stay in "
                "this tab only, in the server's memory: nobody else's answers use them, and "
                "they are gone when you close the tab or after an hour without a question."
            )
            scope.render()
            files = gr.File(
                label="Upload files",
                file_count="multiple",
                file_types=list(UPLOAD_TYPES),
                elem_id="qa-upload",
            )
            pasted = gr.Textbox(
                label="Or paste an article (its first line is the title)",
                lines=4,
                max_lines=12,
                elem_id="qa-paste",
            )
            paste = gr.Button("Add the pasted text", size="sm")
            documents.render()
            with gr.Row(equal_height=True):
                chosen.render()
                drop = gr.Button("Remove", size="sm", scale=1, elem_id="qa-remove")
        drop.click(remove, [chosen, chatbot], [chatbot, *panel], api_visibility="private")
        # While a document is being added the question box waits: both write the whole
        # chat, and the one that ended last would drop the other's message.
        for trigger, handler, inputs, outputs in (
            (files.upload, add_files, [files, chatbot], [chatbot, *panel, files]),
            (paste.click, add_pasted, [pasted, chatbot], [chatbot, *panel, pasted]),
        ):
            trigger(_hold, None, textbox, queue=False, api_visibility="private").then(
                handler, inputs, outputs, api_visibility="private"
            ).then(_release, None, textbox, queue=False, api_visibility="private")
        gr.api(ask, api_name="ask", api_description=mcp.ask_description(titles))
        gr.api(search, api_name="search", api_description=mcp.search_description(titles))
        gr.api(add_document, api_name="add_document")
        gr.api(add_url, api_name="add_url")
        demo.unload(forget)
    describe_parameters(demo)
    # Gradio's queue rebuilds a pandas table of its last 10,000 events after every event
    # (a summary for its monitoring page, which this app does not serve): under load
    # that grew to an eighth of the server's time and the rate fell run after run.
    # Rebuilt once per ANALYTICS_EVERY events instead (read when the queue is made).
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(ANALYTICS_EVERY))
    # api_open=False: every call goes through the queue (and its session), none around it.
    demo.queue(
        default_concurrency_limit=CONCURRENCY,
        max_size=QUEUE_MAX_SIZE,
        status_update_rate=STATUS_UPDATE_SECONDS,
        api_open=False,
    )
    return demo


def _panel(store: SessionStore, session: str) -> tuple[str, Any]:
    """The "Your own articles" panel after a change: the list of the session's
    documents, and the choice of one to remove."""
    names = [info.name for info in store.documents(session)]
    return turns.listing(store, session), gr.update(choices=names, value=None)
