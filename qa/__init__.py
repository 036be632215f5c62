"""qa: answer questions about news articles by quoting them.

    import qa
    retriever = qa.Retriever.from_corpus("corpus")
    hits = retriever.search("How many French soldiers are in the Sahel?", k=3)
    answer = retriever.ask("Who won the World Cup?")   # answer.found is False
    answer = retriever.ask("And the UN?", history=["How many French soldiers are in the Sahel?"])
    mine = qa.Retriever.from_texts({"notes.txt": "Bakery news\\nThe bakery sells bread."})

The stages behind ``Retriever`` are subpackages: ``qa.ingest`` (documents in),
``qa.index`` (vectors and BM25), ``qa.answer`` (a question to an answer), ``qa.serve``
(the web app, HTTP API and MCP tools) and ``qa.evaluation`` (``qa eval``).
"""

from qa.answer.conversation import read_in_context
from qa.index.embedder import ModelError
from qa.ingest.chunking import ChunkingConfig
from qa.ingest.corpus import CorpusError
from qa.ingest.extraction import DocumentError
from qa.retriever import Retriever
from qa.shortcuts import ask, search
from qa.types import Answer, Document, Hit, Quote

__all__ = [
    "Answer",
    "ChunkingConfig",
    "CorpusError",
    "Document",
    "DocumentError",
    "Hit",
    "ModelError",
    "Quote",
    "Retriever",
    "ask",
    "read_in_context",
    "search",
]
__version__ = "0.1.0"
