"""The small immutable records the pipeline stages pass to each other.

Every record that carries text also carries where that text stands in its document:
``document.text[start:end] == text`` always holds, so anything shown can be checked
against the source.

Each record is declared once, as a frozen dataclass. Its JSON (``to_dict``, the one
shape every surface returns) and the JSON schema's type (``PassageDict``,
``AnswerDict``: what the MCP tools and the HTTP API describe) are derived from its
fields by ``as_json`` and ``json_type``: a field with ``metadata={"json": False}`` is
left out, scores are rounded to 4 places, tuples become lists.
"""

from __future__ import annotations

import sys
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from typing import TYPE_CHECKING, Any

if sys.version_info >= (3, 12):
    from typing import TypedDict
else:  # pydantic (the MCP output schema) needs this one before 3.12; it comes with it
    from typing_extensions import TypedDict


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


@dataclass(frozen=True)
class Span:
    """A half-open character range ``[start, end)`` of a document's text."""

    start: int
    end: int


@dataclass(frozen=True, repr=False)
class Document:
    """One corpus file, decoded.

    ``text`` is the file's whole content as decoded from UTF-8 (a leading BOM removed);
    ``title_span`` locates the title inside it and ``body_spans`` the lines that may
    become passages (title, headings and boilerplate are excluded).
    """

    source: str
    text: str
    title: str
    content_hash: str
    title_span: Span | None = None
    body_spans: tuple[Span, ...] = ()
    headings: tuple[Span, ...] = ()

    def __repr__(self) -> str:
        return (
            f"Document(source={self.source!r}, title={_short(self.title)}, chars={len(self.text)})"
        )


@dataclass(frozen=True, repr=False)
class Passage:
    """A run of whole sentences from one document: the unit that is indexed and shown.

    ``text`` is exactly ``document.text[start:end]``. ``context`` is what is embedded
    in front of it (the title and section heading) but never shown as a quote.
    ``paragraph`` and ``paragraphs`` say where it stands: paragraph n of m (1-based).
    ``sentences`` are the sentence spans inside the passage, as document offsets.
    """

    text: str
    source: str
    title: str
    start: int
    end: int
    paragraph: int = 1
    paragraphs: int = 1
    context: str = ""
    sentences: tuple[Span, ...] = field(default=())

    def __repr__(self) -> str:
        return f"Passage({_short(self.text)}, source={self.source!r}, span={self.start}:{self.end})"


@dataclass(frozen=True, repr=False)
class Hit:
    """One search result: a passage, its score, and the sentence that answers.

    ``score`` is in [0, 1] and comparable across queries: see ``Retriever.search``.
    ``answer`` is one sentence of ``text`` (``text[answer_start:answer_end]``),
    and ``answer_start``/``answer_end`` are offsets into ``text``, not the document.
    """

    text: str
    score: float
    source: str
    title: str
    start: int
    end: int
    answer: str
    answer_start: int
    answer_end: int
    paragraph: int = 1
    paragraphs: int = 1

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, the shape the ``search`` endpoint returns (``PassageDict``)."""
        return as_json(self)

    def __repr__(self) -> str:
        return (
            f"Hit({_short(self.text)}, score={self.score:.3f}, source={self.source!r}, "
            f"span={self.start}:{self.end})"
        )


@dataclass(frozen=True, repr=False)
class Quote:
    """The sentence that answers, quoted from its document, with its key phrase.

    ``text == document.text[start:end]`` and ``key == document.text[key_start:key_end]``:
    the few words that are the answer ("about 12,000 troops"), of the ``kind`` the
    question asked for ("number", "time", "name", "place", "reason"); ``key`` is empty
    and ``kind`` None when the sentence as a whole is the answer. ``passage`` is the
    1-based rank, in ``Answer.passages``, of the passage the sentence comes from.
    """

    text: str
    key: str
    kind: str | None
    source: str
    title: str
    start: int
    end: int
    key_start: int
    key_end: int
    passage: int
    score: float
    paragraph: int = 1
    paragraphs: int = 1

    def around_key(self) -> tuple[str, str, str]:
        """The sentence cut around its key phrase: (before, key, after)."""
        start, end = self.key_start - self.start, self.key_end - self.start
        return self.text[:start], self.text[start:end], self.text[end:]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the ``answer`` of ``Answer.to_dict`` (``QuoteDict``)."""
        return as_json(self)

    def __repr__(self) -> str:
        return f"Quote({_short(self.text)}, key={self.key!r}, source={self.source!r})"


@dataclass(frozen=True)
class OverviewSentence:
    """A sentence of an overview, quoted: ``text == document.text[start:end]``.

    ``lead`` marks the document's lead (its first full sentence); ``centrality`` is the
    sentence's LexRank score times the number of sentences, so 1.0 is average
    (``qa.answer.overview``).
    """

    text: str
    start: int
    end: int
    paragraph: int
    paragraphs: int
    lead: bool = False
    centrality: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return as_json(self)


@dataclass(frozen=True)
class Overview:
    """One document in brief: its lead, then its most central sentences, in article
    order (``qa.answer.overview``)."""

    source: str
    title: str
    sentences: tuple[OverviewSentence, ...]

    def to_dict(self) -> dict[str, Any]:
        return as_json(self)


# What an answer is (``Answer.kind``): an answer to the question from the passages
# (found or not), an overview of the documents ("What is this article about?"), or a
# question not in English, which is not searched.
KINDS = ("answer", "overview", "not_english")


@dataclass(frozen=True)
class Answer:
    """What ``Retriever.ask`` returns: whether the corpus answers, the answer, and words.

    When ``found`` is True, ``answer`` is the sentence shown first, quoted with its key
    phrase, and the first ``answering`` passages are the ones that answer (the rest are
    only related); ``confident`` is False when even the best passage is a weak match,
    so a UI says "the closest the article comes is ...". ``read_as`` is the question
    that was searched: a follow-up completed from the conversation's earlier
    questions, else ``question`` itself. When ``found`` is False,
    ``answer`` is None and ``passages`` may still hold the closest passages, for a UI
    to offer as not an answer.

    ``kind`` says what the reply is (``KINDS``): ``"answer"`` as above; ``"overview"``
    for a question about the whole article ("What is this article about?",
    "Summarize"): ``found`` and ``confident`` are True, ``answer`` is None, and
    ``overview`` holds each document's lead and most central sentences (``message``
    says them in plain words); ``"not_english"`` for a question in another language:
    ``found`` is False, nothing is quoted, and ``language`` names the language.

    >>> result = Retriever.from_corpus("corpus").ask("How many troops does the UN have in Mali?")
    >>> result.answer.key
    'about 12,000 troops'
    """

    question: str
    found: bool
    passages: tuple[Hit, ...] = field(metadata={"json_extra": {"is_answer": bool}})
    message: str
    answer: Quote | None = None
    confident: bool = False
    answering: int = field(default=0, metadata={"json": False})  # in ``is_answer`` instead
    read_as: str = ""  # the question searched: ``question``, or a follow-up completed from history
    kind: str = "answer"  # one of ``KINDS``
    overview: tuple[Overview, ...] = ()  # for kind "overview": one per document
    language: str | None = None  # for kind "not_english": the language detected, in English

    def to_dict(self) -> dict[str, Any]:
        """The one JSON shape of an answer: what the ``ask`` endpoint, the MCP tool and
        ``qa ask --json`` return."""
        return {
            **as_json(self),
            "read_as": self.read_as or self.question,
            "passages": [
                {**hit.to_dict(), "is_answer": self.found and rank <= self.answering}
                for rank, hit in enumerate(self.passages, start=1)
            ],
        }


# ---- JSON, derived from the records ------------------------------------------------------


def as_json(record: Any) -> dict[str, Any]:
    """``record``'s fields as JSON-ready values, in their order (see the module's note)."""
    return {
        f.name: _json_value(getattr(record, f.name))
        for f in fields(record)
        if f.metadata.get("json", True)
    }


def _json_value(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return value.to_dict()  # type: ignore[attr-defined]
    if isinstance(value, (tuple, list)):
        return [_json_value(item) for item in value]
    if isinstance(value, float):
        return round(value, 4)
    return value


def json_type(record: type, extra: dict[str, Any] | None = None) -> type:
    """The ``TypedDict`` of ``record``'s JSON, for the schemas (with ``extra`` keys)."""
    hints = typing.get_type_hints(record)
    annotations: dict[str, Any] = {}
    for f in fields(record):
        if f.metadata.get("json", True):
            annotations[f.name] = _json_annotation(hints[f.name], f.metadata.get("json_extra"))
    annotations.update(extra or {})
    name = ("Ranked" if extra else "") + f"{record.__name__}Dict"
    return TypedDict(name, annotations)  # type: ignore[operator]


def _json_annotation(hint: Any, extra: dict[str, Any] | None = None) -> Any:
    """The JSON type of a field's type: records become their ``TypedDict``, tuples lists."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if isinstance(hint, type) and is_dataclass(hint):
        return json_type(hint, extra)
    if origin is tuple:
        return list[_json_annotation(args[0], extra)]  # type: ignore[misc]
    if args and type(None) in args:  # X | None
        (inner,) = [a for a in args if a is not type(None)]
        return _json_annotation(inner, extra) | None
    return hint


if TYPE_CHECKING:
    PassageDict = dict[str, Any]
    AnswerDict = dict[str, Any]
else:
    PassageDict = json_type(Hit)  # a hit of ``search``
    AnswerDict = json_type(Answer)  # an ``Answer`` (its passages with ``is_answer``)
