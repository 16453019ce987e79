"""A package's readme as safe HTML: Markdown (markdown-it-py, raw HTML off) then nh3's
allow-list sanitiser, so script, event handlers and javascript: links are inert."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

MAX_README = 512 * 1024


@functools.cache
def _markdown() -> MarkdownIt:
    # Loaded on first use (markdown-it-py and nh3: ~2 MiB a server worker would otherwise
    # carry from start-up to serve reads that never render a readme).
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_readme(text: str) -> str:
    import nh3

    html = _markdown().render(text[:MAX_README])
    return nh3.clean(
        html, link_rel="nofollow noopener noreferrer", url_schemes={"http", "https", "mailto"}
    )
