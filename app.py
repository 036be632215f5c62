"""The chat web UI: ask about the article, read the passages of it that answer.

``python app.py`` (or ``make run``) serves it on http://127.0.0.1:7860; Gradio reads
``GRADIO_SERVER_NAME`` and ``GRADIO_SERVER_PORT`` to change that (Hugging Face Spaces
sets them). Besides the chat it serves a ``search`` API endpoint, which is also an MCP
tool. The UI is a thin layer over ``qa.Retriever``: the same API Python users call.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import gradio as gr

import qa
from qa import presentation

HERE = Path(__file__).resolve().parent
DEFAULT_K = 3  # passages shown per answer
MAX_K = 20  # most passages the search endpoint returns
# The queue, chosen for a public Space on 2 CPU cores. One request at a time per event
# (and one lock over the model): a question costs ~15 ms of CPU, so running them side
# by side buys nothing and costs memory. Questions are cut to 1,000 characters before
# the model runs (qa.answering.MAX_QUESTION_CHARS), so a flood of huge questions costs
# no more than a flood of short ones. Past QUEUE_MAX_SIZE waiting requests a newcomer
# is told the queue is full instead of growing memory without bound.
QUEUE_MAX_SIZE = 256
# Questions about the bundled article; clicking one asks it. The last one shows what a
# "the article does not say" answer looks like.
EXAMPLES = [
    "How many troops does the UN have in Mali?",
    "Why is France leaving Mali?",
    "How many French soldiers died in Mali?",
    "Where will the allies remain engaged?",
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
    return "", [*history, *answer_messages(retriever, question)]


def answer_messages(retriever: qa.Retriever, question: str) -> list[Message]:
    """The chat messages that answer ``question`` on its own: the person's question, the
    passages (or plainly that the article does not say), and each article with the
    passages marked in place, in a collapsed block."""
    if not question.strip():
        hint = (
            "Type a question about the article and press Enter, for example: "
            f"*{presentation.escape(EXAMPLES[0])}*"
        )
        return [{"role": "assistant", "content": hint}]
    answer = retriever.ask(question, k=DEFAULT_K)
    shown = answer.passages if answer.found else answer.passages[:1]
    messages: list[Message] = [
        {"role": "user", "content": presentation.shown_question(question)},
        {"role": "assistant", "content": presentation.reply(answer)},
    ]
    for source in dict.fromkeys(hit.source for hit in shown):  # each document once, in rank order
        ranked = [(rank, hit) for rank, hit in enumerate(shown, start=1) if hit.source == source]
        labels = [str(rank) if answer.found else "closest" for rank, _ in ranked]
        document = retriever.documents[source]
        view = presentation.document_view(document.text, [hit for _, hit in ranked], labels)
        title = f"Read it in the article: {presentation.escape(document.title)}"
        # A titled message is a collapsible block; "done" makes it start collapsed.
        messages.append(
            {"role": "assistant", "content": view, "metadata": {"title": title, "status": "done"}}
        )
    return messages


def search_passages(retriever: qa.Retriever, question: str, k: int) -> list[dict[str, Any]]:
    """The ``search`` endpoint's work; errors become messages the caller sees."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise gr.Error(f"k must be a whole number from 1 to {MAX_K}, got {k!r}.")
    try:
        hits = retriever.search(question, k)
    except (TypeError, ValueError) as exc:
        raise gr.Error(f"{str(exc)[:1].upper()}{str(exc)[1:]}") from None
    return [hit.to_dict() for hit in hits]


def build_app(retriever: qa.Retriever) -> gr.Blocks:
    """The chat page and the ``search`` endpoint over ``retriever`` (loaded once, shared)."""
    # The chat and the endpoint are separate Gradio events and may run at once; one
    # model (and its tokenizer, which is not thread-safe) serves both, one at a time.
    lock = threading.Lock()

    def chat(message: str, history: list[Message]) -> tuple[str, list[Message]]:
        """Answer one question about the article, on its own."""
        with lock:
            return respond(retriever, message, history)

    def search(question: str, k: int = DEFAULT_K) -> list[dict[str, Any]]:
        """Find the passages of the news article that answer a question, best first.

        Every passage is quoted word for word from the article; nothing is generated.

        Args:
            question: the question, in plain words, e.g. "How many troops does the UN have in Mali?"
            k: how many passages to return, from 1 to 20 (3 is a good default)

        Returns:
            Passages, best first: text, answer (its best sentence), score (0 to 1), source,
            title, start and end (offsets in the article), paragraph of paragraphs.
        """
        with lock:
            return search_passages(retriever, question, k)

    titles = sorted({document.title for document in retriever.documents.values()})
    with gr.Blocks(title="qa: ask the article", analytics_enabled=False) as demo:
        gr.Markdown("# Ask the article\n\n" + presentation.describe(titles))
        chatbot = gr.Chatbot(
            label="Answers quoted from the article",
            height=560,
            latex_delimiters=[],  # "$" in an article is money, not mathematics
            allow_tags=False,  # no HTML tag passes through unescaped
            buttons=[],  # a copy button would copy Markdown escapes, not the quote
            feedback_options=None,
            placeholder="Ask a question below, or click an example.",
        )
        textbox = gr.Textbox(
            placeholder="Ask a question about the article, then press Enter",
            label="Question",
            show_label=False,
            submit_btn="Ask",
            autofocus=True,
            max_lines=6,
        )
        # The chat endpoint stays callable (gradio_client, api_name="/chat") but is left
        # out of the API page and the MCP tools: programs and assistants call `search`.
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
        gr.api(search, api_name="search")
    demo.queue(default_concurrency_limit=1, max_size=QUEUE_MAX_SIZE)
    return demo


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
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "faiss", "sentence_transformers", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    retriever = load_retriever()
    retriever.search(EXAMPLES[0], k=1)  # load the model now, not on the first question
    demo = build_app(retriever)
    # No server_name/server_port here: Gradio reads GRADIO_SERVER_NAME (default
    # 127.0.0.1) and GRADIO_SERVER_PORT (default 7860) itself.
    demo.launch(mcp_server=True)


if __name__ == "__main__":
    main()
