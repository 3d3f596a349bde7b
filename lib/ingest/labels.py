"""Answer labels: the number a label carries, and what to tell the coordinator about an unknown one.

Forms often number their options (``7 – Very important``, ``1 - Strongly disagree``,
``Accord total (9)``): such a label needs no ``[scale.labels]`` map.  A label that is neither
mapped nor numbered is reported with the accepted labels and the TOML line that adds it.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["label_number", "toml_string", "unknown_label_problem"]

_DASHES = "\u2010-\u2015\u2212"  # hyphen … horizontal bar, minus sign
_WHOLE = re.compile(r"\(\s*(?P<p>-?\d{1,9})\s*\)|(?P<n>-?\d{1,9})")
# "7 – Very important", "1. Agree", "3) Neutral", "(4) Agree", "2 Disagree": the number, a
# separator or a space, then words that do not start with a digit ("1-5", "1.5" are no labels)
_LEADING = re.compile(
    rf"(?:\(\s*(?P<p>-?\d{{1,9}})\s*\)|(?P<n>-?\d{{1,9}})(?:\s*[-{_DASHES}:.)=]|(?=\s)))"
    r"\s*(?P<rest>[^\d\s].*)",
    re.S,
)
_TRAILING_PAREN = re.compile(r"\(\s*(-?\d{1,9})\s*\)$")  # "Accord total (9)", "Disagree (-3)"
_TRAILING = re.compile(rf"(?<=[\s\-{_DASHES}:=])(\d{{1,9}})$")  # "Very important - 7"
_LETTER = re.compile(r"[^\W\d_]")
_SHOWN = 6  # accepted labels quoted in a problem before "… (N in all)"
_LONGEST = 200  # a longer cell is no label: no TOML line is proposed for it


def label_number(text: str) -> int | None:
    """The whole number a label starts or ends with, set off from its words; else None.

    >>> label_number("7 \u2013 Very important"), label_number("1 - Strongly disagree")
    (7, 1)
    >>> label_number("Accord total (9)"), label_number("9"), label_number("(-3)")
    (9, 9, -3)
    >>> label_number("Strongly agree"), label_number("1-5"), label_number("3.5")
    (None, None, None)

    ``Item 4 - x`` neither starts nor ends with its number: None.  A label that starts with
    one number and ends with another (``1 - x (7)``) is ambiguous: None.
    """
    text = text.strip()
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).replace("\u2212", "-")
    whole = _WHOLE.fullmatch(text)
    if whole:
        return int(whole.group("p") or whole.group("n"))
    lead = trail = None
    m = _LEADING.fullmatch(text)
    if m and _LETTER.search(m.group("rest")):
        lead = int(m.group("p") or m.group("n"))
    m = _TRAILING_PAREN.search(text) or _TRAILING.search(text)
    if m and _LETTER.search(text, 0, m.start()):
        trail = int(m.group(1))
    if lead is not None and trail is not None and lead != trail:
        return None
    return lead if lead is not None else trail


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string (also a quoted key), control characters escaped.

    >>> print(toml_string('Say "no"\\tthen\\\\'))
    "Say \\"no\\"\\tthen\\\\"
    """
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif c in "\b\t\n\f\r":
            out.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}[c])
        elif unicodedata.category(c) in ("Cc", "Cs"):
            out.append(f"\\u{ord(c):04X}" if ord(c) < 0xD800 else "\ufffd")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def unknown_label_problem(
    text: str, accepted: list[str], section: str, score_hint: int | None = None
) -> str:
    """The problem of an unknown answer label: the label, the accepted ones (at most six are
    quoted) and the TOML line that adds it under ``section``.

    >>> unknown_label_problem("Plutôt d'accord", ["Pas d'accord", "D'accord"], "[scale.labels]", 4)
    'unknown label "Plutôt d\\'accord"; accepted: "Pas d\\'accord", "D\\'accord"; add under [scale.labels]:  "Plutôt d\\'accord" = 4'
    """  # noqa: E501 (a doctest's output is one line)
    label = text.strip()
    shown = toml_string(label if len(label) <= 80 else label[:80] + "…")
    if accepted:
        quoted = [toml_string(a if len(a) <= 40 else a[:40] + "…") for a in accepted[:_SHOWN]]
        more = f", … ({len(accepted)} in all)" if len(accepted) > _SHOWN else ""
        known = f"accepted: {', '.join(quoted)}{more}"
    else:
        known = "no labels are configured"
    if len(label) > _LONGEST:
        return f"unknown label {shown}; {known}"
    score = str(score_hint) if score_hint is not None else "<its score>"
    return f"unknown label {shown}; {known}; add under {section}:  {toml_string(label)} = {score}"
