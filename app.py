"""The chat web UI: ask a question, read the passages of the article that answer it."""

from __future__ import annotations

import gradio as gr

import qa

retriever = qa.Retriever.from_corpus()


def respond(message: str, history: list) -> str:
    answer = retriever.ask(message)
    lines = [answer.message if not answer.found else ""]
    for hit in answer.passages:
        lines.append(f"> {hit.text}\n\n— {hit.source}, paragraph {hit.paragraph} of {hit.paragraphs}")
    return "\n\n".join(line for line in lines if line)


demo = gr.ChatInterface(respond, title="qa")

if __name__ == "__main__":
    demo.launch()
