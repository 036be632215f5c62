"""Two more signals tried for telling a wrong confident answer from a right one, on the
``dev`` split only (docs/quality.md, "Confident answers": the table of signals measured
and not kept).

    .venv/bin/python bench/confidence_signals.py

Each signal is tried as a further condition on the answers ``ask`` shows as confident
(kept only at or above a value). Printed per signal: the range of the wrong ones, the
lowest and median of the right ones, and the best ``dev`` precision at a value that
keeps coverage at ``CALIBRATION_COVERAGE`` or more.

- **covered**: for each content word of the question (not a stop word or a question
  word), its best cosine to a token of the answer's passage, using the model's own
  contextual token vectors (a word's pieces averaged); the signal is the least
  covered word's: BERTScore's recall (Zhang et al., ICLR 2020) taken at its minimum,
  since one uncovered word ("visit", "outside") is what a neighbouring question has.
- **left out**: the question embedded again with each content word left out; the
  signal is the least the question's cosine to the answer sentence falls (negative:
  it rises, so the sentence does not speak to that word).

It runs on ``dev`` and nowhere else: a signal is chosen there and, if kept, reported
on ``heldout`` by ``qa eval``. Neither was kept.
"""

from __future__ import annotations

import re
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.answer.answering import CALIBRATION_COVERAGE  # noqa: E402
from qa.answer.question_shape import AUX, WH  # noqa: E402
from qa.evaluation.quality import contains_answer, load_questions  # noqa: E402
from qa.index.lexical import STOPWORDS  # noqa: E402
from qa.retriever import Retriever  # noqa: E402

QUESTIONS = ROOT / "qa" / "evaluation" / "sets" / "questions.jsonl"
# A question's own words ("how many", "did") ask; they are not what it is about.
QUESTION_WORDS = WH | AUX | {"many", "much"}


@dataclass(frozen=True)
class Row:
    """One confident ``dev`` answer and its signals."""

    question: str
    right: bool
    covered: float
    left_out: float


def content_word(word: str) -> bool:
    bare = re.sub(r"\W", "", word).lower()
    return bool(bare) and bare not in STOPWORDS and bare not in QUESTION_WORDS


class TokenVectors:
    """The model's contextual token vectors, a word's pieces averaged and normalised."""

    def __init__(self) -> None:
        from sentence_transformers import SentenceTransformer

        from qa.index.torch_encoder import bundled_model_path

        self.model = SentenceTransformer(str(bundled_model_path()), device="cpu")

    def words(self, text: str) -> list[tuple[str, np.ndarray]]:
        tokenizer = self.model.tokenizer
        encoded = tokenizer(text, return_offsets_mapping=True, truncation=True)
        token_vectors: Any = self.model.encode([text], output_value="token_embeddings")[0]
        vectors = np.asarray(token_vectors.cpu())  # a tensor, one row per token
        pieces: dict[int, list[int]] = {}
        for position, word in enumerate(encoded.word_ids()):
            if word is not None:
                pieces.setdefault(word, []).append(position)
        out = []
        for positions in pieces.values():
            start = encoded["offset_mapping"][positions[0]][0]
            end = encoded["offset_mapping"][positions[-1]][1]
            vector = vectors[positions].mean(axis=0)
            out.append((text[start:end], vector / np.linalg.norm(vector)))
        return out


def covered(tokens: TokenVectors, question: str, passage: str) -> float:
    asked = [vector for word, vector in tokens.words(question) if content_word(word)]
    if not asked:
        return 1.0
    present = np.stack([vector for _, vector in tokens.words(passage)])
    return float(min(np.max(present @ vector) for vector in asked))


def left_out(retriever: Retriever, question: str, sentence: str) -> float:
    words = question.split()
    kept = [i for i, word in enumerate(words) if content_word(word)]
    if not kept:
        return 0.0
    variants = [question] + [" ".join(w for j, w in enumerate(words) if j != i) for i in kept]
    vectors = retriever.embedder.encode_queries(variants)
    target = retriever.embedder.encode_documents([sentence])[0]
    cosines = vectors @ target
    return float(min(cosines[0] - cosines[1:]))


def best_cut(rows: Sequence[Row], signal: Callable[[Row], float], answerable: int) -> str:
    """The best precision a cut on ``signal`` gives while coverage stays at the floor."""
    best: tuple[float, float, float] | None = None
    for cut in sorted({signal(row) for row in rows}):
        kept = [row for row in rows if signal(row) >= cut]
        right = sum(row.right for row in kept)
        if right / answerable < CALIBRATION_COVERAGE:
            continue
        if best is None or right / len(kept) > best[0]:
            best = (right / len(kept), right / answerable, cut)
    if best is None:
        return "no cut keeps the coverage floor"
    return f"{best[0]:.3f} / {best[1]:.3f} (at {best[2]:.3f})"


def main() -> None:
    questions = [q for q in load_questions(QUESTIONS) if q.split == "dev"]
    retriever = Retriever.from_corpus(ROOT / "corpus")
    tokens = TokenVectors()
    rows = []
    for question in questions:
        answer = retriever.ask(question.question)
        if not answer.confident or answer.answer is None:
            continue
        rows.append(
            Row(
                question.question,
                contains_answer(answer.answer.text, question.answers),
                covered(tokens, answer.read_as, answer.passages[0].text),
                left_out(retriever, answer.read_as, answer.answer.text),
            )
        )
    answerable = sum(q.answerable for q in questions)
    right = sum(row.right for row in rows)
    print(
        f"dev: {len(rows)} confident answers, {right} right, {answerable} answerable "
        f"(precision {right / len(rows):.3f}, coverage {right / answerable:.3f})"
    )
    print("| signal | wrong: range | right: lowest, median | best dev P / coverage |")
    print("|---|---|---|---|")
    signals: dict[str, Callable[[Row], float]] = {
        "covered": lambda row: row.covered,
        "left out": lambda row: row.left_out,
    }
    for name, signal in signals.items():
        wrong = sorted(signal(row) for row in rows if not row.right)
        good = sorted(signal(row) for row in rows if row.right)
        print(
            f"| {name} | {wrong[0]:.2f} to {wrong[-1]:.2f} | {good[0]:.2f}, "
            f"{statistics.median(good):.2f} | {best_cut(rows, signal, answerable)} |"
        )
    for row in rows:
        if not row.right:
            print(f"wrong: covered {row.covered:.2f}, left out {row.left_out:+.3f}: {row.question}")


if __name__ == "__main__":
    main()
