"""The stage page's diff rows: kinds, line numbers, highlighting that keeps content text."""

from __future__ import annotations

from airlock.stage.diff import unified
from airlock.web.ui import diffview


def test_rows_number_lines_and_escape_content():
    old = b"a = 1\nkeep()\n"
    new = b'a = "<script>alert(1)</script>"\nkeep()'
    rows = diffview.lines("x.py", unified("x.py", old, new))
    kinds = [r.kind for r in rows]
    assert kinds == ["hunk", "del", "del", "add", "add", "note"]
    assert (rows[1].old, rows[1].new) == (1, None)
    assert (rows[3].old, rows[3].new) == (None, 1)
    html = "".join(str(r.html) for r in rows)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'class="' in str(rows[3].html)  # Pygments classes, no inline style
    assert "style=" not in html
    assert str(rows[-1].html) == "No newline at end of file"


def test_unknown_file_types_and_huge_diffs_are_plain_escaped_text(monkeypatch):
    text = unified("data.unknownext", None, b"<b>x</b>\n")
    [hunk, added] = diffview.lines("data.unknownext", text)
    assert hunk.kind == "hunk" and added.kind == "add" and str(added.html) == "&lt;b&gt;x&lt;/b&gt;"
    monkeypatch.setattr(diffview, "HIGHLIGHT_MAX_BYTES", 4)
    [_, big] = diffview.lines("x.js", unified("x.js", None, b"var a = '<i>';\n"))
    assert str(big.html) == "var a = &#39;&lt;i&gt;&#39;;"


def test_files_without_diff_text_have_no_rows():
    body = {"files": [{"path": "logo.png", "status": "added", "binary": True}]}
    assert diffview.files(body)[0]["rows"] == []
