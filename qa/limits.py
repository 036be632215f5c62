"""Every limit and default a caller can meet, defined once and checked in one place.

The Python API, the command line, the web app's endpoints and the MCP tools all take
``k`` and a question; each checks them here, so each says the same thing about a bad
one ("k must be a whole number from 1 to 20, got 0").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np

# Passages one question returns by default, and at most.
DEFAULT_K = 3
MAX_K = 20
# A question is cut to this many characters before anything reads it: a flood of huge
# questions costs no more than one of short ones.
MAX_QUESTION_CHARS = 1_000
# Which documents a web visitor's question searches: the bundled article and their own
# documents, the bundled article only, or their own only.
Scope = Literal["both", "bundled", "mine"]
SCOPES: tuple[Scope, ...] = ("both", "bundled", "mine")
# Called with (fraction done, what is happening) while a document is added, e.g. a
# ``gradio.Progress``.
Progress = Callable[[float, str], None]


def check_k(k: object) -> int:
    """``k`` as an int, or ``ValueError`` unless it is a whole number from 1 to
    ``MAX_K`` (a bool is not one)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= MAX_K:
        raise ValueError(f"k must be a whole number from 1 to {MAX_K}, got {k!r:.40}")
    return int(k)


def check_scope(scope: object) -> Scope:
    """``scope`` if it is one of ``SCOPES``, else ``ValueError`` naming them."""
    for known in SCOPES:
        if scope == known:
            return known
    raise ValueError(f"scope must be one of {', '.join(SCOPES)}; got {scope!r:.40}")
