"""The endpoints' parameters and results as the API describes them: names,
descriptions and bounds (``Client.view_api()``, the API page).

``gr.api`` derives a bare JSON schema from each type hint (and none from a postponed
return annotation), so the full ones are set here, from the same help texts the MCP
tools show.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from qa.limits import MAX_K, SCOPES
from qa.serve import mcp
from qa.types import AnswerDict, PassageDict

SCOPE_HELP = (
    '"both" (the default): the article and the documents this client added with '
    'add_document; "bundled": the article only; "mine": the added documents only'
)


def describe_parameters(demo: gr.Blocks) -> None:
    """Give the endpoints' parameters and results names, descriptions and bounds in the
    API info (``Client.view_api()``, the API page). ``gr.api`` derives a bare JSON
    schema from each type hint (and none from a postponed return annotation), so the
    full ones are set here."""
    from gradio_client.utils import python_type_to_json_schema

    extra: dict[str, dict[str, Any]] = {
        "question": {"description": mcp.QUESTION_HELP},
        "k": {"minimum": 1, "maximum": MAX_K, "description": mcp.K_HELP},
        "history": {"description": mcp.HISTORY_HELP},
        "scope": {"enum": list(SCOPES), "description": SCOPE_HELP},
        "text": {"description": "the document's text; its first line is its title"},
        "name": {"description": 'what its passages say they come from (default "Pasted text N")'},
        "url": {"description": "the article's address, http:// or https://"},
    }
    asking = ("question", "k", "history", "scope")
    endpoints: dict[str, tuple[tuple[str, ...], str, Any, str]] = {
        "ask": (asking, "answer", AnswerDict, "found, confident, message, answer, passages"),
        "search": (asking, "passages", list[PassageDict], "the passages, best first"),
        "add_document": (
            ("text", "name"),
            "document",
            dict[str, int | float | str],
            "name, title, kind, words, passages, memory_bytes, seconds, note, url",
        ),
        "add_url": (
            ("url",),
            "document",
            dict[str, int | float | str],
            "name, title, kind, words, passages, memory_bytes, seconds, note, url",
        ),
    }
    for fn in demo.fns.values():
        if fn.api_name not in endpoints:
            continue
        names, label, kind, description = endpoints[str(fn.api_name)]
        for name, block in zip(names, fn.inputs, strict=True):
            assert isinstance(block, gr.components.Component)
            info = block.api_info()
            info.update(extra[name])
            info["additional_description"] = extra[name]["description"]
        (output,) = fn.outputs
        assert isinstance(output, gr.components.Component)
        output.label = label
        output.api_info().clear()
        output.api_info().update(python_type_to_json_schema(kind), description=description)
