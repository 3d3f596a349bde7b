"""lib.textsafe: untrusted text never becomes markup."""

from __future__ import annotations

import pytest

from lib.textsafe import code_span, escape_markdown, hide_paths, short, wrap
from tests.untrusted import PAYLOADS, markdown_links, markdown_text


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


# --- issue 12, item 5: autolinks, paths, code spans ---------------------------------------------


@pytest.mark.parametrize("text", PAYLOADS)
def test_escaped_text_has_no_link_image_html_or_autolink(text):
    assert markdown_links(text), "the payload is live markdown before escaping"
    assert markdown_links(escape_markdown(text)) == []


@pytest.mark.parametrize("text", PAYLOADS)
def test_escaped_text_reads_as_written(text):
    assert markdown_text(escape_markdown(text)) == text


@pytest.mark.parametrize(
    "text", ["HTTP://A.example", "Www.a.example", "x https://a.example/y", "mailto:a@b.example"]
)
def test_autolinks_are_broken_whatever_the_case_or_scheme(text):
    assert markdown_links(escape_markdown(text)) == []


def test_code_span_is_verbatim_and_never_linked():
    assert code_span("dashboard@p.iam.example") == "`dashboard@p.iam.example`"
    assert markdown_links(code_span("a@b.example [x](y) ``z``")) == []


def test_absolute_paths_are_cut_to_their_file_name():
    text = "cannot open /srv/delphi/data/study.duckdb (busy); key file C:\\keys\\sa.json bad"
    assert hide_paths(text) == "cannot open …/study.duckdb (busy); key file …/sa.json bad"


def test_known_relative_paths_are_hidden_and_urls_and_fractions_kept():
    text = "Workbook not found: studies/s1/x.xlsx; see https://example.org/a/b; rate 1/5 and/or"
    out = hide_paths(text, known=["studies/s1/x.xlsx", "https://example.org/a/b", None])
    assert out == "Workbook not found: …/x.xlsx; see https://example.org/a/b; rate 1/5 and/or"
