"""Helpers shared by the tests of the chat: what a message says, and which HTML tags
its Markdown would render."""

from __future__ import annotations

import re
from typing import Any

from markdown_it import MarkdownIt

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
