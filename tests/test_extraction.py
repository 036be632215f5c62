"""qa.ingest.extraction: a file read by what it is, and a message a person can act on for every
file that cannot be read. Real PDFs and pages, made in tests/documents.py."""

from __future__ import annotations

import codecs
import gzip
import io
import zipfile

import pytest
from documents import (
    ARTICLE_HTML,
    NAVIGATION_HTML,
    make_bomb_pdf,
    make_long_pdf,
    make_pdf,
    make_scanned_pdf,
)

from qa.ingest.extraction import (
    MAX_PDF_PAGES,
    DocumentError,
    _reflow,
    decode_text,
    extract,
    html_text,
    pdf_text,
    sniff,
)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"


def zipped(files: dict[str, bytes]) -> bytes:
    """A ZIP archive of ``files``, the same bytes on every run (no time stamp of now)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"%PDF-1.7\n...", "pdf"),
        (b"\n  %PDF-1.4", "pdf"),
        (b"<!DOCTYPE html><html><body><p>Hi</p></body></html>", "html"),
        (b"<?xml version='1.0'?>\n<html><body>x</body></html>", "html"),
        (b"<div><p>a</p><p>b</p><p>c</p><a href=x>d</a><br></div>", "html"),
        (b"Headline\nSome text about <Macron> and a < b.", "text"),
        ("Caf\u00e9 au lait".encode(), "text"),
        (codecs.BOM_UTF16_LE + "Hello".encode("utf-16-le"), "text"),
    ],
)
def test_sniff_reads_the_bytes(data, kind):
    assert sniff(data) == kind


# Each case is (file name, bytes, message). The tests are named by file, not by
# bytes: pytest-xdist needs the same ids in every worker, and made bytes (a gzip
# or ZIP stream) would otherwise stand in an id, unreadable.
NOT_DOCUMENTS = [
    ("notes.pdf", PNG, r"notes\.pdf is not a PDF: it is a PNG image, which qa cannot read"),
    ("photo.txt", JPEG, r"photo\.txt is not plain text: it is a JPEG image"),
    ("bundle.zip", zipped({"a.txt": b"hello"}), r"bundle\.zip is a ZIP archive.*Unpack it"),
    (
        "report.pdf",
        zipped({"[Content_Types].xml": b"<x/>", "word/document.xml": b"<w/>"}),
        r"report\.pdf is not a PDF: it is a Word document \(\.docx\).*Save it as PDF",
    ),
    (
        "page.html",
        gzip.compress(b"<html>" * 1000, mtime=0),
        r"page\.html is not a web page: it is a gzip",
    ),
    ("data.txt", b"abc\x00\x01\x02def", r"data\.txt is not plain text: it is a binary file"),
    ("empty.txt", b"", r"empty\.txt is empty"),
    ("blank.md", b"  \n\t\n", r"blank\.md is empty"),
]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    NOT_DOCUMENTS,
    ids=[name for name, _, _ in NOT_DOCUMENTS],
)
def test_files_that_are_not_documents_are_refused_by_name(name, data, message):
    with pytest.raises(DocumentError, match=message):
        extract(data, name)


def test_a_pdf_named_txt_is_read_as_a_pdf_and_says_so():
    result = extract(make_pdf(), "article.txt")
    assert result.kind == "pdf"
    assert "Herders from northern Burkina Faso" in result.text
    assert result.note == "article.txt holds a PDF, not plain text: read as pdf."


def test_a_web_page_named_txt_is_read_as_a_page():
    result = extract(ARTICLE_HTML.encode(), "saved.txt")
    assert result.kind == "html" and "<p>" not in result.text
    assert "holds a web page" in result.note


def test_markdown_keeps_its_kind_without_a_note():
    result = extract(b"# Title\n\nSome *text* here.", "notes.md")
    assert (result.kind, result.note) == ("markdown", "")


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b"Headline\nCaf\xe9 society in Bamako.\n", "line 2, byte 12"),
        (codecs.BOM_UTF8 + b"Headline\nLine two.\nCaf\xe9.\n", "line 3, byte 25"),
    ],
)
def test_non_utf8_text_says_where_and_what_to_do(raw, where):
    with pytest.raises(DocumentError, match=rf"latin\.txt is not UTF-8 text \({where}\)\. Save"):
        decode_text(raw, "latin.txt")


def test_utf16_with_a_byte_order_mark_is_read():
    text = "Titre\nLe caf\u00e9 est ouvert."
    assert decode_text(codecs.BOM_UTF16_LE + text.encode("utf-16-le"), "a.txt") == text


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_read_not_called_binary(codec):
    text = "Lake news\nLake Halden froze on 3 January, the earliest in 40 years.\n"
    extracted = extract(text.encode(codec), "lake.txt")
    assert (extracted.text, extracted.kind) == (text, "text")


# Web pages


def test_html_keeps_the_article_and_drops_menus_related_links_and_footer():
    text = html_text(ARTICLE_HTML.encode(), "drought.html")
    first, *rest = text.splitlines()
    assert first == "Drought pushes Sahel herders south as wells run dry"
    body = "\n".join(rest)
    assert "more than 60,000 animals had crossed the district" in body
    assert "local leaders have called for calm" in body  # the paragraph after the aside
    for leftover in ("Sign in", "Privacy", "Copyright", "Niger opens new border post"):
        assert leftover not in text


def test_html_in_another_encoding_is_decoded_by_its_meta_charset():
    page = ARTICLE_HTML.replace('charset="utf-8"', 'charset="windows-1252"')
    page = page.replace("Hamidou Sow", "Hamidou S\u00f4w")
    text = html_text(page.encode("cp1252"), "old.html")
    assert "Hamidou S\u00f4w" in text


def test_a_page_that_is_all_navigation_is_refused():
    with pytest.raises(
        DocumentError, match=r"No article text found in home\.html: the page is all"
    ):
        html_text(NAVIGATION_HTML.encode(), "home.html")


def test_hostile_html_is_just_text():
    page = (
        "<html><body><article><p>"
        + "The council met on Monday and agreed a new budget for the schools of the region. " * 3
        + "</p><script>alert(1)</script><img src=x onerror=alert(2)></article></body></html>"
    )
    text = html_text(page.encode(), "x.html")
    assert "alert" not in text and "onerror" not in text


# PDFs


def test_pdf_text_joins_wrapped_lines_and_hyphenated_words():
    text = pdf_text(make_pdf(), "drought.pdf")
    lines = text.splitlines()
    assert lines[0] == "Drought pushes Sahel herders south"
    assert "moving their cattle hundreds of kilometres south, as the driest" in text
    assert "than in any year since 2012." in lines[-1]


def test_a_scanned_pdf_needs_ocr():
    with pytest.raises(DocumentError, match=r"No text found in scan\.pdf: a scanned PDF needs OCR"):
        pdf_text(make_scanned_pdf(), "scan.pdf")


def test_a_decompression_bomb_is_refused():
    data = make_bomb_pdf(100)
    assert len(data) < 200_000  # 100 MB of content in about 100 KB
    with pytest.raises(DocumentError, match=r"bomb\.pdf holds a compressed stream that inflates"):
        extract(data, "bomb.pdf")


def test_a_password_protected_pdf_says_so():
    with pytest.raises(DocumentError, match=r"locked\.pdf is password-protected"):
        pdf_text(make_pdf(password="secret"), "locked.pdf")


def test_a_pdf_with_too_many_pages_is_refused_before_reading_them():
    with pytest.raises(
        DocumentError, match=rf"has {MAX_PDF_PAGES + 1} pages; qa reads PDFs of up to"
    ):
        pdf_text(make_long_pdf(MAX_PDF_PAGES + 1), "book.pdf")


@pytest.mark.parametrize("data", [b"%PDF-1.4\ngarbage", make_pdf()[:700]])
def test_a_damaged_pdf_is_refused(data):
    with pytest.raises(
        DocumentError, match=r"bad\.pdf is not a readable PDF \(damaged or truncated"
    ):
        pdf_text(data, "bad.pdf")


def test_reflow_keeps_headings_and_paragraphs_apart():
    page = (
        "A short heading\n"
        "This is a long line of a paragraph that the PDF wrapped at the edge of the\n"
        "page, and it goes on to a second line that ends the sentence here.\n"
        "\n"
        "Another paragraph starts after a blank line and it also runs long enough to wr-\n"
        "ap, with a word split by a hyphen at the end of the line.\n"
        "7\n"
    )
    assert _reflow(page).splitlines() == [
        "A short heading",
        "This is a long line of a paragraph that the PDF wrapped at the edge of the page, "
        "and it goes on to a second line that ends the sentence here.",
        "Another paragraph starts after a blank line and it also runs long enough to wrap, "
        "with a word split by a hyphen at the end of the line.",
        "7",
    ]
