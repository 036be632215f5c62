"""Real files for the extraction and upload tests, made here rather than shipped.

PDFs are written with pypdf and a standard font, so their text layer is real and
pypdf reads it back the way it reads any PDF; the hostile ones (a decompression
bomb, a scan without text, a password, too many pages) are built the same way.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Sequence

from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    StreamObject,
)

ARTICLE_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Drought pushes Sahel herders south | Sahel Daily</title></head>
<body>
<header><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/africa">Africa</a>
<a href="/sport">Sport</a> <a href="/login">Sign in</a></nav></header>
<main><article>
<h1>Drought pushes Sahel herders south as wells run dry</h1>
<p class="byline">By Amina Diallo</p>
<p>Herders from northern Burkina Faso have begun moving their cattle hundreds of
kilometres south, as the driest season in a decade empties the wells they rely on.</p>
<p>Local officials in Dori said that more than 60,000 animals had crossed the district
since January, twice the usual number for the season.</p>
<p>"We have never seen the ponds gone this early," said Hamidou Sow, a herder who left
Djibo with his family and 200 cows.</p>
<aside><h3>Related Stories</h3><ul>
<li><a href="/a">Why is the Sahel getting hotter?</a></li>
<li><a href="/b">Niger opens new border post for livestock traders</a></li></ul></aside>
<p>The movement has raised tension with farmers in the south, where crops are not yet
harvested, and local leaders have called for calm.</p>
</article></main>
<footer><p>Copyright 2023 Sahel Daily. All rights reserved.</p>
<a href="/privacy">Privacy</a> <a href="/terms">Terms</a></footer>
</body></html>
"""

NAVIGATION_HTML = (
    "<!DOCTYPE html><html><head><title>Sahel Daily: home</title></head><body><nav>"
    + "".join(f'<a href="/s{i}">Section {i}</a> ' for i in range(40))
    + "</nav><ul>"
    + "".join(
        f'<li><a href="/story/{i}">Story number {i} about the region</a></li>' for i in range(30)
    )
    + "</ul><footer>Copyright 2023</footer></body></html>"
)

PDF_PAGES = [
    [
        "Drought pushes Sahel herders south",
        "",
        "Herders from northern Burkina Faso have begun moving their cattle hun-",
        "dreds of kilometres south, as the driest season in a decade empties the",
        "wells they rely on, local officials and herders said this week.",
        "",
        "Local officials in Dori said that more than 60,000 animals had crossed",
        "the district since January, twice the usual number.",
    ],
    [
        "A regional veterinary agency warned that animals weakened by thirst",
        "were more exposed to disease than in any year since 2012.",
    ],
]


def _escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _font() -> DictionaryObject:
    return DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
            NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
        }
    )


def _page_with(writer: PdfWriter, content: StreamObject, resources: DictionaryObject) -> None:
    page = writer.add_blank_page(width=612, height=792)
    page[NameObject("/Resources")] = resources
    page[NameObject("/Contents")] = writer._add_object(content)


def make_pdf(pages: Sequence[Sequence[str]] = PDF_PAGES, *, password: str | None = None) -> bytes:
    """A PDF whose pages hold ``pages`` (lists of lines) as real text, in Helvetica."""
    writer = PdfWriter()
    for lines in pages:
        ops = ["BT /F1 11 Tf 14 TL 72 720 Td"]
        ops += [f"({_escape(line)}) Tj T*" for line in lines]
        ops.append("ET")
        content = DecodedStreamObject()
        content.set_data("\n".join(ops).encode("latin-1"))
        font = DictionaryObject({NameObject("/F1"): writer._add_object(_font())})
        _page_with(writer, content, DictionaryObject({NameObject("/Font"): font}))
    if password is not None:
        writer.encrypt(password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_scanned_pdf(pages: int = 2) -> bytes:
    """A PDF like a scan: each page one grey image, no text layer at all."""
    writer = PdfWriter()
    for _ in range(pages):
        image = DecodedStreamObject()
        image.set_data(bytes([128]) * 64 * 64)
        image.update(
            {
                NameObject("/Type"): NameObject("/XObject"),
                NameObject("/Subtype"): NameObject("/Image"),
                NameObject("/Width"): NumberObject(64),
                NameObject("/Height"): NumberObject(64),
                NameObject("/ColorSpace"): NameObject("/DeviceGray"),
                NameObject("/BitsPerComponent"): NumberObject(8),
            }
        )
        content = DecodedStreamObject()
        content.set_data(b"q 540 0 0 720 36 36 cm /Im1 Do Q")
        xobjects = DictionaryObject({NameObject("/Im1"): writer._add_object(image)})
        _page_with(writer, content, DictionaryObject({NameObject("/XObject"): xobjects}))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_bomb_pdf(inflated_mb: int = 100) -> bytes:
    """A small PDF whose page content inflates to ``inflated_mb`` MB (compressed ~0.1%)."""
    packer = zlib.compressobj(9)
    block = b" " * (1 << 20)
    compressed = b"".join(packer.compress(block) for _ in range(inflated_mb)) + packer.flush()
    writer = PdfWriter()
    content = StreamObject()
    content._data = compressed
    content[NameObject("/Filter")] = NameObject("/FlateDecode")
    _page_with(writer, content, DictionaryObject({NameObject("/ProcSet"): ArrayObject()}))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_long_pdf(pages: int) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=612, height=792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def ten_thousand_words() -> str:
    """A 10,000-word article of varied, real-looking sentences (deterministic)."""
    places = ["Dori", "Djibo", "Gao", "Mopti", "Niamey", "Kayes", "Tahoua", "Agadez", "Sikasso"]
    things = ["wells", "markets", "roads", "schools", "clinics", "herds", "harvests", "prices"]
    verbs = ["reported", "described", "measured", "recorded", "questioned", "welcomed"]
    lines = ["A season of drought across the Sahel"]
    words = 0
    n = 0
    while words < 10_000:
        place, thing, verb = places[n % 9], things[n % 8], verbs[n % 6]
        sentence = (
            f"In {place}, officials {verb} that the {thing} had changed in week {n + 1}, "
            f"and {n * 37 % 900 + 100} families said the change reached them within days."
        )
        if n % 4 == 0:
            lines.append("")
        lines.append(sentence)
        words += len(sentence.split())
        n += 1
    return "\n".join(lines) + "\n"
