"""Benchmark corpora of real English text that this machine has offline.

The large corpora are Debian's package descriptions (about 60,000 of them, a few
sentences to a few paragraphs each), written one package per document, the way
articles are: the short description as the title line, the long one as the body.
They come from apt's English description index (``Translation-en``), which
``apt-get update -o Acquire::Languages=en`` fetches when the machine lacks it.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

APT_LISTS = Path("/var/lib/apt/lists")
APT_HELPER = "/usr/lib/apt/apt-helper"  # decompresses apt's lists (lz4, xz, gz)
FETCH_HINT = "apt-get update -o Acquire::Languages=en"


class MissingTextError(RuntimeError):
    """The machine has no English package descriptions; the message says how to get them."""


@dataclass(frozen=True)
class Description:
    package: str
    title: str
    body: str

    @property
    def filename(self) -> str:
        return re.sub(r"[^A-Za-z0-9._-]", "_", self.package) + ".txt"

    def as_document(self) -> str:
        return f"{self.title}\n\n{self.body}\n"


def translation_files() -> list[Path]:
    """apt's English description files, largest (the main archive) first."""
    files = [p for p in APT_LISTS.glob("*_i18n_Translation-en*") if p.stat().st_size > 0]
    return sorted(files, key=lambda p: -p.stat().st_size)


def descriptions() -> Iterator[Description]:
    """Every package description with a body, each text once (many packages share one)."""
    files = translation_files()
    if not files:
        raise MissingTextError(
            f"No English package descriptions in {APT_LISTS}: run `{FETCH_HINT}` (as root) "
            "to fetch them, then run the benchmark again."
        )
    seen: set[str] = set()
    for file in files:
        text = subprocess.run(
            [APT_HELPER, "cat-file", str(file)], check=True, capture_output=True, text=True
        ).stdout
        for record in text.split("\n\n"):
            description = _parse(record)
            if description is None:
                continue
            digest = hashlib.sha256(description.body.encode()).hexdigest()
            if digest not in seen:
                seen.add(digest)
                yield description


def _parse(record: str) -> Description | None:
    package, title, body_lines, in_body = "", "", [], False
    for line in record.splitlines():
        if line.startswith("Package: "):
            package = line[9:].strip()
        elif line.startswith("Description-en: "):
            title, in_body = line[16:].strip(), True
        elif in_body and line.startswith(" "):
            body_lines.append(line[1:])
        else:
            in_body = False
    # Debian's format: " ." is an empty line (a paragraph break); lines are wrapped.
    paragraphs, current = [], []
    for line in body_lines:
        if line.strip() == ".":
            paragraphs.append(" ".join(current))
            current = []
        else:
            current.append(line.strip())
    paragraphs.append(" ".join(current))
    body = "\n\n".join(p for p in paragraphs if p)
    if not package or not title or not body:
        return None
    return Description(package, title, body)


def write_corpus(folder: Path, items: list[Description]) -> Path:
    """Write one document per description into ``folder`` (replacing what was there)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.txt"):
        old.unlink()
    for item in items:
        (folder / item.filename).write_text(item.as_document(), encoding="utf-8")
    return folder


def questions_for(items: list[Description], count: int) -> list[str]:
    """Questions a user might ask of such a corpus, from the titles of its documents."""
    step = max(1, len(items) // count)
    return [f"Which package is a {d.title[:1].lower() + d.title[1:]}?" for d in items[::step]][
        :count
    ]
