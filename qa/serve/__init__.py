"""Stage 4, answers to people and programs: the web chat, its HTTP API and MCP tools.

- ``web``: the Gradio app (``build_app``, ``build_server``), its endpoints and their
  documented parameters (``api_schema``), served by uvicorn; ``webui``: its theme,
  style sheet and script;
- ``chat``: one turn of the chat, and ``presentation``: a reply as the chat shows it;
- ``sessions``: each visitor's own documents, in memory, within limits
  (``memory``: the process's real memory), answered in batches (``batching``);
- ``uploads``: uploads that are the visitor's own, bounded, never served back;
- ``mcp``: the ``ask`` and ``search`` tools for assistants.

Takes ``qa.Retriever`` and its ``Answer``; hands out HTML, JSON and MCP results, all
in the one shape of ``Answer.to_dict()``.
"""
