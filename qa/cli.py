"""The ``qa`` command: ``qa ask "question"``, ``qa build [corpus]`` and ``qa eval [questions]``."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from qa import stopping
from qa.answer.answering import answer_label, match_label
from qa.answer.question import prepare_question
from qa.answer.search import MODES
from qa.evaluation.calibration import calibrate, choose, format_calibration, format_sweep, sweep
from qa.evaluation.followups import (
    format_followup_table,
    history_regressions,
    report_followups,
    run_followups,
)
from qa.evaluation.quality import QuestionSetError, format_table, load_questions, report
from qa.evaluation.quality import run as run_questions
from qa.index.embedder import ModelError
from qa.index.milvus_connection import StoreError
from qa.ingest.corpus import CorpusError
from qa.limits import check_k
from qa.retriever import Retriever, default_corpus
from qa.types import Answer, Hit

# The question sets shipped with qa, over the bundled article (package data).
SETS = Path(__file__).resolve().parent / "evaluation" / "sets"
DEFAULT_QUESTIONS = SETS / "questions.jsonl"
DEFAULT_FOLLOWUPS = SETS / "followups.jsonl"
# The seed of the history check: which other question each one is asked after.
HISTORY_CHECK_SEED = 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``qa`` console script and ``python -m qa``."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("faiss", "sentence_transformers", "httpx", "filelock", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    stopping.clear()
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops as cleanly as Ctrl-C
    signal.signal(signal.SIGINT, _interrupt)
    try:
        return int(args.run(args))
    except (CorpusError, ModelError, QuestionSetError, StoreError, ValueError) as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "qa: interrupted. The index on disk is unchanged and the documents embedded "
            "so far are kept: run the same command again to resume.",
            file=sys.stderr,
        )
        return 130


def _interrupt(signum: int, frame: object) -> None:
    stopping.request()  # remembered, in case a library swallows the exception
    raise KeyboardInterrupt


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa", description="Answer questions about news articles by quoting them."
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="only warnings and errors on stderr"
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    ask = commands.add_parser("ask", help="print the passages that answer a question")
    ask.add_argument("question")
    ask.add_argument("-k", type=int, default=3, help="how many passages (default 3)")
    ask.add_argument("--json", action="store_true", help="print the result as JSON")
    ask.add_argument(
        "--url",
        action="append",
        metavar="URL",
        help="ask the article at this link instead of the corpus (repeat for several)",
    )
    _common(ask)
    ask.set_defaults(run=_ask)

    build = commands.add_parser("build", help="build (or check) the index of a corpus")
    build.add_argument(
        "corpus_dir",
        nargs="?",
        type=Path,
        help="corpus folder (default: QA_CORPUS, ./corpus, else the bundled article)",
    )
    build.add_argument(
        "--rebuild", action="store_true", help="rebuild even if the cache is up to date"
    )
    _common(build)
    build.set_defaults(run=_build)

    evaluate = commands.add_parser(
        "eval", help="measure answer quality on a question set (JSON Lines, see README)"
    )
    evaluate.add_argument(
        "questions", nargs="?", type=Path, help=f"question file (default: {DEFAULT_QUESTIONS})"
    )
    evaluate.add_argument(
        "--modes",
        default=",".join(MODES),
        help=f"retrieval modes to compare, comma-separated (default: {','.join(MODES)})",
    )
    evaluate.add_argument(
        "--followups",
        type=Path,
        help=f"follow-up question set (questions with a history; default: {DEFAULT_FOLLOWUPS} "
        "when no question file is given)",
    )
    evaluate.add_argument(
        "--no-followups", action="store_true", help="skip the follow-ups and the history check"
    )
    evaluate.add_argument("--json", action="store_true", help="print the results as JSON")
    _common(evaluate)
    evaluate.set_defaults(run=_eval)
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--corpus",
        type=Path,
        help="corpus folder (default: QA_CORPUS, ./corpus, else the bundled article)",
    )
    parser.add_argument(
        "--model",
        help="sentence-transformers model name or path "
        "(default: QA_MODEL or bundled all-MiniLM-L6-v2)",
    )
    parser.add_argument(
        "--cache-dir", type=Path, help="index cache folder (default: QA_CACHE_DIR or ~/.cache/qa)"
    )
    parser.add_argument(
        "--encoder",
        choices=("auto", "onnx", "onnx-int8", "torch"),
        help="run the model with ONNX Runtime or PyTorch (same vectors; ONNX starts "
        "faster); default QA_ENCODER or auto: ONNX Runtime where it can run the model",
    )
    # Every command takes it: an index built with one kind is rebuilt if asked for another.
    parser.add_argument(
        "--index-kind",
        choices=("auto", "flat", "ivf", "hnsw"),
        help="exact (flat) or approximate (ivf, hnsw) search; default QA_INDEX_KIND "
        "or auto: flat up to 50,000 passages, ivf above",
    )


def _retriever(
    args: argparse.Namespace, corpus: Path | None = None, rebuild: bool = False
) -> Retriever:
    return Retriever.from_corpus(
        corpus or args.corpus or default_corpus(),
        model=args.model,
        cache_dir=args.cache_dir,
        rebuild=rebuild,
        index_kind=args.index_kind,
        encoder=args.encoder,
    )


def _ask(args: argparse.Namespace) -> int:
    prepare_question(args.question)  # an empty question is an error before any loading
    check_k(args.k)  # else ask() would turn it into a "not found" answer and exit 0
    if args.url:
        retriever = Retriever.from_urls(args.url, model=args.model, encoder=args.encoder)
    else:
        retriever = _retriever(args)
    result = retriever.ask(args.question, k=args.k)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return 0
    color = sys.stdout.isatty()
    print(format_answer(result, color=color) + "\n")
    for rank, hit in enumerate(result.passages, start=1):
        print(
            format_hit(
                rank, hit, color=color, related=rank > result.answering, confident=result.confident
            )
        )
    return 0


def format_answer(result: Answer, *, color: bool = False) -> str:
    """The answer first, for the terminal: the sentence quoted with its key phrase
    marked and where it stands; or what the article does not say."""
    quote = result.answer
    if not result.found or quote is None:
        return result.message
    open_mark, close_mark = ("\033[1;4m", "\033[0m") if color else ("**", "**")
    before, key, after = quote.around_key()
    text = before + (open_mark + key + close_mark if key else "") + after
    lead = "Answer" if result.confident else "The closest the article comes"
    return (
        f"{lead}: “{text}” [{quote.passage}]\n"
        f"    paragraph {quote.paragraph} of {quote.paragraphs} of {quote.source} · "
        f"{answer_label(quote.score, result.confident)}"
    )


def format_hit(
    rank: int, hit: Hit, *, color: bool = False, related: bool = False, confident: bool = True
) -> str:
    """A passage for the terminal: where it is from, then its text with the answer
    sentence marked. A ``related`` passage (one that does not answer) is said to be
    one and has nothing marked; nor has a passage that is its answer sentence alone.
    The passages of an answer that is not ``confident`` are at most a "weak match"."""
    open_mark, close_mark = ("\033[1;4m", "\033[0m") if color else ("**", "**")
    marked = hit.text
    if not related and hit.answer.strip() != hit.text.strip():
        marked = (
            hit.text[: hit.answer_start]
            + open_mark
            + hit.answer
            + close_mark
            + hit.text[hit.answer_end :]
        )
    label = "not an answer · " if related else ""
    strength = match_label(hit.score) if related else answer_label(hit.score, confident)
    return (
        f"[{rank}] {label}{strength} ({hit.score:.2f}) · {hit.source} · "
        f"paragraph {hit.paragraph} of {hit.paragraphs} · characters {hit.start}-{hit.end}\n"
        f"    {marked.replace(chr(10), chr(10) + '    ')}\n"
    )


def _build(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    retriever = _retriever(args, args.corpus_dir, rebuild=args.rebuild)
    seconds = time.perf_counter() - began
    what = "Index up to date (loaded from cache)" if retriever.from_cache else "Built the index"
    print(
        f"{what}: {len(retriever.documents)} documents, {len(retriever.passages)} passages, "
        f"model {retriever.model_name}, in {seconds:.1f} s.\nCache: {retriever.cache_folder}"
    )
    return 0


def _eval(args: argparse.Namespace) -> int:
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if unknown := [m for m in modes if m not in MODES]:
        raise ValueError(f"--modes: unknown mode {unknown[0]!r}; choose from {', '.join(MODES)}")
    loaded = load_questions(args.questions or DEFAULT_QUESTIONS)
    questions = [q for q in loaded if not q.history]
    followups = [q for q in loaded if q.history]
    followups_file = args.followups or (None if args.questions else DEFAULT_FOLLOWUPS)
    if followups_file is not None and not args.no_followups and Path(followups_file).is_file():
        followups += load_questions(followups_file)
    elif args.followups is not None and not args.no_followups:
        load_questions(args.followups)  # a missing file named on purpose is an error
    if args.no_followups:
        followups = []
    retriever = _retriever(args)
    outcomes = run_questions(retriever, questions, modes) if questions else {}
    rows = report(outcomes) if outcomes else []
    # Calibration of the shipped default: what "confident" and the labels are worth.
    shipped = outcomes.get("hybrid", [])
    calibration, swept = calibrate(shipped), sweep(shipped)
    chosen = choose(swept)
    followup_rows = report_followups(run_followups(retriever, followups)) if followups else []
    worse = history_regressions(retriever, questions, HISTORY_CHECK_SEED) if followups else []
    if args.json:
        result = {
            "rows": [row.to_dict() for row in rows],
            "calibration": [row.to_dict() for row in calibration],
            "sweep": {"chosen_on_dev": chosen, "rows": [row.to_dict() for row in swept]},
            "followups": [row.to_dict() for row in followup_rows],
            "history_check": {
                "questions": len(questions) if followups else 0,
                "seed": HISTORY_CHECK_SEED,
                "worse": [
                    {"question": w.question.question, "after": w.previous, "read_as": w.read_as}
                    for w in worse
                ],
            },
        }
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"{len(questions)} questions, {len(followups)} follow-ups, {len(retriever.passages)} "
        f"passages, model {retriever.model_name}. Modes: hybrid is the shipped default.\n"
    )
    if rows:
        print(format_table(rows))
        print(
            "\nhit@k, MRR@5, sentence: answerable questions; abst.P/abst.R: precision/recall "
            "of 'not in the article'; wrong abst.: answerable questions it abstained on; "
            "chars: length of the first passage; p50 ms: median time of search()."
        )
    if calibration:
        print("\nConfident answers and labels (hybrid): how often each was right.\n")
        print(format_calibration(calibration))
        print(
            "\nanswers: questions shown so; right: of those, the sentence shown holds an "
            "answer (a confident answer to an unanswerable question is wrong); precision: "
            "right / answers; coverage: right / answerable questions of the split."
        )
        print("\nThreshold sweep of CONFIDENT_SCORE, chosen on dev, reported on heldout:\n")
        print(format_sweep(swept, chosen))
    if followup_rows:
        print("\nFollow-ups, asked alone and after their history (hybrid):\n")
        print(format_followup_table(followup_rows))
        print(
            "\nhit@1: answerable follow-ups with an answer first; refused: unanswerable ones "
            "declined; kept as typed: stand-alone questions searched exactly as typed."
        )
        if questions:
            print(
                f"\nHistory check: each of the {len(questions)} questions asked after a random "
                f"other one (seed {HISTORY_CHECK_SEED}): {len(worse)} answers worse."
            )
            for w in worse:
                print(
                    f"  worse: {w.question.question!r} after {w.previous!r}, read as {w.read_as!r}"
                )
    return 0
