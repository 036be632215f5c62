"""qa's benchmark: latency against its floor, build throughput, cold start, memory, scale.

    python bench/run.py            # the article and 1,000 documents (a few minutes)
    python bench/run.py --full     # also 100,000 and 1,000,000 passages (about 40 minutes)

This file only orchestrates. Each measurement is a module beside it:

    cold_start.py   a new process until the first answer, each encoder
    scale.py        each corpus size in its own process, using
      latency.py      search and ask against the floor
      build.py        build rate against a bare encode; incremental rebuilds
    milvus.py       FAISS and Milvus (Lite) side by side: search, build rate, memory
    measure.py      what they share: timing, percentiles, memory, the Context

A measurement module has ``NAME`` (its key in the results), ``measure(context) ->
dict`` and ``report(result) -> list[str]`` (paragraphs of the printed summary). To add
one, write those three and add the module to ``MEASUREMENTS`` below; each gets a
``--no-NAME`` flag. Prints the summary and writes every
number as JSON (``bench/results/latest.json`` and a dated copy). No number here is
asserted anywhere: benchmarks report, tests check behaviour.
"""

from __future__ import annotations

import argparse
import os
import platform
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

# bench/ is not a package: its modules are found beside this script (sys.path[0]).
import cold_start
import milvus
import scale
from measure import HERE, QUICK_ENV, ROOT, Context, write_json

# In the order they run and print. Each is skipped by its --no-NAME flag.
MEASUREMENTS: tuple[ModuleType, ...] = (cold_start, scale, milvus)


def machine() -> dict[str, Any]:
    import torch

    return {
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--full", action="store_true", help="also 100,000 and 1,000,000 passages")
    parser.add_argument("--sizes", help=f"comma-separated subset of {', '.join(scale.SIZES)}")
    for module in MEASUREMENTS:
        flag = module.NAME.replace("_", "-")
        parser.add_argument(f"--no-{flag}", action="store_true", help=f"skip {module.__name__}")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of whole-process timings")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one repeat and one round of everything: checks the run, numbers too few to report",
    )
    parser.add_argument(
        "--work", type=Path, default=ROOT / ".cache" / "bench", help="scratch folder"
    )
    parser.add_argument("--out", type=Path, default=HERE / "results", help="folder for the JSON")
    args = parser.parse_args(argv)
    # The benchmark measures the defaults; the caller's choices would change what the
    # rows mean (the PyTorch rows measuring ONNX, say). Child processes inherit this.
    for name in ("QA_ENCODER", "QA_INDEX_KIND", "QA_CORPUS"):
        os.environ.pop(name, None)
    if args.quick:
        os.environ[QUICK_ENV] = "1"  # for the measurement processes too
        args.repeats = 1
    args.work.mkdir(parents=True, exist_ok=True)
    sizes = (
        args.sizes.split(",")
        if args.sizes
        else [s for s in scale.SIZES if args.full or s not in scale.LARGE]
    )
    if unknown := set(sizes) - set(scale.SIZES):
        parser.error(
            f"unknown size {', '.join(sorted(unknown))}; choose from {', '.join(scale.SIZES)}"
        )
    results: dict[str, Any] = {
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
    }

    def checkpoint(name: str, value: Any) -> None:
        results[name] = value
        write_json(args.out / "latest.json", results)

    context = Context(work=args.work, sizes=sizes, repeats=args.repeats, checkpoint=checkpoint)
    for module in MEASUREMENTS:
        if not getattr(args, f"no_{module.NAME}", False):
            checkpoint(module.NAME, module.measure(context))
    stamp = results["started"].replace(":", "").replace("-", "")[:15]
    write_json(args.out / f"bench-{stamp}.json", results)
    write_json(args.out / "latest.json", results)
    summary = [
        paragraph
        for module in MEASUREMENTS
        if module.NAME in results
        for paragraph in module.report(results[module.NAME])
    ]
    print("\n\n".join(summary))
    print(f"\nWritten: {args.out / 'latest.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
