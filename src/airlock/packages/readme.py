"""A package's readme as safe HTML: Markdown (markdown-it-py, raw HTML off) then nh3's
allow-list sanitiser, so script, event handlers and javascript: links are inert."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

MAX_README = 512 * 1024
_MD = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_readme(text: str) -> str:
    html = _MD.render(text[:MAX_README])
    return nh3.clean(
        html, link_rel="nofollow noopener noreferrer", url_schemes={"http", "https", "mailto"}
    )
