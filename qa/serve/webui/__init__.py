"""What the web page looks like: the Gradio theme, its style sheet and its script.

The theme sets the fonts on purpose: a system font stack, whose regular and bold
faces each cover every glyph (Gradio's bundled Source Sans Pro SemiBold is a small
subset, so bold text fell back to another font mid-word), and nothing is fetched
from the internet, so the page looks the same offline. ``chat.css`` styles the answer
card, the highlights (WCAG AA contrast in light and dark) and the layout on a phone;
``chat.js`` keeps the latest question in view, opens the article at its first
highlight, and gives each chat message a plain-text accessible name.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing Gradio is slow; only the app needs the theme
    import gradio as gr

SANS = [
    "system-ui",
    "-apple-system",
    "'Segoe UI'",
    "Roboto",
    "'Helvetica Neue'",
    "'Noto Sans'",
    "'Liberation Sans'",
    "'DejaVu Sans'",
    "Arial",
    "sans-serif",
]
MONO = ["ui-monospace", "'SFMono-Regular'", "Menlo", "Consolas", "'DejaVu Sans Mono'", "monospace"]


def theme() -> gr.themes.Base:
    """A quiet newsroom look: slate text, indigo controls, the system fonts."""
    import gradio as gr

    return gr.themes.Default(
        primary_hue="indigo",
        secondary_hue="amber",
        neutral_hue="slate",
        font=SANS,
        font_mono=MONO,
        radius_size="md",
    ).set(
        body_text_size="16px",
        prose_text_size="16px",
        block_label_text_weight="600",
        prose_header_text_weight="700",
        button_primary_text_color="white",
    )


@cache
def css() -> str:
    """The page's style sheet (``chat.css``)."""
    return resources.files(__package__).joinpath("chat.css").read_text(encoding="utf-8")


# Gradio scopes the style sheet to the app's content; the page's own margins and its
# footer lie outside it, so their rules for a phone go in the page head: narrower
# margins, and no dot left over where Gradio hides "Use via API" (it hides the button,
# not the divider after it).
HEAD = (
    "<style>@media (max-width: 640px) {"
    " .gradio-container .main { padding-left: 10px !important; padding-right: 10px !important; }"
    " footer > div.divider:first-of-type { display: none !important; }"
    " }</style>"
)


@cache
def js() -> str:
    """The page's script (``chat.js``): one function Gradio runs when the page loads."""
    return resources.files(__package__).joinpath("chat.js").read_text(encoding="utf-8")
