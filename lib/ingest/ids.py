"""Statement IDs and statement texts as coordinators write them in question titles and grid rows.

An ID starts a title in one of the common shapes: ``S01.``, ``S1.2 –``, ``[S07a]``, ``D1.``,
``Q3:``, ``11.1.``, ``3)``, ``Item 4 -``.  Letters and digits (``S01``) may be followed by a
separator or just a space; a purely numeric ID (``11.1``, ``3``) and the word form (``Item 4``)
need a separator (``.`` ``:`` ``)`` or a dash) and a space after it, so that "2024 guidelines
are clear", "5-point scale" or "3.5 mg is enough" stay plain titles.  IDs compare by
:func:`id_key`: case-insensitively and without spaces, and ``Item 4`` as ``4``.

Texts compare by :func:`normal_text` (NFKC, typographic quotes and dashes as ASCII, spaces
collapsed, case-folded); a title may end with its scale's legend in parentheses, which
:func:`without_legend` removes.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["id_key", "normal_text", "split_id", "without_legend"]

_SEP = r"[.:)\-\u2010-\u2015\u2212]"  # . : ) and the dashes (hyphen to horizontal bar, minus)
_WORD = r"(?:item|question|statement)"  # the word of "Item 4 -" (the ID is then "Item 4")
_LETTER_ID = r"[A-Za-z]{1,4}\d+(?:\.\d+)*[A-Za-z]?"
_NUMBER_ID = r"\d{1,3}(?:\.\d{1,3})*[a-z]?"  # up to 3 digits a part: "2024: …" is a year
_ID = re.compile(
    rf"""^\s*(?:
        \[\s*(?P<b>{_LETTER_ID}|{_NUMBER_ID}|(?i:{_WORD})\s*\d+(?:\.\d+)*[a-z]?)\s*\]\s*{_SEP}?
      | (?P<w>(?i:{_WORD})\s*\d+(?:\.\d+)*[a-z]?)\s*{_SEP}(?=\s)
      | (?P<n>{_NUMBER_ID})\s*{_SEP}(?=\s)(?!\s*\d)
      | (?P<l>{_LETTER_ID})(?:\s*{_SEP}|(?=\s))
    )\s*(?P<rest>.*)$""",
    re.S | re.X,
)
# "S01 Low doses" (a space only) is an ID when its letters are capitals: "HbA1c levels …" is not
_SPACE_ONLY = re.compile(r"[A-Z]{1,4}\d+(?:\.\d+)*[A-Za-z]?")
_TYPOGRAPHIC = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"'),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
    }
)
# a legend names at least two points: "1 - Nada importante", "9 = strongly agree", "4: Agree"
_LEGEND_POINT = re.compile(r"(?<!\d)\d{1,2}\s*[-=:.)\u2010-\u2015\u2212]\s*[^\W\d_]")
_DEPTH = {")": 1, "(": -1}


def split_id(title: str) -> tuple[str | None, str]:
    """``'S01. text'`` / ``'11.1. text'`` / ``'[S07a] text'`` -> (id, text); else (None, title).

    The ID is returned as written, its inner spaces collapsed (``'Item 4'``).

    >>> split_id("S01. Acne is common"), split_id("[S07a] Revised"), split_id("Comments")
    (('S01', 'Acne is common'), ('S07a', 'Revised'), (None, 'Comments'))
    >>> split_id("11.1. Timeline"), split_id("3) Dose"), split_id("Item 4 - Peels")
    (('11.1', 'Timeline'), ('3', 'Dose'), ('Item 4', 'Peels'))
    >>> split_id("2024 guidelines are clear"), split_id("5-point scale")
    ((None, '2024 guidelines are clear'), (None, '5-point scale'))
    """
    m = _ID.match(title)
    if not m or not m.group("rest").strip():
        return None, title.strip()
    sid = m.group("b") or m.group("w") or m.group("n") or m.group("l")
    if m.group("l") and not _SPACE_ONLY.fullmatch(sid) and not _has_separator(m):
        return None, title.strip()
    return " ".join(sid.split()), m.group("rest").strip()


def _has_separator(m: re.Match[str]) -> bool:
    """Whether a letter ID is followed by a separator (not just a space)."""
    return m.string[m.end("l") : m.start("rest")].strip() != ""


def id_key(sid: str) -> str:
    """The form statement IDs compare in: case-folded, without spaces, ``Item 4`` as ``4``.

    >>> id_key("S07a") == id_key("s07A"), id_key("Item 4"), id_key("ITEM4"), id_key(" 11.1 ")
    (True, '4', '4', '11.1')
    """
    key = "".join(sid.split()).casefold()
    word = re.match(_WORD + r"(?=\d)", key)
    return key[word.end() :] if word else key


def normal_text(text: str) -> str:
    """A statement text as titles and the Statements tab are compared: NFKC, invisible
    characters dropped, typographic quotes and dashes as ASCII, spaces collapsed, case-folded.

    >>> print(normal_text("  L\u2019\u00c9quipe  \u201cdoit\u201d \u2013 Sempre "))
    l'équipe "doit" - sempre
    """
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHIC)
        if not text.isprintable():  # zero-width spaces, joiners, BOM (category Cf)
            text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    return " ".join(text.split()).casefold()


def without_legend(title: str) -> str | None:
    """``title`` without the scale legend in parentheses it ends with; None if it has none.

    A legend names at least two points (``1 - Nada importante``, ``9 = strongly agree``), so
    a title ending in "(2 mg/kg)" or "(1-9)" keeps its parentheses.  Linear time.

    >>> without_legend("Use protocols (1 - Nada importante; …; 4 - Muito importante)")
    'Use protocols'
    >>> without_legend("Dose by weight (2 mg/kg)") is None
    True
    """
    text = title.rstrip()
    if not text.endswith(")"):
        return None
    depth = 0
    for k in range(len(text) - 1, -1, -1):
        depth += _DEPTH.get(text[k], 0)
        if depth == 0:
            inside, before = text[k + 1 : -1], text[:k].rstrip().rstrip(":-\u2013\u2014").rstrip()
            points = _LEGEND_POINT.findall(inside)
            return before if len(points) >= 2 and before else None
    return None
