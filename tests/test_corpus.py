"""qa.ingest.corpus: reading a corpus folder into documents, and refusing bad input clearly."""

from __future__ import annotations

import codecs
import logging
import os
from pathlib import Path

import pytest
from conftest import ARTICLE, CORPUS, ROOT
from documents import ARTICLE_HTML, make_pdf, make_scanned_pdf

from qa.ingest.chunking import chunk_document
from qa.ingest.corpus import (
    BoilerplateRules,
    CorpusError,
    documents_from_texts,
    load_corpus,
    parse_document,
)
from qa.types import Document

PASTED_PAGE = ROOT / "tests" / "data" / "pasted-page.txt"

TITLE = "France, allies to begin military withdrawal from Mali"
BODY = (
    "The first paragraph says something about the world.\n"
    "The second paragraph says something else, and more.\n"
)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8", newline="")
    else:
        path.write_bytes(text)
    return path


def lines_of(document: Document, spans) -> list[str]:
    return [document.text[s.start : s.end] for s in spans]


def body_lines(document: Document) -> list[str]:
    return lines_of(document, document.body_spans)


# The real article


def test_article_title_is_the_first_line_and_never_body():
    [document] = load_corpus(CORPUS)
    assert document.source == ARTICLE.name
    assert document.title == TITLE
    assert document.text[document.title_span.start : document.title_span.end] == TITLE
    assert TITLE not in body_lines(document)
    assert all(span.start >= document.title_span.end for span in document.body_spans)


def test_article_read_more_lines_are_never_body():
    [document] = load_corpus(CORPUS)
    assert "READ MORE" in document.text
    assert not any("READ MORE" in line for line in body_lines(document))
    assert "'The pullout will impact peacekeepers'" in lines_of(document, document.headings)


def test_article_text_is_the_file_exactly():
    [document] = load_corpus(CORPUS)
    assert document.text == ARTICLE.read_text(encoding="utf-8")
    for span in document.body_spans:
        line = document.text[span.start : span.end]
        assert line == line.strip() and "\n" not in line


# Data-driven boilerplate rules


def test_corpus_rules_file_adds_a_rule_without_code(tmp_path):
    text = "A headline\nPictured: AFP via Getty Images, all rights.\n" + BODY
    write(tmp_path / "a.txt", text)
    [before] = load_corpus(tmp_path)
    assert "Pictured: AFP via Getty Images, all rights." in body_lines(before)

    write(tmp_path / ".qa-boilerplate", "# captions\n^Pictured:\n")
    [after] = load_corpus(tmp_path)
    assert body_lines(after) == [line for line in BODY.splitlines()]
    rules = BoilerplateRules.load(tmp_path)
    assert "^Pictured:" in rules.patterns
    assert rules.fingerprint() != BoilerplateRules.load().fingerprint()


def test_packaged_rules_come_from_the_data_file():
    rules = BoilerplateRules.load()
    assert rules.matches("READ MORE: France admits conditions no longer in place")
    assert rules.matches("read more: lower case too")
    assert not rules.matches("Readers want more news about Mali.")


def test_bad_regex_in_rules_names_file_and_line(tmp_path):
    write(tmp_path / "a.txt", "A headline\n" + BODY)
    write(tmp_path / ".qa-boilerplate", "# comment\n^Photo:\n^(unclosed\n")
    with pytest.raises(CorpusError, match=r"\.qa-boilerplate, line 3: invalid regular expression"):
        load_corpus(tmp_path)


def test_rules_file_not_utf8_is_a_corpus_error(tmp_path):
    write(tmp_path / "a.txt", "A headline\n" + BODY)
    write(tmp_path / ".qa-boilerplate", "^Caf\xe9:\n".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"\.qa-boilerplate: not valid UTF-8"):
        load_corpus(tmp_path)


# Bad input: clear errors that name the file


def test_missing_folder(tmp_path):
    with pytest.raises(CorpusError, match=r"Corpus folder not found: .*nowhere\. Create it"):
        load_corpus(tmp_path / "nowhere")


def test_empty_folder(tmp_path):
    with pytest.raises(CorpusError, match=r"has no documents: add \.txt or \.md files"):
        load_corpus(tmp_path)


def test_folder_with_only_other_types_is_empty(tmp_path, caplog):
    write(tmp_path / "photo.jpg", b"\xff\xd8\xff\xe0 a photo")
    with pytest.raises(CorpusError, match="has no documents"):
        load_corpus(tmp_path)
    assert "photo.jpg" in caplog.text


@pytest.mark.parametrize(
    ("raw", "line", "byte"),
    [
        (b"Headline\nCaf\xe9 society in Bamako.\n", 2, 12),
        (b"Headline\r\nLine two.\r\nCaf\xe9 society.\r\n", 3, 24),
        (b"Headline\rLine two.\rCaf\xe9 society.\r", 3, 22),
        (codecs.BOM_UTF8 + b"Headline\nLine two.\nCaf\xe9 society.\n", 3, 25),
    ],
    ids=["lf", "crlf", "cr", "bom"],
)
def test_non_utf8_names_file_line_and_byte(tmp_path, raw, line, byte):
    write(tmp_path / "latin.txt", raw)
    assert raw[byte] == 0xE9
    with pytest.raises(
        CorpusError, match=rf"latin\.txt, line {line} \(byte {byte}\): not valid UTF-8\. Re-save"
    ):
        load_corpus(tmp_path)


@pytest.mark.parametrize("content", ["", "   \n\t\n  ", "\ufeff", "\r\n\r\n"])
def test_empty_or_whitespace_file(tmp_path, content):
    write(tmp_path / "good.txt", "A headline\n" + BODY)
    write(tmp_path / "blank.txt", content)
    with pytest.raises(CorpusError, match=r"blank\.txt: the file is empty\. Add"):
        load_corpus(tmp_path)


def test_binary_file_with_a_text_name(tmp_path):
    write(tmp_path / "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(CorpusError, match=r"image\.txt: looks like a binary file"):
        load_corpus(tmp_path)


def test_file_with_nothing_to_search(tmp_path):
    write(tmp_path / "links.txt", "A headline\nREAD MORE: another story\nShort heading\n")
    with pytest.raises(CorpusError, match=r"links\.txt: nothing to search"):
        load_corpus(tmp_path)


@pytest.mark.parametrize("name", ["photo.jpg", "table.csv", "notes.docx"])
def test_other_file_types_are_skipped_with_a_warning(tmp_path, caplog, name):
    write(tmp_path / "a.txt", "A headline\n" + BODY)
    write(tmp_path / name, b"\x00\x01 not a document")
    with caplog.at_level(logging.WARNING, logger="qa.ingest.corpus"):
        documents = load_corpus(tmp_path)
    assert [d.source for d in documents] == ["a.txt"]
    assert f"Skipping {name}: not a document type" in caplog.text


# Folder handling


def test_duplicate_content_is_skipped(tmp_path, caplog):
    write(tmp_path / "a.txt", "A headline\n" + BODY)
    write(tmp_path / "b.txt", "A headline\n" + BODY)
    with caplog.at_level(logging.WARNING, logger="qa.ingest.corpus"):
        documents = load_corpus(tmp_path)
    assert [d.source for d in documents] == ["a.txt"]
    assert "Skipping b.txt: same content as a.txt" in caplog.text


def test_symlinks_outside_the_corpus_are_not_followed(tmp_path, caplog):
    corpus = tmp_path / "corpus"
    outside = tmp_path / "private"
    write(corpus / "a.txt", "A headline\n" + BODY)
    write(outside / "secret.txt", "Secret headline\nThe password is swordfish, they said.\n")
    os.symlink(outside / "secret.txt", corpus / "secret.txt")
    os.symlink(outside, corpus / "linked-folder")
    with caplog.at_level(logging.WARNING, logger="qa.ingest.corpus"):
        documents = load_corpus(corpus)
    assert [d.source for d in documents] == ["a.txt"]
    assert not any("swordfish" in d.text for d in documents)
    assert "secret.txt: it links outside the corpus folder" in caplog.text


def test_nested_folders_and_hidden_files(tmp_path):
    write(tmp_path / "a.txt", "A headline\n" + BODY)
    write(tmp_path / "2022" / "02" / "b.md", "Another headline\nIt rained in Bamako on Monday.\n")
    write(tmp_path / ".git" / "c.txt", "Hidden headline\nThis must never be read.\n")
    documents = load_corpus(tmp_path)
    assert [d.source for d in documents] == ["2022/02/b.md", "a.txt"]


def test_a_single_file_is_a_corpus():
    [document] = load_corpus(ARTICLE)
    assert document.source == ARTICLE.name
    assert document.title == TITLE


def test_one_line_file_is_body_titled_by_its_name(tmp_path):
    write(tmp_path / "mali-news_today.txt", "Only one line of text here, a sentence.\n")
    [document] = load_corpus(tmp_path)
    assert document.title == "mali news today"
    assert document.title_span is None
    assert body_lines(document) == ["Only one line of text here, a sentence."]


# Line classification and offsets


def test_markdown_headings(tmp_path):
    text = (
        "# The headline\n\n"
        "## A section\n\n"
        "A paragraph under the section, with a full sentence.\n\n"
        "### Why France is leaving Mali, a longer section title of many words\n"
        "Another paragraph.\n"
    )
    write(tmp_path / "a.md", text)
    [document] = load_corpus(tmp_path)
    assert document.title == "The headline"
    assert lines_of(document, document.headings) == [
        "## A section",
        "### Why France is leaving Mali, a longer section title of many words",
    ]
    assert body_lines(document) == [
        "A paragraph under the section, with a full sentence.",
        "Another paragraph.",
    ]


def test_hash_line_in_a_txt_file_is_not_a_markdown_heading(tmp_path):
    write(
        tmp_path / "a.txt",
        "Headline\n#1 in the charts for the twelfth week running, the song sold.\n",
    )
    [document] = load_corpus(tmp_path)
    assert document.headings == ()
    assert len(document.body_spans) == 1


def test_crlf_line_endings_keep_exact_offsets(tmp_path):
    lf = "A headline\n" + BODY + "READ MORE: elsewhere\nThe last paragraph, with an ending.\n"
    write(tmp_path / "a.txt", lf.replace("\n", "\r\n"))
    [document] = load_corpus(tmp_path)
    assert document.text == lf.replace("\n", "\r\n")
    assert document.title == "A headline"
    assert body_lines(document) == [
        "The first paragraph says something about the world.",
        "The second paragraph says something else, and more.",
        "The last paragraph, with an ending.",
    ]


def test_bom_is_dropped_and_offsets_index_the_decoded_text(tmp_path):
    write(tmp_path / "a.txt", codecs.BOM_UTF8 + ("Café headline\n" + BODY).encode("utf-8"))
    [document] = load_corpus(tmp_path)
    assert not document.text.startswith("\ufeff")
    assert document.title == "Café headline"
    assert document.text[document.title_span.start : document.title_span.end] == "Café headline"
    assert body_lines(document) == BODY.splitlines()


def test_parse_document_keeps_every_character():
    text = "  Título con acentos  \r\n\r\n\t首先。 Première phrase.  \rSecond line — “quoted”.\n"
    document = parse_document(text, "x.txt", BoilerplateRules.load())
    assert document.text == text
    assert document.title == "Título con acentos"
    assert body_lines(document) == ["首先。 Première phrase.", "Second line — “quoted”."]


def test_document_repr_is_short():
    document = parse_document("Title\n" + "word " * 1000 + ".", "long.txt", BoilerplateRules.load())
    assert len(repr(document)) < 120


# Web pages and PDFs in a corpus folder


def test_html_and_pdf_files_are_read_with_the_same_extraction(tmp_path):
    write(tmp_path / "a.txt", "A headline\n" + BODY)
    write(tmp_path / "drought.html", ARTICLE_HTML)
    write(tmp_path / "drought.pdf", make_pdf())
    documents = {d.source: d for d in load_corpus(tmp_path)}
    assert set(documents) == {"a.txt", "drought.html", "drought.pdf"}
    page, pdf = documents["drought.html"], documents["drought.pdf"]
    assert page.title == "Drought pushes Sahel herders south as wells run dry"
    assert "<p>" not in page.text and "Sign in" not in page.text
    assert pdf.title == "Drought pushes Sahel herders south"
    for document in (page, pdf):
        passages = chunk_document(document)
        assert passages and all(document.text[p.start : p.end] == p.text for p in passages)


def test_a_pdf_without_text_in_the_corpus_is_an_error_that_names_it(tmp_path):
    write(tmp_path / "scan.pdf", make_scanned_pdf())
    with pytest.raises(CorpusError, match=r"scan\.pdf: a scanned PDF needs OCR"):
        load_corpus(tmp_path)


def test_a_pdf_with_a_text_name_is_read_as_a_pdf(tmp_path, caplog):
    write(tmp_path / "report.txt", make_pdf())
    with caplog.at_level(logging.WARNING, logger="qa.ingest.corpus"):
        [document] = load_corpus(tmp_path)
    assert "Herders from northern Burkina Faso" in document.text
    assert "holds a PDF, not plain text: read as pdf" in caplog.text


# Texts held in memory


def test_documents_from_texts_reads_them_like_files():
    [plain, notes] = documents_from_texts(
        {"plain.txt": "A headline\n" + BODY, "notes.md": "# Notes\n\n## Part one\n\n" + BODY}
    )
    assert (plain.source, plain.title) == ("plain.txt", "A headline")
    assert body_lines(plain) == BODY.splitlines()
    assert notes.title == "Notes" and lines_of(notes, notes.headings) == ["## Part one"]


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ({"a.txt": ""}, r"a\.txt: the text is empty"),
        ({"a.txt": "Headline\nREAD MORE: elsewhere\n"}, r"a\.txt: nothing to search"),
        ({"": "Headline\n" + BODY}, r"names must be non-empty strings"),
        ({"a.txt": b"bytes"}, r"a\.txt: the text must be a string, got bytes"),
    ],
)
def test_documents_from_texts_refuses_bad_texts(texts, message):
    with pytest.raises(CorpusError, match=message):
        documents_from_texts(texts)


def test_documents_from_texts_skips_a_repeated_text(caplog):
    with caplog.at_level(logging.WARNING, logger="qa.ingest.corpus"):
        documents = documents_from_texts({"a.txt": "H\n" + BODY, "b.txt": "H\n" + BODY})
    assert [d.source for d in documents] == ["a.txt"]
    assert "Skipping b.txt: same content as a.txt" in caplog.text


# Web-page leftovers in pasted text


def test_a_pasted_page_keeps_its_paragraphs_and_drops_the_rest():
    """A page pasted from a browser, with the shapes real news pages have: byline,
    datelines, link lists under "Related Stories", "Most Viewed" and "Editor's Picks",
    an ALSO READ line, agency credit, tags, a photo credit and a copyright line."""
    text = PASTED_PAGE.read_text(encoding="utf-8")
    document = parse_document(text, "pasted.txt", BoilerplateRules.load())
    passages = [p.text for p in chunk_document(document)]
    assert document.title == "Drought pushes Sahel herders south as wells run dry"
    assert len(passages) == 5
    assert passages[0].startswith("Herders from northern Burkina Faso")
    assert passages[-1].startswith("A regional veterinary agency warned")
    assert any(p.startswith("The movement has raised tension") for p in passages)
    shown = "\n".join(passages + body_lines(document))
    for leftover in (
        "Why is the Sahel getting hotter?",  # under Related Stories, a sentence of its own
        "Will the rains come late again this year?",  # a numbered Most Viewed item
        "The women rebuilding Timbuktu",  # an Editor's Picks item with a full stop
        "ALSO READ",
        "With inputs from agencies",
        "Country:",
        "Tags:",
        "Published:",
        "Photo:",
        "All rights reserved",
        "Share this article",
    ):
        assert leftover not in shown, leftover


@pytest.mark.parametrize(
    "line",
    [
        "Related Stories",
        "RELATED ARTICLES:",
        "Most Viewed",
        "Most read",
        "Editor's Picks",
        "Editors' Choice",
        "You may also like",
        "More from Sahel Daily",
        "Top Stories",
    ],
)
def test_list_headings_open_a_block(line):
    assert BoilerplateRules.load().opens_block(line)


@pytest.mark.parametrize(
    "line",
    [
        "ALSO READ: Junta extends emergency",
        "Also Read | Mali names a new premier",
        "(With inputs from agencies.)",
        "(Reporting by Amina Diallo; Editing by Sam Holmes)",
        "- Country: Mali",
        "Tags: Sahel, drought",
        "Published: 3 March 2023 09:14 GMT",
        "Updated 3 March 2023",
        "Photo: Herders near Dori. Credit: Reuters",
        "\u00a9 2023 Sahel Daily",
        "Copyright 2023 The Associated Press. All rights reserved.",
    ],
)
def test_page_leftovers_are_boilerplate(line):
    assert BoilerplateRules.load().matches(line)


@pytest.mark.parametrize(
    "line",
    [
        "Related stories of survival emerged from the villages after the floods.",
        "The country: a land of herders and farmers, said the minister on Monday.",
        "Published reports said 200 soldiers had died in Mali since 2013.",
        "Most viewers of the broadcast were in Bamako.",
    ],
)
def test_prose_that_starts_like_a_leftover_is_kept(line):
    rules = BoilerplateRules.load()
    assert not rules.matches(line) and not rules.opens_block(line)


def test_a_short_paragraph_after_a_link_list_survives():
    text = (
        "Headline\nThe first paragraph of the article is here, and it says enough.\n"
        "Related Stories\nOne headline\nAnother headline about something\n"
        "The next paragraph of the article goes on after the list of links, as articles do.\n"
    )
    document = parse_document(text, "a.txt", BoilerplateRules.load())
    assert body_lines(document) == [
        "The first paragraph of the article is here, and it says enough.",
        "The next paragraph of the article goes on after the list of links, as articles do.",
    ]
