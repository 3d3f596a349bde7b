"""lib.wording: word-level diffs of statement versions, rendered without letting text in."""

from __future__ import annotations

import doctest
import re

import pytest

from lib import wording
from lib.wording import change_summary, diff_html, diff_markdown, diff_words

OLD = "A fixed dose of 20 mg daily is preferable to weight-based dosing for photoaging."
NEW = "A fixed dose of 10 mg daily is an acceptable alternative to weight-based dosing."


def _side(runs, keep: str) -> str:
    return "".join(text for op, text in runs if op in ("equal", keep))


def test_diff_rebuilds_both_versions():
    runs = diff_words(OLD, NEW)
    assert _side(runs, "delete") == OLD and _side(runs, "insert") == NEW


def test_diff_marks_the_changed_words_only():
    runs = diff_words(OLD, NEW)
    assert ("delete", " preferable") in runs and ("insert", " an acceptable alternative") in runs
    assert ("delete", " for photoaging") in runs


def test_identical_texts_have_no_changes():
    assert [op for op, _ in diff_words(OLD, OLD)] == ["equal"]
    assert change_summary(OLD, OLD) == "unchanged"


def test_whitespace_is_normalised():
    assert change_summary("two  words\nhere", "two words here") == "unchanged"


def test_change_summary_counts_words_not_marks():
    assert change_summary(OLD, NEW) == "4 words removed, 4 words added"
    assert change_summary("a, b", "a b") == "punctuation changed"


def test_empty_versions():
    assert diff_words("", "new text") == [("insert", "new text")]
    assert diff_words("old", "") == [("delete", "old")]


@pytest.mark.parametrize(
    "evil",
    [
        "[click](javascript:alert(1))",
        "<script>alert(1)</script>",
        "**bold** ~~gone~~",
        ":red[fake] ]`code`",
        "![img](http://x.example/a.png)",
    ],
)
def test_markdown_diff_escapes_every_word(evil):
    md = diff_markdown("Safe text.", f"Safe text {evil}.")
    text = re.sub(r":red\[~~|~~\]|:blue\[\*\*|\*\*\]", "", md)  # our own markup
    bare = re.findall(r"(?<!\\)[\[\]()<>*~`!:]", text.replace("\\\\", ""))
    assert not bare, f"unescaped {bare} in {md!r}"


def test_markdown_diff_strikes_removed_and_bolds_added():
    md = diff_markdown("take 20 mg", "take 10 mg")
    assert md == "take :red[~~20~~] :blue[**10**] mg"


def test_replaced_word_stays_apart_from_its_replacement():
    assert diff_markdown("for low-dose", "Low-dose").startswith(":red[~~for low~~] :blue[")


def test_html_diff_escapes_text():
    out = diff_html("a <b>bold</b>", "a <i>x</i>")
    assert "<b>" not in out and "<i>" not in out and "&lt;" in out
    assert "<ins>" in out and "<del>" in out


def test_doctests_pass():
    assert doctest.testmod(wording).failed == 0
