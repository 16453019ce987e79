"""A unified diff as table rows for the stage page: line numbers, +/- styling and Pygments
syntax highlighting (class names only: the colours live in static/highlight.css, since the
CSP allows no inline style).

Everything from the tarball is escaped here (Pygments' HTML formatter escapes what it
emits; header and fallback lines go through markupsafe), so package content is text,
never markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import TextLexer, get_lexer_for_filename
from pygments.util import ClassNotFound

# Highlighting is skipped for very long diffs (they are still shown, coloured by line).
HIGHLIGHT_MAX_BYTES = 256 * 1024
_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")
_KINDS = {"+": "add", "-": "del", " ": "ctx", "@": "hunk", "\\": "note"}
_FORMATTER = HtmlFormatter(nowrap=True)


@dataclass(frozen=True)
class Line:
    kind: str  # add, del, ctx, hunk, note
    old: int | None
    new: int | None
    html: Markup


def _lexer(path: str) -> Lexer:
    try:
        found: Lexer = get_lexer_for_filename(path, stripnl=False, ensurenl=False)
    except ClassNotFound:
        found = TextLexer(stripnl=False, ensurenl=False)
    return found


def _highlighted(path: str, bodies: list[str]) -> list[Markup]:
    """Each body line highlighted; plain escaped lines if the lexer does not keep lines."""
    plain = [escape(b) for b in bodies]
    source = "\n".join(bodies)
    if not bodies or len(source) > HIGHLIGHT_MAX_BYTES:
        return plain
    out = highlight(source, _lexer(path), _FORMATTER).split("\n")
    if out and out[-1] == "" and len(out) == len(bodies) + 1:
        out.pop()
    if len(out) != len(bodies):
        return plain
    return [Markup(h) for h in out]  # noqa: S704 - Pygments escaped the text


def lines(path: str, text: str) -> list[Line]:
    """Rows of one file's unified diff (its ---/+++ header is dropped: the summary names it)."""
    raw = text.split("\n")
    if raw and raw[-1] == "":
        raw.pop()
    raw = [r for r in raw if not r.startswith(("--- ", "+++ "))]
    code = [i for i, r in enumerate(raw) if r[:1] in ("+", "-", " ")]
    pretty = dict(zip(code, _highlighted(path, [raw[i][1:] for i in code]), strict=True))
    rows: list[Line] = []
    old = new = 0
    for i, r in enumerate(raw):
        kind = _KINDS.get(r[:1], "ctx")
        if kind == "hunk":
            m = _HUNK.match(r)
            if m:
                old, new = int(m.group(1)), int(m.group(2))
            rows.append(Line(kind, None, None, escape(r)))
        elif kind == "note":
            rows.append(Line(kind, None, None, escape(r[1:].strip())))
        else:
            o = old if kind != "add" else None
            n = new if kind != "del" else None
            old += kind != "add"
            new += kind != "del"
            rows.append(Line(kind, o, n, pretty.get(i, escape(r[1:]))))
    return rows


def files(diff: dict[str, Any]) -> list[dict[str, Any]]:
    """The diff's file entries, each with its rows (CPU work: call it in a worker thread)."""
    return [
        {**f, "rows": lines(f["path"], f["diff"]) if f.get("diff") else []}
        for f in diff.get("files", [])
    ]


def stylesheet() -> str:
    """static/highlight.css (regenerate: `python -m airlock.web.ui.diffview`)."""
    defs = HtmlFormatter(style="default").get_style_defs
    return str(defs("table.difftable .src"))  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    print(stylesheet())
