"""lib.textsafe: untrusted text never becomes markup."""

from __future__ import annotations

from lib.textsafe import escape_markdown, short, wrap


def test_markdown_links_images_and_html_are_escaped():
    out = escape_markdown("![x](http://example.invalid/a.png) [y](javascript:1) <b>z</b> **w**")
    for raw in ("![", "](", "<b>", "**"):
        assert raw not in out


def test_wrap_escapes_html_for_plotly_labels():
    out = wrap("<b>bold</b> and long text", 40)
    assert out == "&lt;b&gt;bold&lt;/b&gt; and long text"
    assert "<" not in wrap("<script>alert(1)</script> long text", 12).replace("<br>", "")


def test_wrap_cuts_after_max_lines():
    assert wrap("word " * 50, 10, 2).endswith("…")


def test_short_collapses_whitespace():
    assert short("a\n  b", 10) == "a b" and short("x" * 20, 10) == "x" * 9 + "…"
