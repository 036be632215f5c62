"""Read a corpus folder into ``Document`` records, marking what is content.

A corpus is a folder of UTF-8 ``.txt`` and ``.md`` files, web pages (``.html``) and
PDFs (searched recursively); each file is one document and its path relative to the
folder is its ``source``. Pages and PDFs are read by ``qa.ingest.extraction`` (their main
text); texts a program holds are read the same way by ``documents_from_texts``.
Nothing is rewritten: the document keeps its text exactly as decoded or extracted,
and cleaning only decides which lines are the title, headings, boilerplate or body,
so every passage cut later maps back to the text by offsets.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from qa.ingest import extraction
from qa.types import Document, Span

log = logging.getLogger(__name__)

DOCUMENT_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
# Read by qa.ingest.extraction (main text of a page, text layer of a PDF), not as plain text.
_EXTRACTED_SUFFIXES = (".html", ".htm", ".pdf")
CORPUS_RULES_FILE = ".qa-boilerplate"
# A news article is tens of kilobytes; a file past this is a dump, a log or a mistake,
# and embedding it would take the CPU hours. Raise it with QA_MAX_DOCUMENT_MB.
DEFAULT_MAX_DOCUMENT_MB = 10.0
# A line this short with no sentence-ending punctuation is a heading, not prose.
HEADING_MAX_WORDS = 12
# Under a "Related Stories" heading (a ``block:`` rule), up to this many lines of at
# most BLOCK_ITEM_MAX_WORDS words and one sentence are headlines of other stories.
BLOCK_MAX_ITEMS = 12
BLOCK_ITEM_MAX_WORDS = 25
_BLOCK = "block: "
_LIST_MARK = re.compile(r"^(\d{1,3}[.)]|[-–•*])\s+")
_SENTENCE_ENDS = re.compile(r"[.!?…](?=['\"”’)\]]*(\s|$))")
_SENTENCE_END = re.compile(r"[.!?…:;。！？]['\"”’)\]]*\s*$")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|$)")


class CorpusError(ValueError):
    """The corpus cannot be read; the message names the path and what to do."""


@dataclass(frozen=True)
class BoilerplateRules:
    """Regular expressions for lines that are never content, loaded from data files.

    A pattern written ``block: REGEX`` matches the heading of a list of links to other
    stories ("Related Stories"): the headlines listed under it go too (``opens_block``).
    """

    patterns: tuple[str, ...]

    @classmethod
    def load(cls, corpus_dir: Path | None = None) -> BoilerplateRules:
        """The packaged rules plus the corpus folder's own ``.qa-boilerplate``, if any."""
        text = resources.files(__package__).joinpath("boilerplate.txt").read_text(encoding="utf-8")
        patterns = list(_parse_rules(text, "qa/ingest/boilerplate.txt"))
        if corpus_dir is not None and (extra := corpus_dir / CORPUS_RULES_FILE).is_file():
            try:
                extra_text = extra.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise CorpusError(f"{extra}: not valid UTF-8. Re-save it as UTF-8.") from None
            patterns += _parse_rules(extra_text, str(extra))
        return cls(tuple(patterns))

    def matches(self, line: str) -> bool:
        return any(
            re.search(p, line, re.IGNORECASE) for p in self.patterns if not p.startswith(_BLOCK)
        )

    def opens_block(self, line: str) -> bool:
        """Whether ``line`` heads a list of links whose items are not content either."""
        return any(
            re.search(p[len(_BLOCK) :], line, re.IGNORECASE)
            for p in self.patterns
            if p.startswith(_BLOCK)
        )

    def fingerprint(self) -> str:
        return hashlib.sha256("\n".join(self.patterns).encode()).hexdigest()[:16]


def _parse_rules(text: str, origin: str) -> Iterable[str]:
    for number, raw in enumerate(text.splitlines(), start=1):
        rule = raw.strip()
        if not rule or rule.startswith("#"):
            continue
        try:
            re.compile(rule[len(_BLOCK) :] if rule.startswith(_BLOCK) else rule)
        except re.error as exc:
            raise CorpusError(
                f"{origin}, line {number}: invalid regular expression {rule!r} ({exc}). "
                "Fix or remove that line."
            ) from None
        yield rule


def load_corpus(path: str | Path, rules: BoilerplateRules | None = None) -> list[Document]:
    """Read every document under ``path`` (a folder, or a single file).

    Raises ``CorpusError`` for a missing or empty corpus, a file that is not UTF-8, is
    empty, or holds nothing but a title, headings and boilerplate; files of other types
    and links leading out of the folder are skipped with a warning; a file whose content
    duplicates an earlier one is skipped too.
    """
    root = Path(path)
    if not root.exists():
        raise CorpusError(
            f"Corpus folder not found: {root}. Create it and put articles in it (.txt, .md, "
            ".html or .pdf), "
            "or point QA_CORPUS (or the corpus argument) at the folder that holds them."
        )
    rules = rules or BoilerplateRules.load(root if root.is_dir() else root.parent)
    candidates = [root] if root.is_file() else list(_document_files(root))
    files = [f for f in candidates if _within_size_limit(f)]
    if candidates and not files:
        raise CorpusError(
            f"Every document in {root} is over the size limit of {max_document_mb():g} MB: "
            "split them into articles, or raise QA_MAX_DOCUMENT_MB."
        )
    if not files:
        raise CorpusError(
            f"Corpus folder {root} has no documents: add .txt or .md files, web pages "
            "(.html) or PDFs to it."
        )
    documents: list[Document] = []
    for file in files:
        source = file.name if file == root else file.relative_to(root).as_posix()
        document = read_document(file, source, rules)
        _require_body(
            document, str(file), "Add the article's paragraphs (full sentences) or remove the file."
        )
        documents.append(document)
    return _without_repeats(documents)


def _require_body(document: Document, where: str, what_to_do: str) -> None:
    """A ``CorpusError`` naming ``where`` if ``document`` has nothing to search."""
    if not document.body_spans:
        raise CorpusError(
            f"{where}: nothing to search: every line after the title is a heading or "
            f"boilerplate. {what_to_do}"
        )


def _without_repeats(documents: list[Document]) -> list[Document]:
    """``documents`` without those whose content repeats an earlier one (a warning each)."""
    kept: dict[str, Document] = {}
    for document in documents:
        first = kept.setdefault(document.content_hash, document)
        if first is not document:
            log.warning("Skipping %s: same content as %s.", document.source, first.source)
    return list(kept.values())


def max_document_mb() -> float:
    """The per-document size limit in MB: ``QA_MAX_DOCUMENT_MB``, else 10."""
    raw = os.environ.get("QA_MAX_DOCUMENT_MB", "")
    try:
        return float(raw) if raw else DEFAULT_MAX_DOCUMENT_MB
    except ValueError:
        raise CorpusError(
            f"QA_MAX_DOCUMENT_MB must be a number of megabytes, got {raw!r}"
        ) from None


def _within_size_limit(file: Path) -> bool:
    size_mb = file.stat().st_size / 1_000_000
    if size_mb <= max_document_mb():
        return True
    log.warning(
        "Skipping %s: %.1f MB is over the %g MB limit for one document. Split it into "
        "articles, or raise QA_MAX_DOCUMENT_MB.",
        file,
        size_mb,
        max_document_mb(),
    )
    return False


def _document_files(root: Path) -> Iterable[Path]:
    resolved_root = root.resolve()
    for file in sorted(root.rglob("*")):
        relative = file.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue  # hidden files and folders, including our own rules file
        if file.is_symlink() and not file.resolve().is_relative_to(resolved_root):
            log.warning("Skipping %s: it links outside the corpus folder.", relative)
            continue
        if file.is_dir():
            continue
        if file.suffix.lower() not in DOCUMENT_SUFFIXES:
            log.warning(
                "Skipping %s: not a document type qa reads (%s).",
                relative,
                ", ".join(DOCUMENT_SUFFIXES),
            )
            continue
        yield file


def read_document(file: Path, source: str, rules: BoilerplateRules) -> Document:
    """Decode one file and mark its title, headings, boilerplate and body lines.

    Web pages and PDFs, and any file whose content is one whatever its name, are read
    by ``qa.ingest.extraction``; other files must be UTF-8 text.
    """
    raw = file.read_bytes()
    suffix = file.suffix.lower()
    if suffix in _EXTRACTED_SUFFIXES or (raw.strip() and _sniffed(raw, file) != "text"):
        try:
            extracted = extraction.extract(raw, str(file))
        except extraction.DocumentError as exc:
            raise CorpusError(str(exc)) from None
        if extracted.note:
            log.warning("%s", extracted.note)
        markdown = extracted.kind == "markdown"
        return parse_document(extracted.text, source, rules, markdown=markdown)
    text = decode_document(raw, file)
    return parse_document(text, source, rules, markdown=suffix != ".txt")


def _sniffed(raw: bytes, file: Path) -> str:
    """What ``raw`` is by its bytes ("text" when not a format qa extracts)."""
    try:
        return extraction.sniff(raw, str(file))
    except extraction.DocumentError:
        return "text"  # binary: decode_document says so in its own words


def documents_from_texts(
    texts: Mapping[str, str], rules: BoilerplateRules | None = None
) -> list[Document]:
    """``Document`` records for texts held in memory, read like corpus files.

    Keys are the documents' names (their ``source``; a ``.md`` name reads Markdown
    headings). Raises ``CorpusError`` for a name or text that is not a string, an
    empty text, or one with nothing but a title, headings and boilerplate; a text
    whose content repeats an earlier one is skipped with a warning.
    """
    rules = rules or BoilerplateRules.load()
    documents: list[Document] = []
    for name, text in texts.items():
        if not isinstance(name, str) or not name.strip():
            raise CorpusError(f"Document names must be non-empty strings, got {name!r}.")
        if not isinstance(text, str):
            raise CorpusError(f"{name}: the text must be a string, got {type(text).__name__}.")
        if not text.strip():
            raise CorpusError(f"{name}: the text is empty. Give the article's text.")
        markdown = name.lower().endswith((".md", ".markdown"))
        document = parse_document(text, name, rules, markdown=markdown)
        _require_body(document, name, "Give the article's paragraphs (full sentences).")
        documents.append(document)
    return _without_repeats(documents)


def decode_document(raw: bytes, file: Path) -> str:
    """UTF-8 text of ``raw`` (a leading BOM dropped), or a ``CorpusError`` naming ``file``."""
    if b"\x00" in raw[:8192]:
        raise CorpusError(
            f"{file}: looks like a binary file (it contains NUL bytes), not text. "
            "Remove it from the corpus folder or convert it to plain text."
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # exc.start counts from after the BOM; report the file's own byte and line
        at = exc.start + (len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0)
        before = raw[:at]
        line = before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n") + 1
        raise CorpusError(
            f"{file}, line {line} (byte {at}): not valid UTF-8. "
            "Re-save the file as UTF-8 (for example: iconv -f latin1 -t utf-8)."
        ) from None
    if not text.strip():
        raise CorpusError(f"{file}: the file is empty. Add the article's text or delete it.")
    return text


def parse_document(
    text: str, source: str, rules: BoilerplateRules, *, markdown: bool = False
) -> Document:
    """Split ``text`` into lines and classify each, without changing a character.

    The first non-empty line is the title when more lines follow it. A Markdown
    ``#`` line or a short line with no closing punctuation is a heading: kept as
    context for the passages under it, never matched on its own.
    """
    lines = [s for s in _line_spans(text) if text[s.start : s.end].strip()]
    title_span: Span | None = None
    title = Path(source).stem.replace("-", " ").replace("_", " ")
    if len(lines) > 1:
        title_span, lines = lines[0], lines[1:]
        title = _strip_heading_marks(text[title_span.start : title_span.end])
    body: list[Span] = []
    headings: list[Span] = []
    block_items = 0  # headlines still expected under a "Related Stories" heading
    for span in lines:
        line = text[span.start : span.end]
        if rules.opens_block(line.strip()):
            block_items = BLOCK_MAX_ITEMS
            continue
        if block_items and _is_headline(line):
            block_items -= 1
            continue
        block_items = 0
        if rules.matches(line.strip()):
            continue
        if _is_heading(line, markdown):
            headings.append(span)
        else:
            body.append(span)
    return Document(
        source=source,
        text=text,
        title=title,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        title_span=title_span,
        body_spans=tuple(body),
        headings=tuple(headings),
    )


def _is_headline(line: str) -> bool:
    """A line that reads like a link to another story: short, one sentence at most,
    and no full stop unless very short (a paragraph of prose ends with one)."""
    item = _LIST_MARK.sub("", line.strip())
    words = item.split()
    if len(words) > BLOCK_ITEM_MAX_WORDS or len(_SENTENCE_ENDS.findall(item)) > 1:
        return False
    return not item.endswith(".") or len(words) <= HEADING_MAX_WORDS


def _line_spans(text: str) -> Iterable[Span]:
    """Spans of each line without its line break, whitespace trimmed at both ends."""
    for match in _LINE.finditer(text):
        line = match.group().rstrip("\r\n")
        stripped = line.strip()
        if not stripped:
            if match.end() >= len(text):
                break
            continue
        start = match.start() + (len(line) - len(line.lstrip()))
        yield Span(start, start + len(stripped))


def _strip_heading_marks(line: str) -> str:
    return line.strip().lstrip("#").strip()


def _is_heading(line: str, markdown: bool) -> bool:
    stripped = line.strip()
    if markdown and stripped.startswith("#"):
        return True
    return len(stripped.split()) <= HEADING_MAX_WORDS and not _SENTENCE_END.search(stripped)
