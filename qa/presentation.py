"""How results look in the chat: Markdown that shows the article's words exactly.

The chat renders Markdown and a little HTML, so every character that comes from the
corpus or from the person typing goes through ``escape``: a question or a document
holding ``<script>``, ``<img onerror=...>``, ``**`` or ``# heading`` shows as those
characters, never as markup. The only tags in the output are the few written here
(``<mark>``, ``<strong>``), wrapped around escaped text.

    >>> escape("<b>12,000</b> *troops*")
    '&lt;b&gt;12,000&lt;/b&gt; \\\\*troops\\\\*'
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise

from qa.answering import match_label
from qa.types import Answer, Hit

# Replaced by entities, so no HTML tag or entity can come from the text.
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# Markdown punctuation that means something anywhere in a line: backslash-escaped
# (CommonMark renders a backslash-escaped punctuation character as itself).
_INLINE = frozenset("\\`*_[]|~$")
# What starts a heading, quote, list, rule or setext underline at the start of a line.
_BLOCK_START = re.compile(r"[#+=\-]|\d{1,9}[.)]")
# A question is shown in its chat bubble up to this many characters: a pasted book
# would otherwise travel back and forth with every follow-up question.
SHOWN_QUESTION_CHARS = 2_000


def escape(text: str) -> str:
    """``text`` as Markdown that renders as exactly these characters.

    Line breaks are kept; the spaces that start a line are dropped (four of them
    would make a code block).
    """
    return "\n".join(_escape_inline(line.lstrip(" \t")) for line in text.split("\n"))


def _escape_inline(text: str) -> str:
    """Escape one line, or a piece of one, wherever it will stand in its line."""
    out = "".join(_ENTITIES.get(c) or ("\\" + c if c in _INLINE else c) for c in text)
    if start := _BLOCK_START.match(out):
        cut = start.end() - 1  # escape the marker's last character: "\#", "2022\."
        out = out[:cut] + "\\" + out[cut:]
    return out


@dataclass(frozen=True)
class Mark:
    """Wrap ``text[start:end]`` in ``open``/``close`` (trusted markup, not escaped)."""

    start: int
    end: int
    open: str
    close: str


def render_paragraphs(
    text: str, marks: Sequence[Mark] = (), labels: dict[int, str] | None = None
) -> list[str]:
    """Each non-blank line of ``text`` as escaped Markdown, with the marks applied.

    A mark that spans lines is closed at each line end and reopened on the next, so
    no tag is left open across paragraphs. ``labels`` maps an offset of ``text`` to
    markup put just before it (e.g. a passage number).
    """
    labels = labels or {}
    cuts = {c for m in marks for c in (m.start, m.end)} | set(labels)
    paragraphs = []
    for start, end in _line_spans(text):
        points = [start, *sorted(c for c in cuts if start < c < end), end]
        pieces = []
        for a, b in pairwise(points):
            piece = _escape_inline(text[a:b])
            for mark in reversed([m for m in marks if m.start <= a and b <= m.end]):
                piece = f"{mark.open}{piece}{mark.close}"
            pieces.append(labels.get(a, "") + piece)
        paragraphs.append("".join(pieces))
    return paragraphs


def _line_spans(text: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each line's content, without surrounding whitespace."""
    for match in re.finditer(r"[^\n]+", text):
        content = match.group().strip()
        if content:
            start = match.start() + match.group().index(content)
            yield start, start + len(content)


def strength(score: float) -> str:
    """How well a passage matches, in words first: "strong match (0.73)"."""
    return f"{match_label(score)} ({score:.2f})"


def where(hit: Hit) -> str:
    """Where a passage stands: "paragraph 11 of 15 · Title (source.txt)"."""
    document = f"{escape(hit.title)} ({escape(hit.source)})"
    return f"paragraph {hit.paragraph} of {hit.paragraphs} · {document}"


def quote(hit: Hit, *, mark_answer: bool = True) -> str:
    """The passage as a block quote, the sentence that answers in bold."""
    marks = [Mark(hit.answer_start, hit.answer_end, "<strong>", "</strong>")] if mark_answer else []
    return "\n>\n".join(f"> {line}" for line in render_paragraphs(hit.text, marks))


def reply(answer: Answer) -> str:
    """The chat's answer: the passages, best first; or plainly that the corpus does not say."""
    if not answer.found:
        parts = [escape(answer.message)]
        if answer.passages:
            closest = answer.passages[0]
            parts.append(
                f"**Closest passage, not an answer** · {where(closest)}\n\n"
                + quote(closest, mark_answer=False)
            )
        return "\n\n".join(parts)
    count = len(answer.passages)
    parts = [
        f"{count} passage{'s' if count != 1 else ''} from the article, best first; "
        "the sentence that answers is in **bold**."
    ]
    for rank, hit in enumerate(answer.passages, start=1):
        parts.append(f"**{rank}** · *{strength(hit.score)}* · {where(hit)}\n\n{quote(hit)}")
    return "\n\n".join(parts)


def document_view(text: str, hits: Sequence[Hit], labels: Sequence[str]) -> str:
    """A whole document with each hit highlighted in place and labelled, its answer in bold.

    ``hits`` must come from this document (``text[hit.start:hit.end] == hit.text``).
    """
    marks: list[Mark] = []
    starts: dict[int, str] = {}
    for hit, label in zip(hits, labels, strict=True):
        answer_start, answer_end = hit.start + hit.answer_start, hit.start + hit.answer_end
        marks.append(Mark(hit.start, hit.end, "<mark>", "</mark>"))
        marks.append(Mark(answer_start, answer_end, "<strong>", "</strong>"))
        starts[hit.start] = starts.get(hit.start, "") + f"<strong>\\[{escape(label)}\\]</strong> "
    return "\n\n".join(render_paragraphs(text, marks, starts))


def shown_question(question: str) -> str:
    """The question for its chat bubble: escaped, and shortened when very long."""
    if len(question) <= SHOWN_QUESTION_CHARS:
        return escape(question)
    return (
        escape(question[:SHOWN_QUESTION_CHARS])
        + f" … *(shown shortened: {len(question):,} characters in all)*"
    )


def describe(titles: Sequence[str], shown: int = 3) -> str:
    """What the bot knows and what it does, for the top of the page."""
    names = [f"**{escape(t)}**" for t in titles[:shown]]
    if len(titles) > shown:
        names.append(f"{len(titles) - shown} more")
    what = names[0] if len(titles) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    article = "the article" if len(titles) == 1 else f"{len(titles)} articles:"
    return (
        f"Ask a question about {article} {what}.\n\n"
        "Every answer is quoted from the article, word for word: the passages that answer, "
        "best first, with the answering sentence in bold and where each one stands. "
        "Nothing is made up. When the article does not say, the bot tells you so."
    )
