"""How an answer looks in the chat: the article's own words, the answer first.

A reply reads like a search engine's featured snippet: one answer card up front (the
answer sentence quoted, its key phrase marked, where it stands and how strong the
match is in words), then the passages that support it, compactly, with the article's
title said once, then the whole article one click away with those passages marked in
place. When the match is weak the card says so ("The closest the article comes
is ..."), and when the article does not answer it says that plainly and offers the
closest passage as *not* an answer.

The reply is HTML, built here as one block with no blank line inside, so the chat's
Markdown renderer passes it through untouched. Every character that comes from the
corpus or from the person goes through ``html.escape``; the only tags are the ones
written in this module. The person's question is shown as Markdown (``escape``), which
renders as exactly the characters typed.

    >>> escape("<b>12,000</b> *troops*")
    '&lt;b&gt;12,000&lt;/b&gt; \\\\*troops\\\\*'
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

from qa.answer.answering import answer_label, match_label
from qa.types import Answer, Document, Hit, Overview, Quote

if TYPE_CHECKING:
    from qa.serve.documents import DocumentInfo

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
# A document longer than this is shown around its hits only, VIEW_CONTEXT paragraphs
# on either side (an article of 2,000 words is about 12,000 characters).
ARTICLE_VIEW_CHARS = 12_000
VIEW_CONTEXT = 2
# The hint for an empty question, and its start, by which the chat knows it.
HINT = "Type a question about the article and press Enter, for example: "


# ---- Markdown, for the person's question and the page header -------------------------


def escape(text: str) -> str:
    """``text`` as Markdown that renders as exactly these characters.

    Line breaks are kept; the spaces that start a line are dropped (four of them
    would make a code block).
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(_escape_inline(line.lstrip(" \t")) for line in lines)


def _escape_inline(text: str) -> str:
    """Escape one line, or a piece of one, wherever it will stand in its line."""
    out = "".join(_ENTITIES.get(c) or ("\\" + c if c in _INLINE else c) for c in text)
    if start := _BLOCK_START.match(out):
        cut = start.end() - 1  # escape the marker's last character: "\#", "2022\."
        out = out[:cut] + "\\" + out[cut:]
    return out


_ESCAPED = re.compile(r"\\([\\`*_\[\]|~$#+=\-.)])")


def question_of(shown: str) -> str:
    """The question a chat bubble shows, back as it was typed: ``shown_question``
    undone (for a shortened one, its first part). The chat's history is where the
    conversation's earlier questions are kept, so follow-ups need no other state."""
    text = re.sub(r" … \*\(shown shortened: [\d,]+ characters in all\)\*$", "", shown)
    return html.unescape(_ESCAPED.sub(r"\1", text))


def shown_question(question: str) -> str:
    """The question for its chat bubble: escaped, and shortened when very long."""
    if len(question) <= SHOWN_QUESTION_CHARS:
        return escape(question)
    return (
        escape(question[:SHOWN_QUESTION_CHARS])
        + f" … *(shown shortened: {len(question):,} characters in all)*"
    )


def describe(titles: Sequence[str], shown: int = 3) -> str:
    """What the bot knows and what it does, for the top of the page (Markdown)."""
    names = [f"**{escape(t)}**" for t in titles[:shown]]
    if len(titles) > shown:
        names.append(f"{len(titles) - shown} more")
    what = names[0] if len(titles) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    article = "the article" if len(titles) == 1 else f"{len(titles)} articles:"
    return (
        f"Ask a question about {article} {what}. "
        "Every answer is quoted from the article, word for word, with the words that answer "
        "marked and where they stand. Nothing is made up: when the article does not say, "
        "you are told so."
    )


def hint(example: str) -> str:
    """What an empty question gets: how to ask, with an example (Markdown)."""
    return f"{HINT}*{escape(example)}*"


def added(info: DocumentInfo) -> str:
    """A document was added: what it is, how big, how long it took (Markdown)."""
    note = f" {escape(info.note)}" if info.note else ""
    return (
        f"Added **{escape(info.name)}** ({escape(info.title)}): {info.words:,} words, "
        f"{info.passages:,} passage{'s' if info.passages != 1 else ''}, in "
        f"{info.seconds:.1f} s.{note} Ask about it below."
    )


def refused(name: str, message: str) -> str:
    """A document could not be added, and why (Markdown)."""
    return f"Could not add **{escape(name)}**: {escape(message)}"


def listing(infos: Sequence[DocumentInfo]) -> str:
    """The session's own documents, one line each (Markdown)."""
    if not infos:
        return "No document of yours yet."
    lines = [f"- **{escape(i.name)}**: {escape(i.title)} ({i.words:,} words)" for i in infos]
    return "Your documents (this tab only):\n\n" + "\n".join(lines)


# ---- HTML, for the reply -------------------------------------------------------------


def _h(text: str) -> str:
    return html.escape(text, quote=True)


@dataclass(frozen=True)
class Mark:
    """Wrap ``text[start:end]`` in ``open``/``close`` (trusted markup, not escaped)."""

    start: int
    end: int
    open: str
    close: str


def render_paragraphs(
    text: str, marks: Sequence[Mark] = (), labels: Mapping[int, str] | None = None
) -> list[str]:
    """Each non-blank line of ``text`` as escaped HTML, with the marks applied.

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
            piece = _h(text[a:b])
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


def strength(score: float, confident: bool | None = None) -> str:
    """How well a passage matches, in words first: "strong match (0.73)". With
    ``confident`` given, the label of an answer (``answering.answer_label``): a match
    that is not confident is at most a "weak match"."""
    label = match_label(score) if confident is None else answer_label(score, confident)
    return f"{label} ({score:.2f})"


def reply(answer: Answer, documents: Mapping[str, Document], asked: str = "") -> str:
    """The chat's answer as one HTML block: the answer card, the passages that support
    it, and each article with them marked in place (collapsed). ``asked`` names what
    was searched, for a refusal's heading ("your documents"); by default "the article",
    or "the articles" when there are several."""
    if answer.kind == "overview":
        return overview_reply(answer, documents)
    if answer.kind == "not_english":
        return not_english_reply(answer)
    read_as = answer.read_as if answer.read_as not in ("", answer.question) else ""
    if answer.found and answer.answer is not None:
        shown = answer.passages[: max(answer.answering, 1)]
        card = _card(answer.answer, answer.confident, read_as)
        parts = [card, _supporting(shown, answer.answer, answer.confident)]
        labels = [f"{rank}" for rank in range(1, len(shown) + 1)]
    else:
        shown = answer.passages[:1]
        asked = asked or ("the article" if len(documents) <= 1 else "the articles")
        parts = [_not_found(answer.message, read_as, bool(shown), asked), _closest(shown)]
        labels = ["closest"] * len(shown)
    parts.extend(_article_views(shown, labels, documents, answer.answer))
    return '<div class="qa-reply">' + "".join(parts) + "</div>"


def _read_as(read_as: str) -> str:
    """How a follow-up was understood, so the person sees what was searched."""
    return f'<p class="qa-readas">Read as: “{_h(read_as)}”</p>' if read_as else ""


def _card(quote: Quote, confident: bool, read_as: str = "") -> str:
    """The answer up front: the sentence quoted, its key phrase marked, then [1] with
    where it stands and how strong the match is."""
    if confident:
        lead, kind = "Answer from the article", "qa-card"
    else:
        lead = "Not said in so many words. The closest the article comes is:"
        kind = "qa-card qa-uncertain"
    before, key, after = quote.around_key()
    body = _h(before) + (f'<mark class="qa-key">{_h(key)}</mark>' if key else "") + _h(after)
    cite = (
        f'<span class="qa-n">[{quote.passage}]</span> '
        f"paragraph {quote.paragraph} of {quote.paragraphs} · "
        f"{_h(strength(quote.score, confident))}"
    )
    return (
        f'<section class="{kind}">{_read_as(read_as)}<p class="qa-lead">{_h(lead)}</p>'
        f'<blockquote class="qa-quote"><p>“{body}”</p></blockquote>'
        f'<p class="qa-cite">{cite}</p></section>'
    )


def _supporting(hits: Sequence[Hit], quote: Quote, confident: bool = True) -> str:
    """The passages that answer, numbered, compact, the document named once when they
    share one; in the first, the sentence the card quotes is not repeated."""
    one_document = len({hit.source for hit in hits}) == 1
    items = []
    for rank, hit in enumerate(hits, start=1):
        if rank == quote.passage:
            # The card quotes this passage's answer sentence: here only what stands
            # around it, with a pointer in its place, so nothing is read twice.
            before, after = hit.text[: hit.answer_start], hit.text[hit.answer_end :]
            if not (before.strip() or after.strip()) and len(hits) == 1:
                continue  # the card already shows all of it
            text = " ".join(
                [
                    *render_paragraphs(before),
                    '<span class="qa-elided">[the answer, quoted above]</span>',
                    *render_paragraphs(after),
                ]
            )
        else:
            text = " ".join(render_paragraphs(hit.text))
        where = f"paragraph {hit.paragraph} · {_h(answer_label(hit.score, confident))}"
        if not one_document:
            where += f" · {_document_name(hit)}"
        items.append(
            f'<li><span class="qa-n">[{rank}]</span> <span class="qa-where">{where}</span> '
            f"{text}</li>"
        )
    source = f'<p class="qa-from">From {_document_name(hits[0])}</p>' if one_document else ""
    listing = f'<ol class="qa-passages">{"".join(items)}</ol>' if items else ""
    return source + listing


def _not_found(
    message: str, read_as: str = "", closest: bool = True, asked: str = "the article"
) -> str:
    lead = f"Not in {asked}" if closest else "No answer"
    return (
        f'<section class="qa-card qa-none">{_read_as(read_as)}<p class="qa-lead">{lead}</p>'
        f"<p>{_h(message)}</p></section>"
    )


def _closest(hits: Sequence[Hit]) -> str:
    """The closest passage, offered as not an answer, without emphasis."""
    if not hits:
        return ""
    hit = hits[0]
    text = " ".join(render_paragraphs(hit.text))
    return (
        f'<p class="qa-from">Closest passage, not an answer · paragraph {hit.paragraph} of '
        f"{hit.paragraphs} · {_document_name(hit)}</p>"
        f'<blockquote class="qa-closest"><p>{text}</p></blockquote>'
    )


def _document_name(hit: Hit) -> str:
    return f'<cite>{_h(hit.title)}</cite> <span class="qa-file">({_h(hit.source)})</span>'


def _article_views(
    hits: Sequence[Hit],
    labels: Sequence[str],
    documents: Mapping[str, Document],
    quote: Quote | None,
) -> Iterator[str]:
    """Each document the hits come from (in rank order), whole, in a collapsed block
    that opens at its first highlight."""
    for source in dict.fromkeys(hit.source for hit in hits):
        document = documents.get(source)
        if document is None:
            continue
        mine = [i for i, hit in enumerate(hits) if hit.source == source]
        view = document_view(
            document.text, [hits[i] for i in mine], [labels[i] for i in mine], quote
        )
        yield (
            '<details class="qa-article"><summary>Read it in the article: '
            f"<cite>{_h(document.title)}</cite></summary>"
            f'<div class="qa-doc">{view}</div></details>'
        )


def document_view(
    text: str, hits: Sequence[Hit], labels: Sequence[str], quote: Quote | None = None
) -> str:
    """A document as HTML paragraphs, each hit highlighted in place and labelled, the
    answer sentence (``quote``, when it is from this document) in bold.

    A long document (over ``ARTICLE_VIEW_CHARS``) shows only the paragraphs around the
    hits, the rest cut to "[…]": every reply carries its view, and the chat sends its
    whole history back and forth on every question.
    ``hits`` must come from this document (``text[hit.start:hit.end] == hit.text``).
    """
    marks: list[Mark] = []
    starts: dict[int, str] = {}
    for rank, (hit, label) in enumerate(zip(hits, labels, strict=True)):
        kind = "qa-passage qa-first" if rank == 0 else "qa-passage"  # the view opens there
        marks.append(Mark(hit.start, hit.end, f'<mark class="{kind}">', "</mark>"))
        starts[hit.start] = starts.get(hit.start, "") + f'<span class="qa-n">[{_h(label)}]</span> '
    if quote is not None and hits and quote.source == hits[0].source:
        marks.append(Mark(quote.start, quote.end, "<b>", "</b>"))
    paragraphs = render_paragraphs(text, marks, starts)
    if len(text) <= ARTICLE_VIEW_CHARS:
        return "".join(f"<p>{p}</p>" for p in paragraphs)
    spans = list(_line_spans(text))
    near = {
        j
        for i, (start, end) in enumerate(spans)
        if any(hit.start < end and start < hit.end for hit in hits)
        for j in range(i - VIEW_CONTEXT, i + VIEW_CONTEXT + 1)
    }
    out, last = [], -1
    for i, paragraph in enumerate(paragraphs):
        if i in near:
            if i != last + 1:
                out.append('<p class="qa-gap">[…]</p>')
            out.append(f"<p>{paragraph}</p>")
            last = i
    if last != len(paragraphs) - 1:
        out.append('<p class="qa-gap">[…]</p>')
    return "".join(out)


# ---- An overview, and a question not in English ----------------------------------------


def overview_reply(answer: Answer, documents: Mapping[str, Document]) -> str:
    """The "In brief" card: per document, its lead and most central sentences quoted in
    the article's order, numbered, each with where it stands; then each article with
    them marked in place under the same numbers (collapsed)."""
    briefs = "".join(_brief(o) for o in answer.overview) or f"<p>{_h(answer.message)}</p>"
    parts = [
        f'<section class="qa-card qa-brief"><p class="qa-lead">In brief</p>{briefs}'
        '<p class="qa-cite">The lead, then the sentences most central to the article '
        "(LexRank), in the article's order.</p></section>"
    ]
    for o in answer.overview:
        hits = [_sentence_hit(o, s.text, s.start, s.end, s.paragraph) for s in o.sentences]
        labels = [str(n) for n in range(1, len(hits) + 1)]
        parts.extend(_article_views(hits, labels, documents, None))
    return '<div class="qa-reply">' + "".join(parts) + "</div>"


def _brief(overview: Overview) -> str:
    """One document in brief: its name, then its sentences, numbered, each with its
    paragraph."""
    items = "".join(
        f'<li><span class="qa-n">[{n}]</span> <span class="qa-where">'
        f"{'the lead · ' if s.lead else ''}paragraph {s.paragraph} of {s.paragraphs}</span> "
        f"{_h(s.text)}</li>"
        for n, s in enumerate(overview.sentences, start=1)
    )
    title = (
        f'<cite>{_h(overview.title)}</cite> <span class="qa-file">({_h(overview.source)})</span>'
    )
    return f'<p class="qa-from">From {title}</p><ol class="qa-passages qa-brief-list">{items}</ol>'


def _sentence_hit(overview: Overview, text: str, start: int, end: int, paragraph: int) -> Hit:
    """A sentence of an overview as a hit of its own, to mark it in its article."""
    return Hit(
        text, 1.0, overview.source, overview.title, start, end, text, 0, len(text), paragraph
    )


def not_english_reply(answer: Answer) -> str:
    """A question not in English: said plainly, with nothing quoted as an answer."""
    language = f"Not in English: {answer.language}" if answer.language else "Not in English"
    return (
        '<div class="qa-reply"><section class="qa-card qa-none qa-language">'
        f'<p class="qa-lead">{_h(language)}</p><p>{_h(answer.message)}</p></section></div>'
    )
