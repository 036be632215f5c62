"""Reaching a Milvus server (or Milvus Lite) for ``qa.index.milvus_store``: the settings
from the environment, the connection, and the records of a collection's documents.

``QA_MILVUS_URI`` names the server (``http://host:19530``), Zilliz Cloud
(``https://...``) or a Milvus Lite file (``.db``, the default: one beside the index
cache); ``QA_MILVUS_TOKEN`` is the secret, read from the environment only and never
written to a manifest or a log (``without_secret`` takes it out of any error text).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.types import Passage

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0  # seconds for connecting and for each call
# Milvus Lite names its socket and lock after the file: letters, digits, ".-_", < 37.
_LITE_NAME = re.compile(r"^[A-Za-z0-9.\-_]{1,36}$")
COLLECTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")


class StoreError(RuntimeError):
    """The vector store cannot be used as configured; the message says what to do."""


@dataclass(frozen=True)
class MilvusSettings:
    """Where the index lives: ``uri`` (a ``.db`` path for Milvus Lite, or a server's
    ``http(s)://host:port``) and the collection's name (None: one per corpus).

    The token is not a setting: it is read from ``QA_MILVUS_TOKEN`` when connecting,
    so it is never in a manifest, a log line or a repr.

    >>> MilvusSettings.from_env(default_uri="/tmp/qa/milvus.db")
    MilvusSettings(uri='/tmp/qa/milvus.db', collection=None, timeout=10.0)
    """

    uri: str
    collection: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_env(cls, default_uri: str | Path) -> MilvusSettings:
        """``QA_MILVUS_URI`` (else ``default_uri``), ``QA_MILVUS_COLLECTION``,
        ``QA_MILVUS_TIMEOUT``."""
        timeout = os.environ.get("QA_MILVUS_TIMEOUT") or str(DEFAULT_TIMEOUT)
        try:
            seconds = float(timeout)
        except ValueError:
            seconds = -1.0
        if not seconds > 0:
            raise StoreError(f"QA_MILVUS_TIMEOUT must be a number of seconds > 0, got {timeout!r}")
        return cls(
            uri=os.environ.get("QA_MILVUS_URI") or str(default_uri),
            collection=os.environ.get("QA_MILVUS_COLLECTION") or None,
            timeout=seconds,
        )

    @property
    def is_lite(self) -> bool:
        """A local file served by Milvus Lite rather than a server."""
        return not self.uri.startswith(("http://", "https://", "tcp://", "unix:"))

    def shown_uri(self) -> str:
        """The URI without any user:password part: safe for logs and the manifest."""
        return re.sub(r"//[^/@]*@", "//", self.uri)


def collection_name(folder: Path) -> str:
    """A collection name for the index in ``folder`` (one per corpus location)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", folder.name)
    return f"qa_{name}"[:255]


@dataclass(frozen=True)
class DocumentState:
    """What the collection holds of one document: its hash, and whether all of its
    ``count`` passages are there with that hash (a killed write leaves it partial)."""

    doc_hash: str
    count: int
    complete: bool


@dataclass(frozen=True)
class DocumentRows:
    """One document to write: its passages and their vectors (the passages' first,
    then the sentences of its multi-sentence passages, as qa embeds them)."""

    source: str
    doc_hash: str
    passages: Sequence[Passage]
    vectors: np.ndarray


def connect(settings: MilvusSettings) -> Any:
    """A ``pymilvus.MilvusClient`` for ``settings``, or ``StoreError`` saying what to check.

    Gives up after ``settings.timeout`` seconds: an unreachable server is an error, not
    a hang.
    """
    try:
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException
    except ImportError:
        raise StoreError(
            'QA_VECTOR_STORE=milvus needs pymilvus and milvus-lite: pip install "qa[milvus]"'
        ) from None
    uri = settings.uri
    if settings.is_lite:
        with warnings.catch_warnings():  # milvus-lite 2.5 imports the old pkg_resources
            warnings.simplefilter("ignore", UserWarning)
            try:
                import milvus_lite  # noqa: F401
            except ImportError:
                raise StoreError(
                    f"QA_MILVUS_URI={uri!r} is a Milvus Lite file, which needs milvus-lite: "
                    'pip install "qa[milvus]" (or use a Milvus server: http://host:19530)'
                ) from None
        path = Path(uri).expanduser().resolve()
        if path.suffix != ".db" or not _LITE_NAME.match(path.name):
            raise StoreError(
                f"QA_MILVUS_URI={uri!r} is neither a server address (http://host:19530) nor "
                "a Milvus Lite file: a path whose file name ends in .db, at most 36 letters, "
                "digits, '.', '-' or '_' (e.g. ~/.cache/qa/milvus.db)."
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"Cannot create the folder of the Milvus Lite file {path}: {exc}"
            ) from None
        uri = str(path)
    token = os.environ.get("QA_MILVUS_TOKEN", "")
    shown = settings.shown_uri()
    try:
        return MilvusClient(uri=uri, token=token, timeout=settings.timeout)
    except MilvusException as exc:
        message = without_secret(str(getattr(exc, "message", exc)), token)
        if settings.is_lite:
            raise StoreError(
                f"Could not open the Milvus Lite file {uri} ({message}). Milvus Lite serves "
                "one process at a time: is another qa (an app, a build) using it? Stop it, "
                "or point QA_MILVUS_URI at a Milvus server to share one index."
            ) from None
        hint = "QA_MILVUS_TOKEN" if "auth" in message.lower() or "token" in message.lower() else ""
        raise StoreError(
            f"Could not reach Milvus at {shown} within {settings.timeout:g} s ({message}). "
            "Check that the server is running and reachable from this machine, the address "
            f"in QA_MILVUS_URI{', and ' + hint if hint else ''}; QA_MILVUS_TIMEOUT sets the wait."
        ) from None
    except Exception as exc:  # pymilvus raises several types for a URI it cannot use
        raise StoreError(
            f"QA_MILVUS_URI={shown!r} cannot be used: {without_secret(str(exc), token)}. "
            "Use a local "
            "file path ending in .db (Milvus Lite) or http://host:19530 (a Milvus server)."
        ) from None


def without_secret(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def filter_literal(value: str) -> str:
    """A string literal for a Milvus filter expression (quotes and backslashes escaped)."""
    return json.dumps(value, ensure_ascii=False)


def passage_key(source: str, ordinal: int) -> str:
    """The primary key of a document's ``ordinal``-th passage: stable across versions of
    the document (so a rewrite is an upsert), and plain hex whatever the file name."""
    return (
        f"{hashlib.sha256(source.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}:{ordinal:06d}"
    )
