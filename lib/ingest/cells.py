"""One cell at a time: text, identities, rating answers and timestamps."""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import unicodedata
from dataclasses import dataclass
from itertools import repeat
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from lib.config import Scale, StudyConfig
from lib.ingest.labels import label_number, unknown_label_problem

__all__ = [
    "Answers",
    "Clock",
    "cell_text",
    "date_order",
    "identity_key",
    "parse_rating",
    "parse_timestamp",
]

_DATE_PARTS = re.compile(r"\s*(\d{1,2})[/.-](\d{1,2})[/.-]\d{4}")
_SERIAL_EPOCH = dt.datetime(1899, 12, 30)
# Invisible characters besides the format ones (category Cf: zero-width space and joiners, soft
# hyphen, BOM, bidi marks): the combining grapheme joiner, variation selectors, Hangul fillers.
_IGNORABLE = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u3164\uffa0"
    + "".join(map(chr, range(0xFE00, 0xFE10)))
    + "".join(map(chr, range(0xE0100, 0xE01F0)))
)
_ISO = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S")
_DMY = (
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d-%m-%Y %H:%M:%S",
    "%d/%m/%Y",
)
_MDY = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y")

Rating = tuple[float | None, bool, str | None]  # (score, is_no_opinion, problem)


def cell_text(value: Any) -> str:
    """A cell as trimmed text; a whole float loses its ``.0``.

    >>> cell_text(" S01 "), cell_text(3.0), cell_text(None)
    ('S01', '3', '')
    """
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def identity_key(value: Any) -> str:
    """The form identities are compared in: NFKC, invisible characters dropped, trimmed, and each
    letter case-folded on its own (Unicode simple case folding), so ``straße`` and ``strasse``
    stay two people while ``STRAẞE``, ``Straße`` and ``straße`` are one.

    >>> identity_key("  Ann@Example.org "), identity_key("Stra\u00dfe@x") == "strasse@x"
    ('ann@example.org', False)
    """
    text = str(value)
    if text.isascii():  # nearly every identity: NFKC and case folding agree with lower()
        return text.strip().lower()
    text = unicodedata.normalize("NFKC", text)
    if not text.isprintable() or not _IGNORABLE.isdisjoint(text):  # Cf is never printable
        text = "".join(c for c in text if c not in _IGNORABLE and unicodedata.category(c) != "Cf")
    text = text.strip()
    folded = text.casefold()  # each character folded to one is its simple folding
    return folded if len(folded) == len(text) else "".join(map(_simple_fold, text))


@functools.cache
def _simple_fold(c: str) -> str:
    """One character case-folded without changing the length: str.casefold's full folding
    writes ß as ss (merging two spellings of two names); where full folding makes several
    characters, the one-character lowercase is Unicode's simple folding (ẞ -> ß), else ``c``."""
    folded = c.casefold()
    if len(folded) == 1:
        return folded
    lower = c.lower()
    return lower if len(lower) == 1 else c


# --- ratings ---------------------------------------------------------------------------------


def parse_rating(value: Any, scale: Scale | StudyConfig) -> Rating:
    """(score, is_no_opinion, problem) for one answer cell; blank -> (None, False, None).

    ``scale`` is the question's scale (a study configuration means its main scale).  A label
    is looked up in the scale's map, else read from the number it starts or ends with
    (``7 – Very important``, ``Accord total (9)``), else from plain digits.
    """
    if isinstance(scale, StudyConfig):
        scale = scale.scale
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, False, None
    if isinstance(value, bool):
        return None, False, f"unknown answer {value!r}"
    if isinstance(value, int | float):
        return _in_range(_as_float(value), scale)
    text = str(value).strip()
    folded = text.casefold()
    if folded in {x.casefold() for x in scale.no_opinion}:
        return None, True, None
    labels = {k.strip().casefold(): v for k, v in scale.labels.items()}
    if folded in labels:
        return float(labels[folded]), False, None
    number = label_number(text)
    if number is not None:
        return _in_range(float(number), scale)
    try:
        return _in_range(float(text.replace(",", ".")), scale)
    except ValueError:
        accepted = [*scale.labels, *scale.no_opinion]
        section = f'[[scales]] "{scale.name}" labels' if scale.name else "[scale.labels]"
        return None, False, unknown_label_problem(text, accepted, section)


def _as_float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:  # an int beyond the float range: certainly off the scale
        return math.inf if value > 0 else -math.inf


def _in_range(score: float, scale: Scale) -> Rating:
    if score != score or not score.is_integer() or not scale.min <= score <= scale.max:
        problem = (
            f"{score:g} is outside the scale {scale.describe()}"
            if score == score
            else "not a number"
        )
        if scale.yes_no and score == score:
            problem = f"{score:g} is not an answer to a Yes/No question (Yes = 1, No = 0)"
        return None, False, problem
    return score, False, None


class Answers:
    """``parse_rating`` once per distinct cell value: a rating column holds a handful of labels."""

    def __init__(self, scale: Scale) -> None:
        self.scale = scale
        self.index: dict[Any, int] = {}
        self.results: list[Rating] = []

    def code(self, value: Any) -> int:
        """Position of ``value``'s parse in ``results`` (True, 1 and 1.0 kept apart)."""
        key = value if type(value) is str else (type(value), value)
        try:
            found = self.index.get(key)
        except TypeError:  # an unhashable cell: parse it on its own
            found, key = None, None
        if found is None:
            found = len(self.results)
            self.results.append(parse_rating(value, self.scale))
            if key is not None:
                self.index[key] = found
        return found

    def codes(self, cells: list[Any]) -> np.ndarray:
        """``code`` of every cell: each distinct text and a blank parsed once, then every cell
        looked up in one pass in C (``map(dict.get)``, 0.1 s less than a Python loop over the
        L benchmark's 1.6 million cells); any other cell (a number) goes through ``code``."""
        try:
            distinct = set(cells)
        except TypeError:  # an unhashable cell: ``code`` parses it on its own
            distinct = {v for v in cells if type(v) is str}
        for value in [v for v in distinct if type(v) is str and v not in self.index]:
            self.code(value)
        if None in distinct:  # a blank: looked up as itself too (no text or number equals None)
            self.index.setdefault(None, self.code(None))
        try:
            out = np.fromiter(map(self.index.get, cells, repeat(-1)), np.intp, len(cells))
        except TypeError:
            out = np.array([self.index.get(v, -1) if type(v) is str else -1 for v in cells])
        # a number never equals a text key, and True, 1 and 1.0 must be kept apart: ``code``
        for k in np.flatnonzero(out < 0):
            out[k] = self.code(cells[k])
        return out


# --- timestamps ------------------------------------------------------------------------------


def date_order(values: list[Any], configured: str) -> str:
    """Decide D/M/Y vs M/D/Y for a column of formatted strings (a part > 12 settles it).

    >>> date_order(["03/04/2024 10:00", "25/04/2024 09:00"], "auto")
    'DMY'
    >>> date_order(["03/04/2024 10:00"], "auto")
    'MDY'
    """
    if configured != "auto":
        return configured
    for v in values:
        m = _DATE_PARTS.match(str(v))
        if m and int(m.group(1)) > 12:
            return "DMY"
        if m and int(m.group(2)) > 12:
            return "MDY"
    return "MDY"  # Google Forms' default (en-US) when nothing tells


def parse_timestamp(value: Any, tz: ZoneInfo, order: str) -> pd.Timestamp | None:
    """A sheet timestamp (serial number, datetime or formatted text) -> UTC, naive."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, dt.datetime):
            local = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            local = _SERIAL_EPOCH + dt.timedelta(days=float(value))  # Sheets' SERIAL_NUMBER
        else:
            local = _parse_text_time(str(value).strip(), order)
            if local is None:
                return None
        if local.tzinfo is None:
            local = local.replace(tzinfo=tz)
        return pd.Timestamp(local.astimezone(dt.UTC).replace(tzinfo=None))
    except (ValueError, OverflowError):  # NaN, ±inf, or a moment outside the years 1–9999
        return None


def _parse_text_time(text: str, order: str) -> dt.datetime | None:
    formats = _ISO + (_DMY if order == "DMY" else _MDY if order == "MDY" else ())
    for fmt in formats:
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class Clock:
    """How one source's timestamps are read: its time zone and its day/month order."""

    tz: ZoneInfo
    order: str  # "DMY" or "MDY"

    def parse(self, value: Any) -> pd.Timestamp | None:
        """``parse_timestamp`` in this zone and order."""
        return parse_timestamp(value, self.tz, self.order)
