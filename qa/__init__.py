"""qa: answer questions about news articles by quoting them.

import qa
retriever = qa.Retriever.from_corpus("corpus")
hits = retriever.search("How many French soldiers are in the Sahel?", k=3)
answer = retriever.ask("Who won the World Cup?")   # answer.found is False
"""

from qa.api import ask, search
from qa.chunking import ChunkingConfig
from qa.corpus import CorpusError
from qa.embedding import ModelError, SentenceTransformerEmbedder
from qa.retriever import Retriever
from qa.types import Answer, Document, Hit, Passage

__all__ = [
    "Answer",
    "ChunkingConfig",
    "CorpusError",
    "Document",
    "Hit",
    "ModelError",
    "Passage",
    "Retriever",
    "SentenceTransformerEmbedder",
    "ask",
    "search",
]
__version__ = "0.1.0"
