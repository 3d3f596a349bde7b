"""Raw tab values -> tidy ratings + a validation report.

A bad cell is reported (tab, row, column) and excluded, never a crash; a source that cannot be
interpreted at all raises :class:`IngestError` and nothing is stored.  Row numbers are the sheet's
own (the header is row 1); columns are spreadsheet letters (A, B, …, AA).
"""

from __future__ import annotations

import datetime as dt
import math
import operator
import re
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from lib.config import StudyConfig
from lib.sources import RawSource

__all__ = ["IngestError", "IngestResult", "ingest", "column_letter", "identity_key", "parse_rating"]

RATING_COLUMNS = ["round", "identity", "statement_id", "rating", "no_opinion", "comment",
                  "submitted_at"]
PROBLEM_COLUMNS = ["tab", "row", "column", "header", "kind", "message"]
_LABEL_NUMBER = re.compile(r"\(\s*(-?\d+)\s*\)\s*$")
_GRID = re.compile(r"^(?P<title>.*?)\s*\[(?P<row>.+)\]\s*$", re.S)
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_REPR = re.compile(r"\\ud[89a-f][0-9a-f]{2}")  # how repr() writes one
_ID = re.compile(
    r"^\s*(?:\[(?P<b>[A-Za-z]{0,4}\d+(?:\.\d+)*[a-z]?)\]|(?P<p>[A-Za-z]{1,4}\d+(?:\.\d+)*[a-z]?)"
    r"(?=\s*[.:)–—-]|\s))\s*[.:)–—-]?\s*(?P<rest>.*)$", re.S)


class IngestError(ValueError):
    """The source cannot be interpreted at all; nothing may be stored."""


@dataclass
class IngestResult:
    """Tidy tables from one source, plus every problem found."""

    ratings: pd.DataFrame  # RATING_COLUMNS; one row per respondent × statement of the round
    respondents: pd.DataFrame  # round, identity, submitted_at, tab, row
    statements: pd.DataFrame  # statement_id, round, domain, text, revised_from
    panel: pd.DataFrame  # identity, display, then attribute columns (may be empty)
    problems: pd.DataFrame  # PROBLEM_COLUMNS
    identities: dict[str, str]  # identity key -> identity as first written


def column_letter(index: int) -> str:
    """Spreadsheet column letter of a 0-based index (0 -> A, 26 -> AA)."""
    out, n = "", index + 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def identity_key(value: Any) -> str:
    """Identities are compared trimmed and case-folded."""
    return str(value).strip().casefold()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


class _Report:
    """Collects validation problems."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, tab: str, row: int | None, col: int | None, header: str, kind: str,
            message: str) -> None:
        self.rows.append({"tab": tab, "row": row, "column": column_letter(col) if col is not None
                          else "", "header": header, "kind": kind, "message": message})

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=PROBLEM_COLUMNS).astype({"row": "Int64"})


# --- ratings ---------------------------------------------------------------------------------

def parse_rating(value: Any, cfg: StudyConfig) -> tuple[float | None, bool, str | None]:
    """(score, is_no_opinion, problem) for one answer cell; blank -> (None, False, None)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, False, None
    if isinstance(value, bool):
        return None, False, f"unknown answer {value!r}"
    if isinstance(value, int | float):
        return _in_range(_as_float(value), cfg)
    text = str(value).strip()
    folded = text.casefold()
    if folded in {x.casefold() for x in cfg.no_opinion}:
        return None, True, None
    labels = {k.strip().casefold(): v for k, v in cfg.labels.items()}
    if folded in labels:
        return float(labels[folded]), False, None
    match = _LABEL_NUMBER.search(text)
    if match:
        return _in_range(float(match.group(1)), cfg)
    try:
        return _in_range(float(text.replace(",", ".")), cfg)
    except ValueError:
        return None, False, f"unknown label {text[:80]!r}"


def _as_float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:  # an int beyond the float range: certainly off the scale
        return math.inf if value > 0 else -math.inf


def _in_range(score: float, cfg: StudyConfig) -> tuple[float | None, bool, str | None]:
    if score != score or not score.is_integer() or not cfg.scale_min <= score <= cfg.scale_max:
        return None, False, (f"{score:g} is outside the scale {cfg.scale_min}–{cfg.scale_max}"
                             if score == score else "not a number")
    return score, False, None


# --- timestamps ------------------------------------------------------------------------------

_SERIAL_EPOCH = dt.datetime(1899, 12, 30)
_ISO = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S")
_DMY = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M",
        "%d-%m-%Y %H:%M:%S", "%d/%m/%Y")
_MDY = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y")


def _date_order(values: list[Any], configured: str) -> str:
    """Decide D/M/Y vs M/D/Y for a column of formatted strings (a part > 12 settles it)."""
    if configured != "auto":
        return configured
    for v in values:
        m = re.match(r"\s*(\d{1,2})[/.-](\d{1,2})[/.-]\d{4}", str(v))
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


# --- statements ------------------------------------------------------------------------------

def split_id(title: str) -> tuple[str | None, str]:
    """``'S01. text'`` / ``'S1.2 – text'`` / ``'[S07a] text'`` -> (id, text); else (None, title)."""
    m = _ID.match(title)
    if not m or not m.group("rest").strip():
        return None, title.strip()
    return (m.group("b") or m.group("p")), m.group("rest").strip()


def _statements_tab(raw: RawSource, cfg: StudyConfig, report: _Report) -> pd.DataFrame | None:
    tab = cfg.statements_tab
    if not tab or tab not in raw.tabs:
        return None
    rows = raw.tabs[tab]
    if not rows:
        raise IngestError(f"The '{tab}' tab is empty: it needs a header row "
                          "statement_id, round, domain, text, revised_from")
    header = [_text(h).casefold() for h in rows[0]]
    need = ["statement_id", "round", "text"]
    missing = [c for c in need if c not in header]
    if missing:
        raise IngestError(f"The '{tab}' tab has no column {', '.join(missing)} "
                          f"(found: {', '.join(_text(h) for h in rows[0])})")
    first = {h: j for j, h in reversed(list(enumerate(header)))}  # a repeated header: the first
    out = []
    for i, row in enumerate(rows[1:], start=2):
        rec = {h: (_text(row[j]) if j < len(row) else "") for h, j in first.items()}
        if not rec.get("statement_id") or not rec.get("text"):
            if any(_text(v) for v in row):
                report.add(tab, i, None, "", "incomplete statement",
                           "row without statement_id or text; ignored")
            continue
        rnd = _round_number(rec["round"])
        if rnd is None:
            report.add(tab, i, first["round"], "round", "bad round",
                       f"round {rec['round'][:40]!r} is not a whole number; row ignored")
            continue
        out.append({"statement_id": rec["statement_id"], "round": rnd,
                    "domain": rec.get("domain") or "Unassigned", "text": rec["text"],
                    "revised_from": rec.get("revised_from") or None})
    return pd.DataFrame(out, columns=["statement_id", "round", "domain", "text", "revised_from"])


def _round_number(text: str) -> int | None:
    """A round number as written in the Statements tab ('2', '2.0'); None for anything else."""
    try:
        number = float(text)
    except ValueError:
        return None
    # the store keeps rounds as 32-bit integers; NaN, ±inf and 1.5 are not round numbers
    if not number.is_integer() or abs(number) >= 2**31:
        return None
    return int(number)


@dataclass
class _Column:
    index: int
    header: str
    kind: str  # statement | comment | other
    statement_id: str | None = None
    text: str = ""
    domain: str = "Unassigned"
    grid: bool = False


class _Catalogue:
    """Statement lookup by exact text (after trimming) or by a leading ID."""

    def __init__(self, statements: pd.DataFrame | None, rnd: int) -> None:
        self.frame = statements
        self.by_text_round: dict[str, str] = {}
        self.by_text: dict[str, str] = {}
        self.ids: set[str] = set()
        if statements is not None:
            for s in statements.itertuples():
                self.by_text.setdefault(s.text.strip(), s.statement_id)
                self.ids.add(s.statement_id)
                if s.round == rnd:
                    self.by_text_round[s.text.strip()] = s.statement_id

    def match(self, header: str) -> _Column | None:
        grid = _GRID.match(header)
        candidates = [(grid.group("row"), grid.group("title"), True)] if grid else []
        candidates.append((header, "Unassigned", False))
        for text, title, is_grid in candidates:
            col = self._match_one(text.strip(), title.strip() or "Unassigned", is_grid)
            if col:
                return col
        return None

    def _match_one(self, text: str, title: str, grid: bool) -> _Column | None:
        sid, rest = split_id(text)
        if self.frame is None:
            return _Column(-1, "", "statement", sid, rest, title, grid) if sid else None
        found = self.by_text_round.get(text) or (sid if sid in self.ids else None) \
            or self.by_text.get(text)
        return _Column(-1, "", "statement", found, text, title, grid) if found else None


def _classify(header: list[str], cat: _Catalogue, cfg: StudyConfig, tab: str,
              report: _Report) -> list[_Column]:
    cols: list[_Column] = []
    seen: dict[str, int] = {}
    comment_re = re.compile(cfg.comment_pattern)
    for j, h in enumerate(header):
        col = cat.match(h) if h else None
        if col is not None:
            col.index, col.header = j, h
            if col.statement_id in seen:
                report.add(tab, 1, j, h, "duplicate header",
                           f"a second column for statement {col.statement_id} (first in column "
                           f"{column_letter(seen[col.statement_id])}); this column is ignored")
                col = _Column(j, h, "other")
            else:
                seen[col.statement_id] = j
        elif h and comment_re.search(h):
            col = _Column(j, h, "comment")
        else:
            col = _Column(j, h, "other")
        cols.append(col)
    _attach_comments(cols, set(seen))
    return cols


def _attach_comments(cols: list[_Column], ids: set[str]) -> None:
    """A comment column belongs to the statement its header names, else the question just before."""
    for k, col in enumerate(cols):
        if col.kind != "comment":
            continue
        named = [s for s in ids if s in col.header  # the substring test spares most regexes
                 and re.search(rf"(?<![\w.]){re.escape(s)}(?!\w)", col.header)]
        if named:
            col.statement_id = max(named, key=len)
        elif k and cols[k - 1].kind == "statement" and not cols[k - 1].grid:
            col.statement_id = cols[k - 1].statement_id
        else:
            col.kind = "other"  # a general free-text column: ignored


def _report_unmatched(rows: list[list[Any]], cols: list[_Column], cfg: StudyConfig, tab: str,
                      report: _Report, skip: set[int]) -> None:
    for col in cols:
        if col.kind != "other" or col.index in skip or not col.header:
            continue
        values = [r[col.index] for r in rows[1:] if col.index < len(r) and _text(r[col.index])]
        parsed = [parse_rating(v, cfg) for v in values]
        if values and sum(p[2] is None for p in parsed) * 2 >= len(values):
            report.add(tab, 1, col.index, col.header, "question not matched",
                       "looks like a rating question but matches no statement; column ignored")


@dataclass
class _Submission:
    key: str
    written: str
    row: int
    submitted_at: pd.Timestamp | None
    values: list[Any]


def _timestamp_cells(raw: RawSource, cfg: StudyConfig) -> list[Any]:
    out: list[Any] = []
    for tab in cfg.rounds:
        rows = raw.tabs.get(tab) or []
        cols = _find_column([_text(h) for h in rows[0]], cfg.timestamp_column) if rows else []
        out += [r[cols[0]] for r in rows[1:] if cols and cols[0] < len(r)]
    return out


def _find_column(header: list[str], name: str) -> list[int]:
    want = name.strip().casefold()
    return [j for j, h in enumerate(header) if h.strip().casefold() == want]


def _submissions(rows: list[list[Any]], header: list[str], cfg: StudyConfig, tab: str,
                 tz: ZoneInfo, order: str, panel_keys: set[str], report: _Report
                 ) -> list[_Submission]:
    ids = _find_column(header, cfg.identity_column)
    if not ids:
        raise IngestError(f"Tab '{tab}' has no identity column '{cfg.identity_column}' "
                          f"(headers: {', '.join(h for h in header if h)[:300]}); set "
                          "identity_column in the study configuration")
    ts_cols = _find_column(header, cfg.timestamp_column)
    id_col, ts_col = ids[0], (ts_cols[0] if ts_cols else None)
    subs: list[_Submission] = []
    for i, row in enumerate(rows[1:], start=2):
        if not any(_text(v) for v in row):
            report.add(tab, i, None, "", "empty row", "row has no values; ignored")
            continue
        written = _text(row[id_col]) if id_col < len(row) else ""
        if not written:
            report.add(tab, i, id_col, header[id_col], "missing identity",
                       "no respondent identity; row ignored")
            continue
        if panel_keys and identity_key(written) not in panel_keys:
            report.add(tab, i, id_col, header[id_col], "not on panel",
                       "respondent is not on the Panel tab; row ignored")
            continue
        raw_ts = row[ts_col] if ts_col is not None and ts_col < len(row) else None
        ts = parse_timestamp(raw_ts, tz, order)
        if ts is None and _text(raw_ts):
            report.add(tab, i, ts_col, header[ts_col], "bad timestamp",
                       f"cannot read {_text(raw_ts)[:40]!r} as a date and time")
        subs.append(_Submission(identity_key(written), written, i, ts, row))
    return _dedupe(subs, tab, id_col, header[id_col], report)


def _dedupe(subs: list[_Submission], tab: str, id_col: int, header: str,
            report: _Report) -> list[_Submission]:
    """Keep each respondent's latest submission by timestamp (then by row)."""
    latest: dict[str, _Submission] = {}
    for s in subs:
        old = latest.get(s.key)
        if old is None:
            latest[s.key] = s
            continue
        keep, drop = (s, old) if _recency(s) >= _recency(old) else (old, s)
        latest[s.key] = keep
        report.add(tab, drop.row, id_col, header, "duplicate submission",
                   f"submitted more than once; kept the latest submission (row {keep.row})")
    return sorted(latest.values(), key=lambda s: s.row)


def _recency(s: _Submission) -> tuple:
    """Sort key: a timestamped submission is newer than one without, then time, then row."""
    return (s.submitted_at is not None, s.submitted_at, s.row)


class _Answers:
    """``parse_rating`` once per distinct cell value: a rating column holds a handful of labels."""

    def __init__(self, cfg: StudyConfig) -> None:
        self.cfg, self.index, self.results = cfg, {}, []

    def code(self, value: Any) -> int:
        """Position of ``value``'s parse in ``results`` (True, 1 and 1.0 kept apart)."""
        key = value if type(value) is str else (type(value), value)
        try:
            found = self.index.get(key)
        except TypeError:  # an unhashable cell: parse it on its own
            found, key = None, None
        if found is None:
            found = len(self.results)
            self.results.append(parse_rating(value, self.cfg))
            if key is not None:
                self.index[key] = found
        return found

    def codes(self, cells: list[Any]) -> np.ndarray:
        """``code`` of every cell; text cells already seen are looked up in one pass."""
        for value in {v for v in cells if type(v) is str}.difference(self.index):
            self.code(value)
        get = self.index.get
        out = [get(v) if type(v) is str else None for v in cells]
        for k in [k for k, c in enumerate(out) if c is None]:
            out[k] = self.code(cells[k])
        return np.array(out, dtype=np.intp)


def _answer_cells(subs: list[_Submission], idx: list[int]) -> list[Any]:
    """The answer cells of every submission, row by row (None past a row's last cell)."""
    width = max(idx) + 1
    pick = operator.itemgetter(*idx) if len(idx) > 1 else (lambda r: (r[idx[0]],))
    cells: list[Any] = []
    for s in subs:
        row = s.values if len(s.values) >= width else [*s.values,
                                                      *[None] * (width - len(s.values))]
        cells.extend(pick(row))
    return cells


def _comment_cells(subs: list[_Submission], cols: list[_Column],
                   stmt_cols: list[_Column]) -> np.ndarray:
    """Each submission × statement's comment(s), joined in column order, or None."""
    pos = {c.statement_id: j for j, c in enumerate(stmt_cols)}
    targets = [(c.index, pos[c.statement_id]) for c in cols if c.kind == "comment"]
    m = len(stmt_cols)
    out = np.full(len(subs) * m, None, dtype=object)
    for i, s in enumerate(subs):
        vals, n = s.values, len(s.values)
        hits = [(x, j) for x, j in targets if x < n and vals[x] is not None and vals[x] != ""]
        found: dict[int, list[str]] = {}
        for x, j in hits:
            if _text(vals[x]):
                found.setdefault(j, []).append(str(vals[x]).strip())
        for j, texts in found.items():
            out[i * m + j] = "\n".join(texts)
    return out


def _tab_ratings(rnd: int, tab: str, subs: list[_Submission], cols: list[_Column],
                 cfg: StudyConfig, report: _Report) -> dict[str, Any]:
    """One tab's ratings as columns, submission by submission (see ``_ratings_frame``)."""
    stmt_cols = [c for c in cols if c.kind == "statement"]
    m = len(stmt_cols)
    answers = _Answers(cfg)
    codes = answers.codes(_answer_cells(subs, [c.index for c in stmt_cols]))
    res = answers.results
    bad = [k for k, r in enumerate(res) if r[2]]
    for flat in np.flatnonzero(np.isin(codes, bad)) if bad else []:
        i, j = divmod(int(flat), m)
        c = stmt_cols[j]
        report.add(tab, subs[i].row, c.index, c.header, "bad answer",
                   f"{res[codes[flat]][2]}; excluded")
    return {"round": np.full(len(codes), rnd, dtype=np.int64),
            "identity": np.repeat(np.array([s.key for s in subs], dtype=object), m),
            "statement_id": np.tile(np.array([c.statement_id for c in stmt_cols], dtype=object),
                                    len(subs)),
            "rating": np.array([math.nan if r[0] is None else r[0] for r in res],
                               dtype=np.float64)[codes],
            "no_opinion": np.array([r[1] for r in res], dtype=bool)[codes],
            "comment": _comment_cells(subs, cols, stmt_cols),
            "times": [s.submitted_at for s in subs], "width": m}


def _ratings_frame(parts: list[dict[str, Any]]) -> pd.DataFrame:
    """The tabs' rating columns as one frame; timestamps typed once, over every tab."""
    parts = [p for p in parts if p]
    if not parts:
        return pd.DataFrame([], columns=RATING_COLUMNS).astype(
            {"rating": "float64", "no_opinion": "bool", "round": "int64"})
    frame = pd.DataFrame({c: np.concatenate([p[c] for p in parts])
                          for c in RATING_COLUMNS if c != "submitted_at"})
    times = pd.Series([t for p in parts for t in p["times"]], dtype=None)
    repeats = np.concatenate([np.full(len(p["times"]), p["width"]) for p in parts])
    frame["submitted_at"] = times.repeat(repeats).reset_index(drop=True)
    return frame[RATING_COLUMNS]


def _panel(raw: RawSource, cfg: StudyConfig, report: _Report) -> pd.DataFrame:
    tab = cfg.panel_tab
    empty = pd.DataFrame(columns=["identity", "display"])
    if not tab or tab not in raw.tabs or not raw.tabs[tab]:
        return empty
    rows = raw.tabs[tab]
    header = [_text(h) for h in rows[0]]
    ids = _find_column(header, cfg.identity_column)
    if not ids:
        report.add(tab, 1, None, "", "no identity column",
                   f"the '{tab}' tab has no '{cfg.identity_column}' column; panel ignored")
        return empty
    attrs = _attribute_columns(header, ids[0], tab, report)
    out, seen = [], set()
    for i, row in enumerate(rows[1:], start=2):
        written = _text(row[ids[0]]) if ids[0] < len(row) else ""
        if not written:
            continue
        key = identity_key(written)
        if key in seen:
            report.add(tab, i, ids[0], header[ids[0]], "duplicate panelist",
                       f"{written} is listed twice; the first row is used")
            continue
        seen.add(key)
        rec = {"identity": key, "display": written}
        rec.update({h: (_text(row[j]) if j < len(row) else "") for j, h in attrs})
        out.append(rec)
    return pd.DataFrame(out, columns=["identity", "display", *[h for _, h in attrs]])


def _attribute_columns(header: list[str], id_col: int, tab: str, report: _Report
                       ) -> list[tuple[int, str]]:
    """Panel attribute columns under unique names: a repeated or reserved one gets its letter."""
    taken, out = {"identity", "display"}, []
    for j, h in enumerate(header):
        if j == id_col or not h:
            continue
        name = h
        while name in taken:
            name = f"{name} ({column_letter(j)})"
        if name != h:
            kind = "renamed column" if h in ("identity", "display") else "duplicate header"
            report.add(tab, 1, j, h, kind, f"another column is already called {h[:80]!r}; "
                       f"this one is kept as {name[:90]!r}")
        taken.add(name)
        out.append((j, name))
    return out


def _round_tab(raw: RawSource, tab: str, rnd: int, cfg: StudyConfig, statements, panel_keys,
               tz: ZoneInfo, order: str, report: _Report
               ) -> tuple[list[dict], list[dict], list[dict]]:
    rows = raw.tabs[tab]
    if not rows:
        report.add(tab, None, None, "", "empty tab", "the tab is empty; round skipped")
        return [], [], []
    header = [_text(h) for h in rows[0]]
    cols = _classify(header, _Catalogue(statements, rnd), cfg, tab, report)
    stmt_cols = [c for c in cols if c.kind == "statement"]
    if not stmt_cols:
        raise IngestError(f"No question in tab '{tab}' matches a statement: check the "
                          f"'{cfg.statements_tab}' tab texts or start question titles with an ID "
                          "such as 'S01.'")
    skip = set(_find_column(header, cfg.identity_column) + _find_column(header,
                                                                          cfg.timestamp_column))
    _report_unmatched(rows, cols, cfg, tab, report, skip)
    subs = _submissions(rows, header, cfg, tab, tz, order,
                        panel_keys, report)
    ratings = _tab_ratings(rnd, tab, subs, cols, cfg, report)
    resp = [{"round": rnd, "identity": s.key, "submitted_at": s.submitted_at, "tab": tab,
             "row": s.row, "written": s.written} for s in subs]
    found = [{"statement_id": c.statement_id, "round": rnd, "domain": c.domain, "text": c.text,
              "revised_from": None} for c in stmt_cols]
    return ratings, resp, found


def _sheet_zone(raw: RawSource, cfg: StudyConfig, report: _Report) -> ZoneInfo:
    """The sheet's own time zone, else the configured one (which config.py has checked)."""
    if raw.time_zone:
        try:
            return ZoneInfo(raw.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            report.add(next(iter(cfg.rounds)), None, None, "", "unknown time zone",
                       f"the sheet's time zone {raw.time_zone[:60]!r} is not known here; "
                       f"timestamps are read as {cfg.timezone}")
    return ZoneInfo(cfg.timezone)


def _statement_table(listed: pd.DataFrame | None, found: list[dict], asked: set[tuple],
                     cfg: StudyConfig, report: _Report) -> pd.DataFrame:
    if listed is None:
        return pd.DataFrame(found, columns=["statement_id", "round", "domain", "text",
                                            "revised_from"])
    read = {r for r, _ in asked}  # an empty round tab is reported once, as an empty tab
    tab_of = {r: t for t, r in cfg.rounds.items() if r in read}
    for s in listed.itertuples():
        if s.round in tab_of and (s.round, s.statement_id) not in asked:
            report.add(tab_of[s.round], 1, None, "", "statement not asked",
                       f"statement {s.statement_id} is listed for round {s.round} but has no "
                       "question in this tab")
    listed_keys = set(zip(listed["round"], listed["statement_id"], strict=True))
    extra = [f for f in found if (f["round"], f["statement_id"]) not in listed_keys]
    merged = pd.concat([listed, _fill_from_catalogue(extra, listed)], ignore_index=True)
    return merged.drop_duplicates(["round", "statement_id"]).reset_index(drop=True)


def _fill_from_catalogue(extra: list[dict], listed: pd.DataFrame) -> pd.DataFrame:
    """A statement asked in a round the Statements tab does not list: copy its listed wording."""
    out = []
    for f in extra:
        known = listed[listed["statement_id"] == f["statement_id"]]
        rec = dict(f)
        if len(known):
            first = known.iloc[-1]
            rec.update(domain=first["domain"], text=first["text"])
        out.append(rec)
    return pd.DataFrame(out, columns=listed.columns)


def _without_lone_surrogates(raw: RawSource) -> RawSource:
    """A Sheets cell cut mid-emoji holds half a UTF-16 pair, which no string column accepts.

    Each row is screened through its ``repr`` (built in C; a surrogate is never printable, so
    ``repr`` writes it as ``\\udXXX``) and only a row that may hold one is copied and cleaned;
    rows are otherwise shared with ``raw``, never changed.  Cleaning every cell took 0.85 s of
    CPU for the 3 million cells of the L benchmark, the screen 0.29 s."""
    def clean(row: list) -> list:
        if not _SURROGATE_REPR.search(repr(row)):
            return row
        return [_SURROGATE.sub("\ufffd", v) if isinstance(v, str) else v for v in row]

    return replace(raw, tabs={name: [clean(row) for row in rows]
                              for name, rows in raw.tabs.items()})


def ingest(raw: RawSource, cfg: StudyConfig) -> IngestResult:
    """Turn raw tab values into tidy ratings and a validation report."""
    missing = [t for t in cfg.rounds if t not in raw.tabs]
    if missing:
        raise IngestError(f"Tab{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
                          f"not found; the source has: {', '.join(raw.all_tabs or raw.tabs)}")
    raw = _without_lone_surrogates(raw)
    report = _Report()
    statements = _statements_tab(raw, cfg, report)
    panel = _panel(raw, cfg, report)
    panel_keys = set(panel["identity"])
    ratings, resp, found = [], [], []
    order = _date_order(_timestamp_cells(raw, cfg), cfg.date_order)  # one locale per workbook
    tz = _sheet_zone(raw, cfg, report)
    for tab, rnd in cfg.rounds.items():
        r, s, f = _round_tab(raw, tab, rnd, cfg, statements, panel_keys, tz, order, report)
        ratings.append(r)
        resp += s
        found += f
    asked = {(f["round"], f["statement_id"]) for f in found}
    stmts = _statement_table(statements, found, asked, cfg, report)
    identities = {p.identity: p.display for p in panel.itertuples()}
    for r in resp:
        identities.setdefault(r["identity"], r["written"])
    return IngestResult(
        ratings=_ratings_frame(ratings),
        respondents=pd.DataFrame(resp, columns=["round", "identity", "submitted_at", "tab", "row",
                                                "written"]).drop(columns="written"),
        statements=stmts, panel=panel, problems=report.frame(), identities=identities,
    )
