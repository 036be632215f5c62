"""Helpers shared by the tests of the chat: what a message says, which HTML tags its
Markdown would render, and an article written to inject HTML."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

import qa

# Gradio's chat renders messages as CommonMark with raw HTML, tables and strikethrough.
MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def text_of(message: dict[str, Any]) -> str:
    """A message's text, whether it is a plain string or Gradio 6's typed blocks."""
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content)


def tags_in(markdown: str) -> set[str]:
    """The HTML tags ``markdown`` renders to."""
    return set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", MARKDOWN.render(markdown)))


# An article whose title and text are markup that would run if a reply rendered it.
HOSTILE_ARTICLE = (
    "<script>window.__pwned=1</script> Hostile <b>headline</b>\n"
    'The UN troops <img src=x onerror="window.__pwned=1"> said **nothing** here at all.\n'
)


def with_hostile_article(corpus: Path, embedder: Any, cache: Path) -> qa.Retriever:
    """The corpus in ``corpus`` plus ``HOSTILE_ARTICLE`` as hostile.txt, indexed in
    ``cache`` with ``embedder``."""
    (corpus / "hostile.txt").write_text(HOSTILE_ARTICLE, encoding="utf-8")
    return qa.Retriever.from_corpus(corpus, embedder=embedder, cache_dir=cache)
