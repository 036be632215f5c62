"""A question as typed to the question read: markup, control characters and excess
length dropped before anything else reads it.

Questions are cut to ``qa.limits.MAX_QUESTION_CHARS``: the model reads at most 256
word pieces (about 1,000 characters of English), so a longer question only costs time,
and the cut comes before tokenising so a huge input stays cheap.
"""

from __future__ import annotations

import re
import unicodedata

from qa.limits import MAX_QUESTION_CHARS

# C0/C1 controls, and zero-width spaces and BOMs that would make a blank look non-empty.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u200c\u2060\ufeff]")
# Markup pasted around a question is not part of it: terminal colour codes, HTML
# elements (a script or style element with its content) and Markdown links and images
# (kept: their text). Left in, "alert(1)" or a link's address would be read as
# something the question asks about ("The article does not mention 1."). Only real
# HTML element names count, and only link targets that look like addresses, so
# "Who is <Macron>?" or "[sic](2012)" stay as typed.
_HTML_ELEMENTS = (
    "a|abbr|article|audio|b|big|blockquote|body|br|button|caption|center|cite|code|del|"
    "details|div|em|embed|font|footer|form|h[1-6]|head|header|hr|html|i|iframe|img|input|"
    "ins|label|li|link|main|mark|meta|nav|object|ol|option|p|pre|q|s|section|select|small|"
    "source|span|strike|strong|sub|summary|sup|svg|table|tbody|td|textarea|th|thead|title|"
    "tr|tt|u|ul|video"
)
_MARKUP = (
    (re.compile(r"\x1b\[[0-9;?]*[A-Za-z]"), ""),
    (re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL), " "),
    (re.compile(rf"</?(?:{_HTML_ELEMENTS}|script|style)\b[^<>]*>", re.IGNORECASE), " "),
)
_MARKDOWN_LINK = re.compile(r"!?\[([^\[\]]*)\]\(((?:[^()\s]|\([^()\s]*\))*)\)")


def _link_text(match: re.Match[str]) -> str:
    """A Markdown link's text when its target looks like an address, else all of it."""
    return match.group(1) if re.search(r"[:/#]", match.group(2)) else match.group(0)


_SPACE = re.compile(r"\s+")


def prepare_question(question: object) -> str:
    """The question as the model should see it, or ``ValueError`` if nothing is left.

    Markup (``_MARKUP``), control characters and lone surrogates are dropped,
    whitespace collapsed, and the text cut to ``MAX_QUESTION_CHARS``.
    """
    if not isinstance(question, str):
        raise TypeError(f"question must be a string, got {type(question).__name__}")
    text = question[: MAX_QUESTION_CHARS * 4]  # bound the work below on huge inputs
    for pattern, replacement in _MARKUP:
        text = pattern.sub(replacement, text)
    text = _MARKDOWN_LINK.sub(_link_text, text)
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates -> "?"
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", text))
    text = _SPACE.sub(" ", text).strip()[:MAX_QUESTION_CHARS].strip()
    if not text:
        raise ValueError(
            "question is empty: type a question about the article, e.g. "
            "'Why is France leaving Mali?'"
        )
    return text


def echo(question: str) -> str:
    """``question`` as an answer repeats it: no longer than the part that is read, and
    text any JSON encoder takes (a lone surrogate becomes "?")."""
    shown = (
        question if len(question) <= MAX_QUESTION_CHARS else question[:MAX_QUESTION_CHARS] + " …"
    )
    return shown.encode("utf-8", "replace").decode("utf-8")
