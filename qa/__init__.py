"""qa: answer questions about news articles by quoting them.

import qa
retriever = qa.Retriever.from_corpus("corpus")
hits = retriever.search("How many French soldiers are in the Sahel?", k=3)
answer = retriever.ask("Who won the World Cup?")   # answer.found is False
answer = retriever.ask("And the UN?", history=["How many French soldiers are in the Sahel?"])
mine = qa.Retriever.from_texts({"notes.txt": "Bakery news\nThe bakery sells bread."})
"""

from qa.answer.conversation import read_in_context
from qa.index.torch_encoder import ModelError, SentenceTransformerEmbedder
from qa.ingest.chunking import ChunkingConfig
from qa.ingest.corpus import CorpusError
from qa.ingest.extraction import DocumentError
from qa.retriever import Retriever
from qa.serve.sessions import DocumentInfo, Limits, SessionStore
from qa.shortcuts import ask, search
from qa.types import Answer, Document, Hit, Passage

__all__ = [
    "Answer",
    "ChunkingConfig",
    "CorpusError",
    "Document",
    "DocumentError",
    "DocumentInfo",
    "Hit",
    "Limits",
    "ModelError",
    "Passage",
    "Retriever",
    "SentenceTransformerEmbedder",
    "SessionStore",
    "ask",
    "read_in_context",
    "search",
]
__version__ = "0.1.0"
