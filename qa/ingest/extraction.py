"""The text of a file a person brings, whatever its name says it is.

A file is read by what its bytes are, not by its extension: ``sniff`` looks at the
first bytes (``%PDF-``, a ZIP or image signature, HTML tags, text), so a PDF named
``.txt`` is read as a PDF, and a photo named ``.pdf`` is refused as a JPEG image.

- **Text** (``.txt``, ``.md``) must be UTF-8 (UTF-16, with or without a byte-order
  mark, is read too).
- **HTML**: the article's main text, without menus, footers and link lists, is taken
  by trafilatura (a maintained extractor, evaluated on thousands of real pages); a
  page with no prose left (an index or home page) is refused.
- **PDF**: the text layer, page by page, by pypdf, with lines rejoined into paragraphs.
  A PDF without one (a scan) is refused: it needs OCR first. pypdf refuses any stream
  that inflates past 75 MB, and extraction stops at ``MAX_PDF_PAGES`` pages or
  ``MAX_EXTRACT_SECONDS``, so a decompression bomb costs seconds, not the server.

Archives (ZIP, gzip, ...) are never opened: a person is told to unpack them. Every
refusal is a ``DocumentError`` whose message names the file, says what is wrong and
what to do.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
import statistics
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

# What each kind of document may be called; other names are read by their content.
SUFFIXES = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
}
_KIND_NAMES = {"text": "plain text", "markdown": "text", "html": "a web page", "pdf": "a PDF"}
# A PDF of more pages is a book or a scan of one, not an article (and each page costs
# time): its first MAX_PDF_PAGES are not read either, it is refused as a whole.
MAX_PDF_PAGES = 500
# Extraction stops past this many seconds (checked between pages): a PDF built to
# be slow (many pages of streams that inflate to pypdf's 75 MB limit) is refused.
MAX_EXTRACT_SECONDS = 30.0
# Fewer characters of prose than this after extraction: nothing worth searching.
MIN_PROSE_CHARS = 200
# Enough of the first bytes to recognise any format below.
_SNIFF_BYTES = 4096

# Formats qa does not read, by their first bytes: (signature, offset, what it is).
_REFUSED = (
    (b"PK\x03\x04", 0, "a ZIP archive"),
    (b"PK\x05\x06", 0, "an empty ZIP archive"),
    (b"\x1f\x8b", 0, "a gzip-compressed file"),
    (b"BZh", 0, "a bzip2-compressed file"),
    (b"\xfd7zXZ\x00", 0, "an xz-compressed file"),
    (b"(\xb5/\xfd", 0, "a zstd-compressed file"),
    (b"7z\xbc\xaf\x27\x1c", 0, "a 7-Zip archive"),
    (b"Rar!\x1a\x07", 0, "a RAR archive"),
    (b"\x89PNG\r\n\x1a\n", 0, "a PNG image"),
    (b"\xff\xd8\xff", 0, "a JPEG image"),
    (b"GIF87a", 0, "a GIF image"),
    (b"GIF89a", 0, "a GIF image"),
    (b"WEBP", 8, "a WebP image"),
    (b"II*\x00", 0, "a TIFF image"),
    (b"MM\x00*", 0, "a TIFF image"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 0, "an old Microsoft Office file (.doc, .xls)"),
    (b"{\\rtf", 0, "an RTF document"),
    (b"%!PS", 0, "a PostScript file"),
    (b"\x7fELF", 0, "a program (ELF)"),
    (b"SQLite format 3\x00", 0, "an SQLite database"),
    (b"ID3", 0, "an MP3 audio file"),
    (b"OggS", 0, "an Ogg audio or video file"),
    (b"fLaC", 0, "a FLAC audio file"),
    (b"ftyp", 4, "an MP4 or QuickTime video"),
)
_ZIP_KINDS = (
    (b"word/", "a Word document (.docx)"),
    (b"xl/", "an Excel workbook (.xlsx)"),
    (b"ppt/", "a PowerPoint file (.pptx)"),
    (b"application/vnd.oasis.opendocument", "an OpenDocument file (.odt)"),
    (b"application/epub+zip", "an EPUB e-book"),
)
_HTML_START = re.compile(
    rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b",
    re.IGNORECASE | re.DOTALL,
)
_HTML_TAG = re.compile(
    rb"<(p|div|span|a|br|li|ul|h[1-6]|table|script|meta|link|article)\b[^>]*>", re.IGNORECASE
)
# A sentence end, closing quotes or brackets after it (curly quotes and CJK marks too).
_SENTENCE_END = re.compile("[.!?\u2026\u3002\uff01\uff1f]['\"\u201d\u2019)\\]]*$")


class DocumentError(ValueError):
    """A file or text cannot be read as a document; the message says why and what to do."""


@dataclass(frozen=True)
class Extracted:
    """The text of one file, ready for ``qa.ingest.corpus.parse_document``.

    ``kind`` is what the file was read as ("text", "markdown", "html", "pdf"); ``note``
    says so in words when that differs from the file's name (else "").
    """

    text: str
    kind: str
    note: str = ""


def sniff(data: bytes, name: str = "the file") -> str:
    """What ``data`` is: "pdf", "html" or "text"; ``DocumentError`` naming any other format.

    >>> sniff(b"%PDF-1.7 ...")
    'pdf'
    """
    head = data[:_SNIFF_BYTES]
    if not head.strip():
        raise DocumentError(f"{name} is empty: there is no text in it.")
    if head.lstrip()[:5] == b"%PDF-" or b"%PDF-" in head[:1024]:
        return "pdf"
    for signature, offset, what in _REFUSED:
        if head[offset : offset + len(signature)] == signature:
            if what.endswith("ZIP archive"):
                what = next((kind for mark, kind in _ZIP_KINDS if mark in head), what)
            raise DocumentError(_unsupported(name, what))
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        head = head.decode("utf-16", "replace").encode("utf-8")
    elif codec := bomless_utf16(head):
        head = head.decode(codec, "replace").encode("utf-8")
    elif b"\x00" in head:
        raise DocumentError(_unsupported(name, "a binary file"))
    if _HTML_START.match(head) or len(_HTML_TAG.findall(head)) >= 5:
        return "html"
    return "text"


def _unsupported(name: str, what: str) -> str:
    """ "notes.pdf is not a PDF: it is a JPEG image, which qa cannot read: ..." """
    advice = (
        "unpack it and add the documents inside"
        if "archive" in what or "compressed" in what
        else "save it as PDF, HTML or plain text and add that"
    )
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    named = SUFFIXES.get(suffix)
    claim = f"{name} is not {_KIND_NAMES[named]}: it is" if named else f"{name} is"
    return (
        f"{claim} {what}, which qa cannot read. "
        f"{advice[0].upper()}{advice[1:]} (.txt, .md, .html or .pdf)."
    )


def extract(data: bytes, name: str, encoding: str | None = None) -> Extracted:
    """The text of the file ``name`` holding ``data``, read as what it really is.

    ``encoding`` (a codec name, such as the charset a web server declared) decodes HTML
    and text instead of the UTF-8 rule and trafilatura's guess; a PDF ignores it."""
    kind = sniff(data, name)
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    named = SUFFIXES.get(suffix)
    if kind == "pdf":
        text = pdf_text(data, name)
    elif kind == "html":
        text = html_text(data if encoding is None else data.decode(encoding, "replace"), name)
    else:
        text = decode_text(data, name) if encoding is None else data.decode(encoding, "replace")
        kind = "markdown" if named == "markdown" else "text"
    note = ""
    if named is not None and named != kind and {named, kind} != {"text", "markdown"}:
        note = f"{name} holds {_KIND_NAMES[kind]}, not {_KIND_NAMES[named]}: read as {kind}."
    return Extracted(text, kind, note)


def bomless_utf16(head: bytes) -> str | None:
    """ "utf-16-le" or "utf-16-be" when ``head`` is UTF-16 text without a byte-order mark
    (Windows tools write it: every other byte of Latin text is a NUL); else None."""
    pairs = len(head) // 2
    if pairs < 2:
        return None
    even, odd = head[0 : 2 * pairs : 2], head[1 : 2 * pairs : 2]
    for zeros, codec in ((odd, "utf-16-le"), (even, "utf-16-be")):
        if zeros.count(0) >= 0.9 * pairs:
            try:
                text = head[: 2 * pairs].decode(codec)
            except UnicodeDecodeError:
                return None
            printable = sum(c.isprintable() or c in "\r\n\t" for c in text)
            return codec if printable >= 0.95 * len(text) else None
    return None


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 (or UTF-16, with a byte-order mark or without one) text, or a
    ``DocumentError`` that says where the first byte that is not UTF-8 stands."""
    codec = "utf-16" if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else None
    codec = codec or bomless_utf16(data[:_SNIFF_BYTES])
    if codec:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            raise DocumentError(
                f"{name} starts like UTF-16 text but is damaged. Save it as UTF-8 and add it again."
            ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        at = exc.start + (len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0)
        line = data[:at].count(b"\n") + 1
        raise DocumentError(
            f"{name} is not UTF-8 text (line {line}, byte {at}). Save it as UTF-8 (in most "
            "editors: Save as, Encoding: UTF-8) and add it again."
        ) from None


def html_text(data: bytes | str, name: str) -> str:
    """The main text of a web page, title first, by trafilatura; ``DocumentError``
    when no article text is left (a page of menus and links)."""
    import trafilatura

    try:
        # Its own algorithm first (precise), then its fallbacks (readability, jusText).
        found = trafilatura.bare_extraction(
            data, include_comments=False, include_tables=True, with_metadata=True
        )
    except Exception as exc:  # a parser error deep inside lxml: the page is unreadable
        raise DocumentError(f"{name} could not be read as a web page ({exc}).") from None
    body = (getattr(found, "text", None) or "").strip() if found is not None else ""
    if _prose_chars(body) < MIN_PROSE_CHARS:
        raise DocumentError(
            f"No article text found in {name}: the page is all navigation, links or "
            "scripts. Open the article itself and save that page, or paste its text."
        )
    title = " ".join((getattr(found, "title", None) or "").split())
    if title and not body.startswith(title):
        return f"{title}\n{body}"
    return body


def _prose_chars(text: str) -> int:
    """Characters in lines that read as sentences: end with punctuation, 6+ words."""
    return sum(
        len(line)
        for line in text.splitlines()
        if len(line.split()) >= 6 and _SENTENCE_END.search(line.strip())
    )


def pdf_text(data: bytes, name: str) -> str:
    """The text layer of a PDF, page by page, lines joined back into paragraphs."""
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, LimitReachedError, PyPdfError

    began = time.monotonic()
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise FileNotDecryptedError("a password is needed")
        count = len(reader.pages)
        if count > MAX_PDF_PAGES:
            raise DocumentError(
                f"{name} has {count:,} pages; qa reads PDFs of up to {MAX_PDF_PAGES} pages. "
                "Split it and add the part you want to ask about."
            )
        pages = []
        for page in reader.pages:
            pages.append(_reflow(page.extract_text() or ""))
            if time.monotonic() - began > MAX_EXTRACT_SECONDS:
                raise DocumentError(
                    f"{name} takes too long to read (over {MAX_EXTRACT_SECONDS:g} s for "
                    f"{len(pages)} of {count} pages): it may be built to be slow or be damaged. "
                    "Save it again as a plain PDF, or paste its text."
                )
    except FileNotDecryptedError as exc:
        raise DocumentError(
            f"{name} is password-protected ({exc}). Save a copy without the password and add that."
        ) from None
    except LimitReachedError:
        raise DocumentError(
            f"{name} holds a compressed stream that inflates past pypdf's safety limit: a "
            "decompression bomb or a damaged file. It was not read."
        ) from None
    except DocumentError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise DocumentError(
            f"{name} is not a readable PDF (damaged or truncated?): {exc}. "
            "Open it in a PDF reader and save it again, or paste its text."
        ) from None
    text = "\n\n".join(p for p in pages if p.strip())
    if not text.strip():
        raise DocumentError(
            f"No text found in {name}: a scanned PDF needs OCR. Run it through OCR "
            "first (for example `ocrmypdf scan.pdf text.pdf`) and add the result."
        )
    return text


_HYPHENATED = re.compile(r"(?<=[a-z])-$")


def _reflow(page: str) -> str:
    """Join the hard-wrapped lines of a PDF page into paragraphs.

    A line ends its paragraph when it is blank, or ends a sentence well short of the
    page's usual line length; a short line without closing punctuation (a heading, a
    page number) stands alone. A word hyphenated at a line end is joined up.
    """
    lines = [" ".join(line.split()) for line in page.splitlines()]
    lengths = [len(line) for line in lines if len(line) > 20]
    width = statistics.median(lengths) if lengths else 80
    out: list[str] = []
    current = ""
    for line in lines:
        if not line:
            if current:
                out.append(current)
                current = ""
            continue
        lone = len(line) < 0.6 * width and not _SENTENCE_END.search(line)  # heading, page no.
        if current and lone and not _HYPHENATED.search(current):
            out.append(current)
            current = ""
        if current and _HYPHENATED.search(current) and line[:1].islower():
            current = current[:-1] + line
        else:
            current = f"{current} {line}" if current else line
        short = len(line) < 0.8 * width
        if lone or (short and _SENTENCE_END.search(line)):
            out.append(current)
            current = ""
    if current:
        out.append(current)
    return "\n".join(out)
