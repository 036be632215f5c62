"""The small immutable records the pipeline stages pass to each other.

Every record that carries text also carries where that text stands in its document:
``document.text[start:end] == text`` always holds, so anything shown can be checked
against the source.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict, the shape the web API and ``qa ask --json`` return."""
        return {
            "text": self.text,
            "score": round(self.score, 4),
            "source": self.source,
            "title": self.title,
            "start": self.start,
            "end": self.end,
            "answer": self.answer,
            "answer_start": self.answer_start,
            "answer_end": self.answer_end,
            "paragraph": self.paragraph,
            "paragraphs": self.paragraphs,
        }

    def __repr__(self) -> str:
        return (
            f"Hit({_short(self.text)}, score={self.score:.3f}, source={self.source!r}, "
            f"span={self.start}:{self.end})"
        )


@dataclass(frozen=True)
class Answer:
    """What ``Retriever.ask`` returns: whether the corpus answers, the passages, and words.

    When ``found`` is False, ``passages`` may still hold the closest passages so a UI
    can offer them, clearly labelled as not an answer.
    """

    question: str
    found: bool
    passages: tuple[Hit, ...]
    message: str
    read_as: str = ""  # the question searched: ``question``, or a follow-up completed from history
