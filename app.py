"""The web app: a chat that answers from the article, its HTTP API, and its MCP tools.

``python app.py`` (or ``make run``) serves it on http://127.0.0.1:7860;
``GRADIO_SERVER_NAME`` and ``GRADIO_SERVER_PORT`` change that (Hugging Face Spaces
sets them). Three surfaces, one ``qa.Retriever`` and one JSON shape:

- the chat (``/``): each reply opens with the answer, quoted from the article;
- the HTTP API (``/gradio_api/...``, gradio_client): ``ask`` returns
  ``Answer.to_dict()``, ``search`` the passages (``Hit.to_dict()``);
- the MCP server (``/gradio_api/mcp/``): the same two as tools.

The page and its endpoints are built in ``qa.serve.web``, served with the MCP tools
by ``qa.serve.server``; this file only loads the article and starts them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import qa
from qa.serve.batching import model_threads
from qa.serve.server import serve
from qa.serve.web import EXAMPLES, build_app, served_port

HERE = Path(__file__).resolve().parent


def load_retriever() -> qa.Retriever:
    """The retriever over ``QA_CORPUS``, else the ``corpus`` folder beside this file."""
    return qa.Retriever.from_corpus(os.environ.get("QA_CORPUS") or HERE / "corpus")


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
    for noisy in ("httpx", "faiss", "sentence_transformers", "filelock", "mcp"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # One core for the web server, the others for the model (read when it loads).
    os.environ.setdefault("OMP_NUM_THREADS", str(model_threads()))
    retriever = load_retriever()
    retriever.search(EXAMPLES[0], k=1)  # load the model now, not on the first question
    serve(retriever, os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1", served_port())


if __name__ == "__main__":
    main()
