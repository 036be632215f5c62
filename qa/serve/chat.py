"""One turn of the web chat: what the person typed or brought in, the messages out.

Plain functions over a ``SessionStore``, with no Gradio in them, so the app's handlers
are one line each and everything here is tested without a browser. A session is one
browser tab (Gradio's session hash): its own documents, and its own earlier questions,
which a follow-up leans on ("And France?" after "How many troops does the UN have in
Mali?"). Messages are Gradio's chat messages: ``{"role": ..., "content": ...}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from qa.ingest.extraction import DocumentError
from qa.limits import DEFAULT_K, Progress
from qa.serve import presentation
from qa.serve.documents import DocumentInfo, shown_name
from qa.serve.sessions import SessionStore
from qa.types import Document

Message = dict[str, Any]
# Earlier questions kept for reading follow-ups: the last few are all a follow-up leans on.
HISTORY = 8
# A message that is a link alone, maybe after a verb: the article to add, not a question.
_LINK_MESSAGE = re.compile(
    r"\s*(?:(?:ask|read|add|open|summari[sz]e)\b\s*:?\s*)?<?([a-z][a-z0-9+.-]*://[^\s<>]+)>?\s*\Z",
    re.IGNORECASE,
)


def respond(
    store: SessionStore,
    session: str,
    question: str,
    history: Sequence[Message],
    scope: str = "both",
    example: str = "",
    progress: Progress | None = None,
) -> list[Message]:
    """The chat after ``question``, which is read in the light of the person's earlier
    questions in ``history`` (a follow-up). ``history`` is copied, never changed. A
    message that is a link alone ("https://...", or "ask https://...") adds the article
    at that link to the session instead (``link_of``)."""
    if not question.strip():
        if history and _text(history[-1]).startswith(presentation.HINT):
            return list(history)  # the hint is already the last thing said
        return [*history, {"role": "assistant", "content": presentation.hint(example)}]
    if (link := link_of(question)) is not None:
        return [*history, *add_link(store, session, link, progress)]
    answer = store.ask(session, question, DEFAULT_K, earlier_questions(history), scope)
    documents = _documents(store, session, scope)
    asked = _asked(scope, len(store.documents(session)))
    messages = [
        {"role": "user", "content": presentation.shown_question(question)},
        {"role": "assistant", "content": presentation.reply(answer, documents, asked)},
    ]
    return [*history, *messages]


def link_of(message: str) -> str | None:
    """The link when ``message`` is one alone, maybe after "ask", "read", "add" or
    "summarise" ("ask https://news.example.org/story"); None for anything else, so a
    question that mentions a link is still a question. Any scheme counts (a pasted
    "file:///..." is refused in words by the fetcher, not searched for)."""
    match = _LINK_MESSAGE.match(message)
    return match.group(1) if match else None


def add_link(
    store: SessionStore, session: str, link: str, progress: Progress | None = None
) -> list[Message]:
    """Fetch the article at ``link`` into the session: the link as the person's
    message, then that it was added with what it is about, or why not."""
    said = [{"role": "user", "content": presentation.shown_question(link)}]
    try:
        info = store.add_url(session, link, progress=progress)
    except DocumentError as exc:
        said.append({"role": "assistant", "content": presentation.refused(link, str(exc))})
    else:
        said.append({"role": "assistant", "content": _added(store, session, info)})
    return said


def earlier_questions(history: Sequence[Message]) -> list[str]:
    """The person's questions in ``history``, oldest first, as typed (the last few)."""
    said = [presentation.question_of(_text(m)) for m in history if m.get("role") == "user"]
    return [q for q in said if link_of(q) is None][-HISTORY:]  # a link is not a question


def add_files(
    store: SessionStore,
    session: str,
    paths: Sequence[str | Path],
    history: Sequence[Message],
    progress: Progress | None = None,
) -> list[Message]:
    """Add uploaded files to the session; one message says what became of each."""
    said = []
    for path in paths:
        name = shown_name(Path(path).name)
        try:
            info = store.add_file(session, path, name=name, progress=progress)
        except DocumentError as exc:
            said.append(presentation.refused(name, str(exc)))
        else:
            said.append(_added(store, session, info))
    if not said:
        return list(history)
    return [*history, {"role": "assistant", "content": "\n\n".join(said)}]


def add_text(
    store: SessionStore,
    session: str,
    text: str,
    history: Sequence[Message],
    progress: Progress | None = None,
) -> tuple[list[Message], bool]:
    """Add pasted text to the session, and say so (or why not) in the chat; whether it
    was added (so the app clears the paste box only then)."""
    try:
        info = store.add_text(session, text, progress=progress)
    except DocumentError as exc:
        said, added = presentation.refused("The pasted text", str(exc)), False
    else:
        said, added = _added(store, session, info), True
    return [*history, {"role": "assistant", "content": said}], added


def remove(
    store: SessionStore, session: str, name: str | None, history: Sequence[Message]
) -> list[Message]:
    """Remove the session's document ``name`` and say so in the chat (or that no
    document was chosen, or that it is gone already)."""
    if not name:
        said = "Choose one of your documents to remove first."
    else:
        try:
            store.remove(session, name)
        except KeyError:
            said = f"{presentation.escape(name)} is not among your documents any more."
        else:
            said = f"Removed **{presentation.escape(name)}**: it is no longer asked."
    return [*history, {"role": "assistant", "content": said}]


def listing(store: SessionStore, session: str) -> str:
    """The session's documents, for the panel where they are added (Markdown)."""
    return presentation.listing(store.documents(session))


def _added(store: SessionStore, session: str, info: DocumentInfo) -> str:
    """That a document was added, then what it is about (its "In brief" card): the
    first reply about it."""
    try:
        retriever = store.retriever(session, "mine")
    except DocumentError:  # gone already (the session swept): the note alone
        return presentation.added(info)
    brief = presentation.reply(retriever.overview([info.name]), retriever.documents)
    return presentation.added(info) + "\n\n" + brief


def _asked(scope: str, own: int) -> str:
    """What a question of this ``scope`` searched, in words, with ``own`` documents of
    the person's: for the heading of "not in ..."."""
    mine = "your document" if own == 1 else "your documents"
    if scope == "mine":
        return mine
    if scope == "both" and own:
        return f"the article or {mine}"
    return "the article"


def _documents(store: SessionStore, session: str, scope: str) -> Mapping[str, Document]:
    """The documents an answer may quote, for showing them whole."""
    try:
        return store.retriever(session, scope).documents
    except DocumentError:  # "mine" with no document yet: the answer says so
        return {}


def _text(message: Message) -> str:
    content = message.get("content", "")
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content if isinstance(block, dict))
