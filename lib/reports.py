"""Exports: the consensus report (HTML, XLSX, CSV), feedback for each panelist, and the next
round's statements.

Everything that leaves here is safe to open: a spreadsheet cell never runs as a formula
(``neutralise``), every text in HTML is escaped, comments are never read as markup, and the
consensus report holds aggregates only — no identity, name or pseudonym tied to a rating.  The
report follows the reporting items of ACCORD 2024 and CREDES 2017 (see ``CHECKLIST``).
"""

from __future__ import annotations

import datetime as dt
import io
import platform
import re
import shutil
import subprocess
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from lib import report_charts, stats, store
from lib.charts import STATUS_LABELS, status_by_round_chart
from lib.config import StudyConfig
from lib.consensus import Rule

__all__ = [
    "neutralise", "safe_frame", "safe_csv", "ReportData", "gather", "with_narrative",
    "annotate_metrics", "round_flow", "panel_composition", "panel_statistics", "FATE_LABELS",
    "final_statements", "dropped_items", "revisions", "draft_narrative", "software_versions",
    "METRICS_CSV_COLUMNS", "metrics_csv", "xlsx_report", "html_report", "CHECKLIST",
    "FeedbackData", "gather_feedback", "feedback_parts", "feedback_html", "feedback_file_name",
    "feedback_zip",
    "mail_merge_csv", "pdf_browser", "html_to_pdf", "feedback_pdf_zip", "next_id",
    "new_statement_id", "next_round_candidates", "next_round_rows", "next_round_csv",
    "next_round_xlsx", "ACTIONS", "STATEMENT_COLUMNS",
]

ROOT = Path(__file__).resolve().parent.parent

# --- safety ------------------------------------------------------------------------------------

# A cell starting with one of these is run as a formula by Excel, LibreOffice and Google Sheets
# (OWASP "CSV injection"); a leading apostrophe makes it inert text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Make a text cell inert in a spreadsheet; leave numbers and everything else unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell (and header) neutralised."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


def safe_csv(frame: pd.DataFrame) -> str:
    """CSV text of ``frame`` with formula injection neutralised."""
    buf = io.StringIO()
    safe_frame(frame).to_csv(buf, index=False)
    return buf.getvalue()


def _e(value: Any) -> str:
    """Escaped text for HTML (None and NaN as an empty string)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return escape(str(value), quote=True)


def _num(value: Any, fmt: str = "{:g}") -> str:
    return "–" if value is None or pd.isna(value) else fmt.format(value)


# --- what a report holds -----------------------------------------------------------------------

# What became of a (round, statement): the vocabulary of lib.stats.statement_flow.
FATE_LABELS = {
    "accepted": "accepted (consensus in)", "rejected": "rejected (consensus out)",
    "carried": "rated again", "revised": "revised", "dropped": "dropped without consensus",
    "open": "no consensus after the last round",
}
_TERMINAL = ("accepted", "rejected", "open", "dropped")
_FATE_SHORT = {"accepted": "accepted", "rejected": "rejected", "carried": "rated again",
               "dropped": "dropped", "open": "open at the end"}


@dataclass(frozen=True)
class ReportData:
    """Everything the consensus report shows: aggregates only, never a rating by a person."""

    title: str
    snapshot: dict[str, Any]
    rule: Rule  # the rule the snapshot's metrics were computed with
    config_rule: Rule  # the rule in the study configuration now
    scale: dict[int, str]
    no_opinion: tuple[str, ...]
    no_opinion_in_denominator: bool
    metrics: pd.DataFrame  # per round × statement: metrics, entry, fate, Wilson CI, cut-off
    distribution: pd.DataFrame
    rates: pd.DataFrame  # per round: invited, responded, response rate, new, retained, lost
    flow: pd.DataFrame  # per round: statements by how they entered and what became of them
    panel: pd.DataFrame  # attribute, value, count (small groups pooled for observers)
    comments: pd.DataFrame | None  # None: not shown to this audience
    kendall: pd.DataFrame
    stability: pd.DataFrame
    stats_note: str
    software: dict[str, str]
    generated_at: dt.datetime
    narrative: str = ""


def _rule_from_dict(d: dict[str, Any]) -> Rule:
    names = {f.name for f in fields(Rule)}
    return Rule(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()
                   if k in names})


def gather(con: Any, snapshot_id: int, cfg: StudyConfig, *, include_comments: bool = True,
           min_group_size: int | None = None) -> ReportData:
    """Collect a snapshot's report: metrics, flows, panel, statistics and a drafted narrative."""
    info = store.snapshot_info(con, snapshot_id)
    statements = store.statements_for(con, snapshot_id)
    rule = _rule_from_dict(info["rule"])
    # As the snapshot's metrics were computed, whatever the configuration says today.
    denom = bool(info["config"].get("scale", {}).get("no_opinion_in_denominator",
                                                      cfg.no_opinion_in_denominator))
    metrics = annotate_metrics(store.metrics_for(con, snapshot_id), statements, rule, denom)
    kendall, stability, note = panel_statistics(store.ratings_for(con, snapshot_id),
                                                statements, rule)
    data = ReportData(
        title=info.get("study_title") or cfg.title,
        snapshot={k: info[k] for k in ("snapshot_id", "created_at", "content_hash",
                                       "source_title", "n_problems")},
        rule=rule, config_rule=cfg.rule, scale=_scale(cfg), no_opinion=cfg.no_opinion,
        no_opinion_in_denominator=denom, metrics=metrics,
        distribution=store.distribution_for(con, snapshot_id),
        rates=stats.participation(store.respondents_for(con, snapshot_id),
                                  store.response_rates(con, snapshot_id)),
        flow=round_flow(metrics),
        panel=panel_composition(store.panel_attributes(con, snapshot_id), min_group_size),
        comments=store.comments_for(con, snapshot_id) if include_comments else None,
        kendall=kendall, stability=stability, stats_note=note, software=software_versions(),
        generated_at=dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0))
    return replace(data, narrative=draft_narrative(data))


def with_narrative(data: ReportData, text: str | None) -> ReportData:
    """The same report with the coordinator's edited methods-and-results text."""
    return replace(data, narrative=text if text and text.strip() else data.narrative)


def _scale(cfg: StudyConfig) -> dict[int, str]:
    names = {v: k for k, v in cfg.labels.items()}
    return {s: names.get(s, str(s)) for s in range(cfg.scale_min, cfg.scale_max + 1)}


def annotate_metrics(metrics: pd.DataFrame, statements: pd.DataFrame, rule: Rule,
                     denom_no_opinion: bool = False) -> pd.DataFrame:
    """Metrics with entry, fate, Wilson interval, vote cut-off and votes to flip (lib.stats).

    ``entry`` and ``fate`` come from ``stats.statement_flow``; ``ci_low``/``ci_high`` (Wilson
    95% of % agree), ``cutoff`` and ``votes_to_flip`` from ``stats.solidity``.
    """
    flow = stats.statement_flow(metrics, statements)
    solid = stats.solidity(metrics, rule, denom_no_opinion)
    out = metrics.merge(flow[["round", "statement_id", "entry", "fate", "next_statement_id"]],
                        on=["round", "statement_id"], how="left")
    out = out.merge(solid[["round", "statement_id", "ci_low", "ci_high", "cutoff",
                           "votes_to_flip"]], on=["round", "statement_id"], how="left")
    out["fate_detail"] = [
        f"revised as {nxt}" if fate == "revised" else _FATE_SHORT.get(fate, "")
        for fate, nxt in zip(out["fate"], out["next_statement_id"], strict=True)]
    return out


def round_flow(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per round: statements rated, how they entered, their status and what became of them."""
    cols = {"entry": {"entered": "entered", "added": "added", "carried": "carried_in",
                      "revised": "revised_in"},
            "status": {s: s for s in STATUS_LABELS},
            "fate": {"accepted": "accepted", "rejected": "rejected", "carried": "to_next_round",
                     "revised": "revised_for_next", "dropped": "dropped", "open": "open"}}
    out = pd.DataFrame({"rated": metrics.groupby("round").size()})
    for col, names in cols.items():
        counts = metrics.groupby(["round", col]).size().unstack(fill_value=0)
        for value, name in names.items():
            out[name] = counts[value] if value in counts else 0
    return out.reset_index().astype("int64")


def panel_composition(attributes: pd.DataFrame, min_group_size: int | None = None
                      ) -> pd.DataFrame:
    """Counts per panel attribute value (numbers summarised); groups under the size pooled.

    With ``min_group_size`` (observers) a number's range is left out: its ends are one person.
    """
    rows = []
    for attr, part in attributes.groupby("attribute", sort=True):
        values = pd.to_numeric(part["value"], errors="coerce")
        if values.notna().all() and len(values):
            q1, med, q3 = values.quantile([0.25, 0.5, 0.75])  # type 7, as everywhere else
            span = "" if min_group_size else f"; range {values.min():g}–{values.max():g}"
            rows.append((attr, f"median {med:g} (IQR {q1:g}–{q3:g}{span})", len(values)))
            continue
        counts = part["value"].value_counts()
        small = counts[counts < min_group_size] if min_group_size else counts.iloc[0:0]
        rows += [(attr, v, int(n)) for v, n in counts.items() if v not in small.index]
        if len(small):
            rows.append((attr, f"Other (each group under {min_group_size})", int(small.sum())))
    return pd.DataFrame(rows, columns=["attribute", "value", "count"])


def final_statements(data: ReportData) -> pd.DataFrame:
    """Each statement's final version and outcome: accepted, rejected, open or dropped."""
    m = data.metrics[data.metrics["fate"].isin(_TERMINAL)].copy()
    m["_order"] = m["fate"].map({f: i for i, f in enumerate(_TERMINAL)})
    return (m.sort_values(["_order", "statement_id"]).drop(columns="_order")
            .reset_index(drop=True))


def dropped_items(data: ReportData) -> pd.DataFrame:
    """Statements that left the study without being accepted, with the reason."""
    m = data.metrics[data.metrics["fate"].isin(["rejected", "dropped"])]
    lo, hi = data.rule.disagree
    reasons = [
        f"Consensus against in round {r.round}: {r.pct_disagree:.0f}% rated {lo:g}–{hi:g}"
        if r.fate == "rejected" else
        f"No consensus in round {r.round} ({r.pct_agree:.0f}% agreement); not taken to the "
        "next round by the steering committee"
        for r in m.itertuples()]
    return m.assign(reason=reasons)[["statement_id", "round", "domain", "text", "reason"]] \
        .reset_index(drop=True)


def revisions(data: ReportData) -> pd.DataFrame:
    """Wording changes: each revised statement beside the wording it replaced."""
    m = data.metrics
    new = m[m["entry"] == "revised"]
    old = m.drop_duplicates("statement_id", keep="last").set_index("statement_id")["text"]
    return pd.DataFrame({
        "round": new["round"], "statement_id": new["statement_id"],
        "revised_from": new["revised_from"], "previous_text": new["revised_from"].map(old),
        "text": new["text"]}).reset_index(drop=True)


def panel_statistics(ratings: pd.DataFrame, statements: pd.DataFrame, rule: Rule
                     ) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Kendall's W per round and stability between rounds (``lib.stats``), or a note why not."""
    try:
        return (stats.kendall_w(ratings),
                stats.stability(ratings, statements, agree=rule.agree), "")
    except Exception as exc:  # the report must still be produced; the note says what failed
        return pd.DataFrame(), pd.DataFrame(), f"Not computed: {type(exc).__name__}: {exc}"


def software_versions() -> dict[str, str]:
    """Versions of the software a report was computed with."""
    from importlib import metadata

    out = {"Delphi Dashboard": _app_version(), "Python": platform.python_version()}
    for label, dist in (("DuckDB", "duckdb"), ("pandas", "pandas"), ("pingouin", "pingouin"),
                        ("Plotly", "plotly"), ("openpyxl", "openpyxl")):
        try:
            out[label] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[label] = "not installed"
    return out


def _app_version() -> str:
    try:
        with open(ROOT / "pyproject.toml", "rb") as fh:
            return str(tomllib.load(fh)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


# --- the drafted methods-and-results text ------------------------------------------------------

def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text.startswith("Consensus") else text


def draft_narrative(data: ReportData) -> str:
    """A methods-and-results text with the numbers filled in, for the coordinator to edit."""
    return _methods_text(data) + "\n\n" + _results_text(data)


def _methods_text(data: ReportData) -> str:
    lo, hi = min(data.scale), max(data.scale)
    rule, m = data.rule, data.metrics
    no_op = (f" “{data.no_opinion[0]}” answers were recorded separately and "
             + ("counted in" if data.no_opinion_in_denominator else "left out of")
             + " the denominator of percentages.") if data.no_opinion else ""
    version = f" ({rule.version})" if rule.version else ""
    rerated = int(((m["status"] != "no_consensus") & (m["fate"] == "carried")).sum())
    return (
        f"Methods. We ran a Delphi study over {_count(len(data.rates), 'round')}; "
        f"{int(data.rates['invited'].max())} experts were invited to the panel. In each round "
        f"panelists rated each statement on a {hi - lo + 1}-point scale ({lo} = "
        f"{data.scale[lo]}, {hi} = {data.scale[hi]}) and could comment on each statement."
        f"{no_op} Consensus was defined before the first round{version} as “{rule.label}” "
        f"({_lower_first(rule.describe().rstrip('.'))}"
        + (f"; {rule.source}" if rule.source else "") + "). "
        "After each round every panelist received anonymised feedback: the distribution of the "
        "panel's ratings, the median, interquartile range and percentage agreement for each "
        "statement, their own rating, and the panel's comments. "
        + ("Statements that reached consensus were not rated again. " if not rerated else "")
        + "Statements without consensus were rated again, revised in the light of the comments "
        "or dropped by the steering committee, and statements suggested by panelists could be "
        f"added. Analyses used Delphi Dashboard {data.software['Delphi Dashboard']} (DuckDB "
        f"{data.software['DuckDB']}, pingouin {data.software['pingouin']}); medians and "
        "quartiles use linear interpolation (R type 7).")


def _results_text(data: ReportData) -> str:
    rates, flow, m = data.rates, data.flow, data.metrics
    resp = [f"{r.responded} ({r.response_rate:.0f}%)" + (" responded" if i == 0 else "")
            + f" in round {r.round}" for i, r in enumerate(rates.itertuples())]
    parts = [f"Results. Of {int(rates['invited'].max())} invited experts, {_join(resp)}."]
    for r in flow.itertuples():
        if r.round == flow["round"].min():
            parts.append(f"Round {r.round} comprised {_count(r.rated, 'statement')}.")
        else:
            how = [f"{r.carried_in} rated again", f"{r.revised_in} with revised wording",
                   f"{r.added} new"]
            parts.append(f"Round {r.round} comprised {_count(r.rated, 'statement')} "
                         f"({_join(how)}).")
    end = m[m["fate"].isin(_TERMINAL)]["fate"].value_counts()
    parts.append(
        f"In total, {_count(int(end.get('accepted', 0)), 'statement')} reached consensus in "
        f"agreement and {int(end.get('rejected', 0))} reached consensus in disagreement; "
        f"{int(end.get('dropped', 0))} were dropped without consensus and "
        f"{int(end.get('open', 0))} had not reached consensus after round "
        f"{int(rates['round'].max())}.")
    k = data.kendall
    if not k.empty and {"round", "w"} <= set(k.columns) and k["w"].notna().any():
        ws = [f"{w:.2f} in round {r}" for r, w in zip(k["round"], k["w"], strict=True)
              if pd.notna(w)]
        parts.append(f"Agreement across the panel (Kendall's W) was {_join(ws)}.")
    return " ".join(parts)


# --- CSV and XLSX ------------------------------------------------------------------------------

METRICS_CSV_COLUMNS = [
    "snapshot_id", "snapshot_taken", "content_hash", "round", "statement_id", "domain", "text",
    "n", "n_no_opinion", "n_missing",
    "n_agree", "n_disagree", "pct_agree", "ci_low", "ci_high", "cutoff", "votes_to_flip",
    "pct_neutral", "pct_disagree", "median", "q1", "q3", "iqr", "mean", "sd", "min", "max",
    "status", "fate", "rule",
]


def _metrics_table(data: ReportData) -> pd.DataFrame:
    s = data.snapshot
    return data.metrics.assign(
        snapshot_id=s["snapshot_id"], snapshot_taken=f"{s['created_at']:%Y-%m-%d %H:%M} UTC",
        content_hash=str(s["content_hash"])[:12])[METRICS_CSV_COLUMNS]


def metrics_csv(data: ReportData, round_: int | None = None) -> str:
    """The metrics per round and statement as CSV (one round, or all), formulas neutralised."""
    frame = _metrics_table(data)
    if round_ is not None:
        frame = frame[frame["round"] == round_]
    return safe_csv(frame)


def _summary_rows(data: ReportData) -> pd.DataFrame:
    s, rule = data.snapshot, data.rule
    final = final_statements(data)["fate"].value_counts()
    rows = [
        ("Study", data.title), ("Snapshot", s["snapshot_id"]),
        ("Snapshot taken (UTC)", f"{s['created_at']:%Y-%m-%d %H:%M}"),
        ("Content hash", s["content_hash"][:12]), ("Source", s.get("source_title") or ""),
        ("Consensus rule", rule.label), ("Rule version", rule.version or "(none)"),
        ("Rule definition", rule.describe()), ("Rule source", rule.source or ""),
        ("Rule as configured now", _rule_check(data)),
        ("Rounds", len(data.rates)), ("Panelists invited", int(data.rates["invited"].max())),
        *[(f"Responded in round {r.round}", f"{r.responded} ({r.response_rate:.0f}%)")
          for r in data.rates.itertuples()],
        *[(f"Final: {FATE_LABELS[f]}", int(final.get(f, 0))) for f in _TERMINAL],
        ("Generated (UTC)", f"{data.generated_at:%Y-%m-%d %H:%M}"),
        *[(f"Software: {k}", v) for k, v in data.software.items()],
    ]
    return pd.DataFrame(rows, columns=["item", "value"]).astype({"value": str})


def _rule_check(data: ReportData) -> str:
    if data.config_rule == data.rule:
        return "same as the rule this snapshot was computed with"
    return (f"DIFFERENT: the study configuration now says “{data.config_rule.label} "
            f"{data.config_rule.version}”; refresh to recompute with it")


def _note_frame(note: str) -> pd.DataFrame:
    return pd.DataFrame({"note": [note]})


def _xlsx_sheets(data: ReportData) -> dict[str, pd.DataFrame]:
    final_cols = ["statement_id", "round", "domain", "text", "n", "pct_agree", "ci_low",
                  "ci_high", "median", "q1", "q3", "iqr", "status", "fate"]
    comments = data.comments if data.comments is not None else _note_frame(
        "Comments are shown to the steering committee only (privacy.observer_comments).")
    methods = [p for p in data.narrative.split("\n\n") if p.strip()]
    return {
        "Summary": _summary_rows(data),
        "Final statements": final_statements(data)[final_cols],
        "Metrics per round": _metrics_table(data).drop(
            columns=["snapshot_id", "snapshot_taken", "content_hash"]),
        "Statement flow": data.flow,
        "Items dropped": dropped_items(data),
        "Revisions": revisions(data),
        "Stability": data.stability if not data.stability.empty else _note_frame(
            data.stats_note or "No statement was rated in two rounds."),
        "Kendall W": data.kendall if not data.kendall.empty else _note_frame(
            data.stats_note or "Not computed."),
        "Panel and response": data.rates,
        "Panel composition": data.panel if not data.panel.empty else _note_frame(
            "No panel attributes."),
        "Comments": comments,
        "Methods": pd.DataFrame({"section": ["Methods and results"] * len(methods)
                                 + ["Consensus rule", "Stability rule"],
                                 "text": [*methods, data.rule.describe(),
                                          stats.STABILITY_RULE.replace("**", "")]}),
    }


def xlsx_report(data: ReportData) -> bytes:
    """The report as a workbook, one sheet per table; no cell can run as a formula."""
    return _xlsx(_xlsx_sheets(data))


def _xlsx(sheets: dict[str, pd.DataFrame]) -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for name, frame in sheets.items():
            safe_frame(frame).to_excel(xw, sheet_name=name, index=False)
            _format_sheet(xw.sheets[name], frame)
    return buf.getvalue()


def _format_sheet(ws: Any, frame: pd.DataFrame) -> None:
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    ws.freeze_panes = "A2"
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for i, col in enumerate(frame.columns, start=1):
        longest = max([len(str(col)), *(len(str(v)) for v in frame[col].head(200))])
        width = min(70, max(8, longest + 2))
        ws.column_dimensions[get_column_letter(i)].width = width
        if width >= 40:
            for cell in ws[get_column_letter(i)][1:]:
                cell.alignment = Alignment(wrap_text=True, vertical="top")


# --- HTML building blocks ----------------------------------------------------------------------

_BASE_CSS = """
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; color: #1f2933; background: #fff; line-height: 1.45; font-size: 14px;
  font-family: "Source Sans Pro", "Segoe UI", Helvetica, Arial, sans-serif; }
main { max-width: 180mm; margin: 0 auto; padding: 24px 14px 48px; }
h1 { font-size: 24px; line-height: 1.25; margin: 2px 0 6px; }
h2 { font-size: 19px; margin: 26px 0 8px; padding-bottom: 3px; border-bottom: 2px solid #1f2933;
  break-after: avoid; page-break-after: avoid; }
h3 { font-size: 15px; margin: 16px 0 6px; break-after: avoid; page-break-after: avoid; }
p { margin: 6px 0; }
.kicker { text-transform: uppercase; letter-spacing: .06em; font-size: 12px; color: #52606d;
  margin: 0; }
.meta, .muted, small { color: #52606d; }
.meta { font-size: 12px; }
table { width: 100%; border-collapse: collapse; margin: 6px 0 12px; font-size: 12px; }
th, td { border-bottom: 1px solid #d9dee5; padding: 4px 5px; text-align: left;
  vertical-align: top; overflow-wrap: anywhere; }
th { background: #eef1f5; font-weight: 600; }
.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums;
  overflow-wrap: normal; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
.status { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 11px;
  color: #fff; white-space: nowrap; }
.status.consensus_in { background: #0072B2; }
.status.consensus_out { background: #D55E00; }
.status.no_consensus { background: #6b6b6b; }
.note { border-left: 4px solid #c2410c; background: #fff7ed; padding: 6px 10px; margin: 8px 0; }
.comment { white-space: pre-wrap; overflow-wrap: anywhere; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  main { padding: 0; }
  .page-break { break-before: page; page-break-before: always; }
  a { color: inherit; text-decoration: none; }
}
"""

_REPORT_CSS = _BASE_CSS + """
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(96px, 1fr)); gap: 8px;
  margin: 12px 0; }
.card { border: 1px solid #d9dee5; border-radius: 6px; padding: 6px 10px; font-size: 12.5px; }
.card b { display: block; font-size: 20px; }
.narrative p { white-space: pre-wrap; }
.toc { columns: 2; font-size: 12.5px; margin: 8px 0; padding-left: 18px; }
.figure { break-inside: avoid; page-break-inside: avoid; margin: 8px 0 14px; width: 100%; }
td small { display: block; font-size: 11px; }
.nowrap { white-space: nowrap; overflow-wrap: normal; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 6px 0; }
dt { font-weight: 600; }
dd { margin: 0; overflow-wrap: anywhere; }
ul.comments { margin: 2px 0 8px; padding-left: 18px; }
@media print { .modebar-container { display: none !important; } }
"""


def _page(title: str, body: str, *, css: str, scripts: bool) -> str:
    """A complete HTML document whose policy forbids all network access (and any script).

    With ``scripts`` inline scripts may run (plotly.js); nothing can still be fetched, so the
    file opens offline and a stray tag in the data cannot load anything.
    """
    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:"
    if scripts:
        csp += "; script-src 'unsafe-inline' 'unsafe-eval'"
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{css}</style></head>\n"
            f"<body><main>\n{body}\n</main></body></html>\n")


def _table(head: list[str], rows: list[list[str]], num: Iterable[int] = (),
           widths: list[int] | None = None, nowrap: Iterable[int] = (0,)) -> str:
    """An HTML table: ``head`` is plain text (escaped here); cells in ``rows`` are HTML.

    ``num`` columns are right-aligned, ``nowrap`` columns (an ID) never break, and ``widths``
    gives each column's share of the width in percent.
    """
    classes = {i: "num" for i in num} | {i: "nowrap" for i in nowrap if i not in set(num)}

    def cell(tag: str, i: int, content: str) -> str:
        cls = f' class="{classes[i]}"' if i in classes else ""
        return f"<{tag}{cls}>{content}</{tag}>"

    cols = ("<colgroup>" + "".join(f'<col style="width:{w}%">' for w in widths)
            + "</colgroup>") if widths else ""
    th = "".join(cell("th", i, _e(h)) for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(r)) + "</tr>"
                   for r in rows)
    return f"<table>{cols}<thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _frame_table(frame: pd.DataFrame, columns: dict[str, str],
                 formats: dict[str, str] | None = None) -> str:
    """A table of ``frame``'s columns (name -> header); numbers formatted, text escaped."""
    formats = formats or {}
    num = [i for i, c in enumerate(columns) if pd.api.types.is_numeric_dtype(frame[c])]
    rows = [[_e(_num(v, formats[c])) if c in formats else _e(v) for c, v in zip(
        columns, row, strict=True)] for row in frame[list(columns)].itertuples(index=False)]
    return _table(list(columns.values()), rows, num, nowrap=())


def _status(status: str) -> str:
    return f'<span class="status {_e(status)}">{_e(STATUS_LABELS.get(status, status))}</span>'


def _agree_cell(r: Any) -> str:
    votes = f"{int(r.n_agree)}/{int(r.n)}" if pd.notna(r.n) and r.n else "–"
    ci = (f"<small>95% CI {r.ci_low:.0f}–{r.ci_high:.0f}</small>"
          if pd.notna(r.ci_low) else "")
    return f"{_num(r.pct_agree, '{:.0f}%')} ({votes}){ci}"


def _median_cell(r: Any) -> str:
    return f"{_num(r.median)} ({_num(r.q1)}–{_num(r.q3)})"


def _snapshot_line(snapshot: dict[str, Any], rule: Rule) -> str:
    return (f"Snapshot {snapshot['snapshot_id']} of {snapshot['created_at']:%d %b %Y %H:%M} UTC"
            f" · content hash {str(snapshot['content_hash'])[:12]} · consensus rule "
            f"“{rule.label}”" + (f", {rule.version}" if rule.version else ""))


# --- the consensus report (HTML) ---------------------------------------------------------------

# Reporting items of ACCORD 2024 / CREDES 2017 and where this report answers each.
CHECKLIST = [
    ("Consensus definition stated a priori, and the rule version used", "rule"),
    ("Number invited and responding per round (response rate, attrition)", "panel"),
    ("Flow of panelists and of statements across rounds", "flow"),
    ("Final list of statements with their agreement levels", "final"),
    ("Items dropped and why; wording changes between rounds", "dropped"),
    ("Per-statement results per round", "results"),
    ("Agreement across the panel and stability between rounds", "stats"),
    ("How comments were collected and used; the comments", "comments"),
    ("Feedback given to panelists between rounds", "narrative"),
    ("Software used; data snapshot", "software"),
]
_SECTIONS = {
    "narrative": "Methods and results", "rule": "Consensus definition",
    "panel": "Panel and response", "flow": "Statements across rounds",
    "final": "Final list of statements", "dropped": "Items dropped and wording changes",
    "results": "Per-statement results per round", "stats": "Panel agreement and stability",
    "comments": "Comments", "software": "Software and data", "checklist": "Reporting checklist",
}


def _h2(key: str, page_break: bool = False) -> str:
    cls = ' class="page-break"' if page_break else ""
    return f'<h2 id="{key}"{cls}>{_e(_SECTIONS[key])}</h2>'


def html_report(data: ReportData) -> str:
    """The consensus report as one self-contained HTML file (plotly.js inline, no network)."""
    figs = _figures(data)
    body = "\n".join([
        _report_header(data), _narrative_section(data), _rule_section(data),
        _panel_section(data), _flow_section(data, figs[0]), _final_section(data, figs[1]),
        _dropped_section(data), _results_section(data), _stats_section(data),
        _comments_section(data), _software_section(data), _checklist_section()])
    return _page(f"{data.title} — consensus report", body, scripts=True,
                 css=_REPORT_CSS + report_charts.CHART_CSS)


def _figures(data: ReportData) -> list[str]:
    """The report's charts, in document order; plotly.js is inlined once, with the first."""
    final = final_statements(data)
    lo, hi = data.rule.agree
    figs = [status_by_round_chart(data.metrics),
            report_charts.final_agreement_chart(final[final["fate"] != "dropped"],
                                                data.rule.threshold, f"{lo:g}–{hi:g}")]
    config = {"displaylogo": False, "responsive": True, "displayModeBar": False}
    html = [fig.to_html(full_html=False, include_plotlyjs=i == 0, div_id=f"chart-{i + 1}",
                        config=config) for i, fig in enumerate(figs)]
    return [f'<div class="figure">{h}</div>' for h in html]


def _report_header(data: ReportData) -> str:
    final = final_statements(data)["fate"].value_counts()
    cards = [("Panelists invited", int(data.rates["invited"].max())),
             ("Rounds", len(data.rates)),
             (f"Statements ({data.metrics['statement_id'].nunique()} wordings)",
              len(final_statements(data))),
             ("Accepted", int(final.get("accepted", 0))),
             ("Rejected", int(final.get("rejected", 0))),
             ("No consensus", int(final.get("open", 0) + final.get("dropped", 0)))]
    toc = "".join(f'<li><a href="#{k}">{_e(v)}</a></li>' for k, v in _SECTIONS.items())
    return (f'<header><p class="kicker">Delphi consensus report</p><h1>{_e(data.title)}</h1>'
            f'<p class="meta">{_e(_snapshot_line(data.snapshot, data.rule))} · generated '
            f'{data.generated_at:%d %b %Y %H:%M} UTC with Delphi Dashboard '
            f'{_e(data.software["Delphi Dashboard"])}</p></header>'
            '<div class="cards">' + "".join(f'<div class="card"><b>{v}</b>{_e(k)}</div>'
                                            for k, v in cards)
            + f'</div><ol class="toc">{toc}</ol>')


def _narrative_section(data: ReportData) -> str:
    paras = "".join(f"<p>{_e(p.strip())}</p>" for p in data.narrative.split("\n\n")
                    if p.strip())
    return f'{_h2("narrative")}<div class="narrative">{paras}</div>'


def _rule_section(data: ReportData) -> str:
    rule = data.rule
    no_op = ", ".join(f"“{x}”" for x in data.no_opinion) or "none offered"
    items = [("Rule", rule.label), ("Definition", rule.describe()),
             ("Version", rule.version or "(none given)"), ("Source", rule.source or "—"),
             ("Agree / disagree ranges", f"{rule.agree[0]:g}–{rule.agree[1]:g} / "
                                         f"{rule.disagree[0]:g}–{rule.disagree[1]:g}"),
             ("No-opinion answers", f"{no_op}; " + ("counted in" if
                                                     data.no_opinion_in_denominator else
                                                     "left out of") + " the denominator"),
             ("Quantiles", "linear interpolation (R type 7)")]
    dl = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items)
    warn = "" if data.config_rule == data.rule else f'<p class="note">{_e(_rule_check(data))}</p>'
    return (f"{_h2('rule')}<p>Pre-registered in the study configuration before round 1; every "
            f"status in this report was computed with it (snapshot "
            f"{data.snapshot['snapshot_id']}).</p><dl>{dl}</dl>{warn}")


def _panel_section(data: ReportData) -> str:
    r = data.rates
    table = _frame_table(r, {"round": "Round", "invited": "Invited", "responded": "Responded",
                             "response_rate": "Response rate", "new": "First time",
                             "retained": "Retained", "lost": "Lost since previous round"},
                         {"response_rate": "{:.0f}%", "retained": "{:.0f}", "lost": "{:.0f}"})
    steps = [report_charts.FlowStep("Invited", [f"{int(r['invited'].max())} experts"])]
    for row in r.itertuples():
        side = [f"{row.invited - row.responded} did not respond"]
        if pd.notna(row.lost) and row.lost:
            side.append(f"{int(row.lost)} lost since round {row.round - 1}")
        if row.round != r["round"].min() and row.new:
            side.append(f"{int(row.new)} responded for the first time")
        steps.append(report_charts.FlowStep(
            f"Round {row.round}", [f"{row.responded} responded ({row.response_rate:.0f}%)"],
            side))
    comp = _frame_table(data.panel, {"attribute": "Attribute", "value": "Value",
                                     "count": "Panelists"}) if not data.panel.empty else \
        "<p class='muted'>No panel attributes were recorded.</p>"
    return (f"{_h2('panel')}{table}<h3>Flow of panelists</h3>"
            f"{report_charts.flow_diagram(steps, 'Flow of panelists across rounds')}"
            f"<h3>Panel composition</h3>{comp}")


def _flow_section(data: ReportData, status_chart: str) -> str:
    f, steps = data.flow, []
    for i, r in enumerate(f.itertuples()):
        lines = [x for x in (f"{r.entered} entered" if r.entered else "",
                             f"{r.carried_in} rated again" if r.carried_in else "",
                             f"{r.revised_in} with revised wording" if r.revised_in else "",
                             f"{r.added} added" if r.added else "") if x]
        side = [f"{n} {label}" for n, label in (
            (r.accepted, "accepted (consensus in)"), (r.rejected, "rejected (consensus out)"),
            (r.dropped, "dropped without consensus"), (r.open, "no consensus (last round)"))
            if n]
        nxt = f.iloc[i + 1] if i + 1 < len(f) else None
        arrow = None if nxt is None else (f"{r.to_next_round} rated again · "
                                          f"{r.revised_for_next} revised · "
                                          f"{nxt['added']} added")
        steps.append(report_charts.FlowStep(f"Round {r.round}: {r.rated} statements rated",
                                            lines, side, arrow))
    table = _frame_table(f, {"round": "Round", "rated": "Rated", "added": "Added",
                             "revised_in": "Revised wording", "consensus_in": "Consensus in",
                             "consensus_out": "Consensus out", "no_consensus": "No consensus",
                             "dropped": "Dropped"})
    return (f"{_h2('flow')}"
            f"{report_charts.flow_diagram(steps, 'Flow of statements across rounds')}"
            f"{table}{status_chart}")


def _final_rows(frame: pd.DataFrame) -> list[list[str]]:
    return [[_e(r.statement_id), f"{_e(r.text)}<small>{_e(r.domain)}</small>",
             str(r.round), _agree_cell(r), _median_cell(r)] for r in frame.itertuples()]


def _final_section(data: ReportData, chart: str) -> str:
    final = final_statements(data)
    head = ["ID", "Statement", "Round", "Agree", "Median (IQR)"]
    parts = [_h2("final", page_break=True),
             "<p>Each statement's last version, at the last round it was rated.</p>"]
    for fate, title in (("accepted", "Accepted: consensus in"),
                        ("rejected", "Rejected: consensus out"),
                        ("open", "No consensus after the last round")):
        part = final[final["fate"] == fate]
        parts.append(f"<h3>{_e(title)} ({len(part)})</h3>")
        parts.append(_table(head, _final_rows(part), num=[2, 3, 4],
                            widths=[7, 57, 7, 15, 14]) if len(part) else
                     "<p class='muted'>None.</p>")
    return "".join(parts) + chart


def _dropped_section(data: ReportData) -> str:
    dropped, revs = dropped_items(data), revisions(data)
    rows = [[_e(r.statement_id), str(r.round), _e(r.text), _e(r.reason)]
            for r in dropped.itertuples()]
    rev_rows = [[str(r.round), f"{_e(r.revised_from)} → {_e(r.statement_id)}",
                 _e(r.previous_text), _e(r.text)] for r in revs.itertuples()]
    return (f"{_h2('dropped')}<h3>Items dropped ({len(dropped)})</h3>"
            + (_table(["ID", "Round", "Statement", "Why"], rows, num=[1],
                      widths=[7, 7, 50, 36]) if rows else
               "<p class='muted'>No statement was dropped.</p>")
            + f"<h3>Wording changes ({len(revs)})</h3>"
            + (_table(["Round", "IDs", "Previous wording", "New wording"], rev_rows,
                      num=[0], widths=[7, 13, 40, 40], nowrap=[1])
               if rev_rows else "<p class='muted'>No statement was revised.</p>"))


def _counts(dist: pd.DataFrame) -> dict[tuple[int, str], dict[int, int]]:
    valid = dist[~dist["answer"].isin(["no_opinion", "missing"])]
    out: dict[tuple[int, str], dict[int, int]] = {}
    for r in valid.itertuples():
        out.setdefault((r.round, r.statement_id), {})[int(r.answer)] = int(r.count)
    return out


def _results_section(data: ReportData) -> str:
    counts = _counts(data.distribution)
    lo, hi = data.rule.agree
    parts = [_h2("results", page_break=True),
             f"<p>Agree = share rating {lo:g}–{hi:g} of valid ratings (votes / n, Wilson 95% "
             "interval). The bar shows the ratings from "
             f"{_e(data.scale[min(data.scale)])} (left) to {_e(data.scale[max(data.scale)])}"
             " (right).</p>"]
    for rnd, frame in data.metrics.groupby("round", sort=True):
        rows = [[_e(r.statement_id), f"{_e(r.text)}<small>{_e(r.domain)}</small>",
                 report_charts.distribution_bar(counts.get((rnd, r.statement_id), {}),
                                                data.scale),
                 str(int(r.n)), _agree_cell(r), _median_cell(r),
                 f"{_status(r.status)}<small>{_e(r.fate_detail)}</small>"]
                for r in frame.itertuples()]
        parts.append(f"<h3>Round {rnd} ({len(frame)} statements)</h3>")
        parts.append(_table(["ID", "Statement", "Ratings", "n", "Agree", "Median (IQR)",
                             "Status"], rows, num=[3, 4, 5], widths=[7, 40, 13, 5, 13, 10, 12]))
    return "".join(parts)


def _stats_section(data: ReportData) -> str:
    if data.stats_note:
        return f"{_h2('stats')}<p class='note'>{_e(data.stats_note)}</p>"
    k = _frame_table(data.kendall, {"round": "Round", "n_panelists": "Panelists",
                                    "n_statements": "Statements", "w": "Kendall's W",
                                    "chi2": "χ²", "df": "df", "p": "p", "note": "Note"},
                     {"w": "{:.3f}", "chi2": "{:.1f}", "p": "{:.3g}", "df": "{:.0f}"})
    s = data.stability
    stab = _frame_table(s, {"round": "Round", "statement_id": "ID",
                            "prev_statement_id": "Compared with", "n_paired": "Paired",
                            "pct_changed": "Changed", "cv_change_pct": "CV change",
                            "wilcoxon_p": "Wilcoxon p", "mcnemar_p": "McNemar p",
                            "verdict": "Verdict"},
                        {"pct_changed": "{:.0f}%", "cv_change_pct": "{:+.0f}%",
                         "wilcoxon_p": "{:.3g}", "mcnemar_p": "{:.3g}"}) if not s.empty else \
        "<p class='muted'>No statement was rated in two rounds.</p>"
    return (f"{_h2('stats')}<h3>Kendall's coefficient of concordance per round</h3>{k}"
            f"<h3>Stability between rounds</h3><p>{_e(stats.STABILITY_RULE.replace('**', ''))}"
            f"</p>{stab}")


def _comments_section(data: ReportData) -> str:
    head = _h2("comments", page_break=True)
    if data.comments is None:
        return (f"{head}<p class='muted'>Comments are shared with the steering committee only "
                "(privacy.observer_comments is off).</p>")
    intro = ("<p>Panelists could comment on every statement in every round. Comments are shown "
             "without their authors, in a fixed order that does not follow the panel.</p>")
    parts = [head, intro]
    for rnd, frame in data.comments.groupby("round", sort=True):
        parts.append(f"<h3>Round {rnd}</h3>")
        for sid, part in frame.groupby("statement_id", sort=True):
            items = "".join(f'<li class="comment">{_e(c)}</li>' for c in part["comment"])
            parts.append(f'<p><b>{_e(sid)}</b></p><ul class="comments">{items}</ul>')
    if data.comments.empty:
        parts.append("<p class='muted'>No comments.</p>")
    return "".join(parts)


def _software_section(data: ReportData) -> str:
    s = data.snapshot
    items = [("Snapshot", str(s["snapshot_id"])),
             ("Taken", f"{s['created_at']:%Y-%m-%d %H:%M} UTC"),
             ("Content hash (SHA-256)", str(s["content_hash"])),
             ("Source", str(s.get("source_title") or "")),
             ("Validation problems", f"{s.get('n_problems', 0)} (see the Coordinator page)"),
             *data.software.items()]
    dl = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items)
    return (f"{_h2('software')}<dl>{dl}</dl><p class='muted'>Reproduce: "
            f"<code>python -m lib report --snapshot {s['snapshot_id']} --format html "
            "--out report.html</code></p>")


def _checklist_section() -> str:
    rows = [[_e(item), f'<a href="#{key}">{_e(_SECTIONS[key])}</a>'] for item, key in CHECKLIST]
    return (f"{_h2('checklist')}<p>Reporting items of ACCORD (2024) and CREDES (2017) and where "
            "this report answers them.</p>" + _table(["Item", "Section"], rows, nowrap=[1]))


# --- feedback for each panelist ----------------------------------------------------------------

@dataclass(frozen=True)
class FeedbackData:
    """One round's results and each panelist's own ratings (pseudonyms only; coordinator use)."""

    title: str
    round: int
    snapshot: dict[str, Any]
    rule: Rule
    scale: dict[int, str]
    no_opinion: tuple[str, ...]
    metrics: pd.DataFrame  # this round, with domain and text
    distribution: pd.DataFrame  # this round
    comments: pd.DataFrame  # this round, anonymous
    ratings: pd.DataFrame  # this round: panelist, statement_id, rating, no_opinion
    panelists: tuple[str, ...]  # everyone to write to
    responded: frozenset[str]


def gather_feedback(con: Any, snapshot_id: int, cfg: StudyConfig, round_: int | None = None
                    ) -> FeedbackData:
    """What the feedback after ``round_`` (default: the last round) needs."""
    info = store.snapshot_info(con, snapshot_id)
    metrics = store.metrics_for(con, snapshot_id)
    rounds = sorted(metrics["round"].unique())
    rnd = rounds[-1] if round_ is None else round_
    if rnd not in rounds:
        raise ValueError(f"round {rnd} is not in snapshot {snapshot_id} "
                         f"(rounds: {', '.join(map(str, rounds))})")

    def this(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["round"] == rnd].reset_index(drop=True)

    resp = store.respondents_for(con, snapshot_id)
    return FeedbackData(
        title=info.get("study_title") or cfg.title, round=int(rnd),
        snapshot={k: info[k] for k in ("snapshot_id", "created_at", "content_hash")},
        rule=_rule_from_dict(info["rule"]), scale=_scale(cfg), no_opinion=cfg.no_opinion,
        metrics=this(metrics), distribution=this(store.distribution_for(con, snapshot_id)),
        comments=this(store.comments_for(con, snapshot_id)),
        ratings=store.ratings_for(con, snapshot_id, int(rnd)),
        panelists=tuple(store.feedback_recipients(con, snapshot_id)["panelist"]),
        responded=frozenset(resp.loc[resp["round"] == rnd, "panelist"]))


_FEEDBACK_CSS = _BASE_CSS + """
.intro { background: #f4f6f9; border-radius: 6px; padding: 8px 12px; margin: 10px 0 16px; }
.stmt { border: 1px solid #d9dee5; border-radius: 6px; padding: 8px 12px; margin: 0 0 12px;
  break-inside: avoid; page-break-inside: avoid; }
.stmt h2 { font-size: 15px; border: 0; margin: 0 0 2px; padding: 0; }
.stmt .sid { display: inline-block; min-width: 3.2em; color: #52606d; }
.stmt .domain { font-size: 12px; color: #52606d; margin-bottom: 6px; }
.stmt .yours { margin: 4px 0; }
.stmt .summary { font-size: 12.5px; margin: 2px 0 6px; }
.stmt h3 { font-size: 13px; margin: 8px 0 2px; }
.stmt ul { margin: 2px 0; padding-left: 18px; font-size: 12.5px; }
footer { margin-top: 18px; font-size: 11.5px; color: #52606d; }
"""
_FEEDBACK_STATUS = {"consensus_in": "consensus reached: the panel agrees",
                    "consensus_out": "consensus reached: the panel disagrees",
                    "no_consensus": "no consensus yet"}


def feedback_file_name(fd: FeedbackData, panelist: str, ext: str = "html") -> str:
    """The file name of one panelist's feedback: by round and pseudonym."""
    return f"feedback_round{fd.round}_{re.sub(r'[^A-Za-z0-9_-]', '_', panelist)}.{ext}"


def feedback_html(fd: FeedbackData, panelist: str, parts: _FeedbackParts | None = None) -> str:
    """One panelist's feedback: per statement the panel's results with their own rating marked.

    It names no other panelist and carries nothing that runs (no script may load).  ``parts``
    (from :func:`feedback_parts`) saves recomputing the panel's side for every panelist.
    """
    parts = parts if parts is not None else feedback_parts(fd)
    mine = fd.ratings[fd.ratings["panelist"] == panelist]
    own = {sid: (rating, no_op) for sid, rating, no_op in
           zip(mine["statement_id"], mine["rating"], mine["no_opinion"], strict=True)}
    took_part = panelist in fd.responded
    cards = "".join(_feedback_statement(fd, part, own.get(sid)) for sid, part in parts.items())
    intro = (f"For each statement of round {fd.round} you see how the panel rated it, with "
             "your own rating marked, the median, interquartile range (IQR) and percentage "
             "agreement, and the panel's comments (anonymous). Please take them into account "
             "when you answer the next round.")
    if not took_part:
        intro += f" You did not take part in round {fd.round}; the panel's results are below."
    rule = f"Consensus rule, set before round 1: {_lower_first(fd.rule.describe())}."
    body = (f'<header><p class="kicker">Delphi feedback · round {fd.round}</p>'
            f"<h1>{_e(fd.title)}</h1><p class='meta'>Prepared for panelist "
            f"<b>{_e(panelist)}</b> · {_count(len(fd.metrics), 'statement')}</p></header>"
            f'<div class="intro"><p>{_e(intro)}</p><p>{_e(rule)}</p></div>{cards}'
            f"<footer>{_e(_snapshot_line(fd.snapshot, fd.rule))}. Confidential: this document "
            "is for you only; please do not share it.</footer>")
    return _page(f"Round {fd.round} feedback — {panelist}", body,
                 css=_FEEDBACK_CSS + report_charts.CHART_CSS, scripts=False)


@dataclass(frozen=True)
class _StatementPart:
    """The panel's side of one statement's feedback: the same in every panelist's document."""

    statement_id: str
    counts: dict[int, int]  # valid ratings per score
    other: dict[str, int]  # answers not counted (no opinion)
    head: str  # HTML: heading and domain
    tail: str  # HTML: summary line and comments


_FeedbackParts = dict[str, _StatementPart]


def feedback_parts(fd: FeedbackData) -> _FeedbackParts:
    """Per statement of the round (in order), the panel's side of the feedback, built once.

    One pass over the distribution and the comments instead of a filter per statement and
    panelist (the preview took 85 ms of the Reports page's rerun at the S benchmark size)."""
    counts: dict[str, dict[int, int]] = {}
    not_counted: dict[str, int] = {}
    for sid, answer, n in zip(fd.distribution["statement_id"], fd.distribution["answer"],
                              fd.distribution["count"], strict=True):
        if answer == "no_opinion":
            not_counted[sid] = not_counted.get(sid, 0) + int(n)
        elif answer != "missing":
            counts.setdefault(sid, {})[int(answer)] = int(n)
    said: dict[str, list[str]] = {}
    for sid, comment in zip(fd.comments["statement_id"], fd.comments["comment"], strict=True):
        said.setdefault(sid, []).append(comment)
    label = (fd.no_opinion[0] if fd.no_opinion else "No opinion") + " (not counted)"
    lo, hi = fd.rule.agree
    parts: _FeedbackParts = {}
    for r in fd.metrics.itertuples():
        summary = (f"n = {int(r.n)} · median {_num(r.median)} · IQR {_num(r.q1)}–{_num(r.q3)} · "
                   f"{_num(r.pct_agree, '{:.0f}')}% agree ({int(r.n_agree)} of {int(r.n)} "
                   f"rated {lo:g}–{hi:g}) · {_FEEDBACK_STATUS.get(r.status, r.status)}")
        cs = said.get(r.statement_id, [])
        comments = ("<ul>" + "".join(f'<li class="comment">{_e(c)}</li>' for c in cs) + "</ul>"
                    if cs else "<p class='muted'>No comments.</p>")
        parts[r.statement_id] = _StatementPart(
            statement_id=r.statement_id, counts=counts.get(r.statement_id, {}),
            other={label: not_counted.get(r.statement_id, 0)},
            head=(f'<h2><span class="sid">{_e(r.statement_id)}</span> {_e(r.text)}</h2>'
                  f'<div class="domain">{_e(r.domain)}</div>'),
            tail=(f'<p class="summary">{_e(summary)}</p><h3>Comments from the panel</h3>'
                  f"{comments}"))
    return parts


def _own_value(fd: FeedbackData, own: tuple[Any, Any] | None) -> tuple[int | None, str]:
    if own is None:
        return None, "you did not rate this statement"
    rating, no_opinion = own
    if pd.notna(rating):
        score = int(rating)
        return score, f"{score} · {fd.scale.get(score, score)}"
    if bool(no_opinion):
        return None, fd.no_opinion[0] if fd.no_opinion else "no opinion"
    return None, "left blank"


def _feedback_statement(fd: FeedbackData, part: _StatementPart, own: tuple[Any, Any] | None
                        ) -> str:
    score, own_text = _own_value(fd, own)
    return (f'<section class="stmt" data-statement="{_e(part.statement_id)}">{part.head}'
            f'<p class="yours">Your rating: <b data-own="{score if score is not None else ""}">'
            f"{_e(own_text)}</b></p>"
            + report_charts.distribution_rows(part.counts, fd.scale, score, part.other)
            + part.tail + "</section>")


def _zip(files: dict[str, str | bytes], when: dt.datetime) -> bytes:
    buf = io.BytesIO()
    stamp = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=stamp), content,
                        compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def feedback_zip(fd: FeedbackData) -> bytes:
    """Every panelist's feedback as HTML files in one ZIP, named by pseudonym."""
    parts = feedback_parts(fd)
    files = {feedback_file_name(fd, p): feedback_html(fd, p, parts) for p in fd.panelists}
    return _zip(files, fd.snapshot["created_at"])


def mail_merge_csv(fd: FeedbackData, recipients: pd.DataFrame, ext: str = "html") -> str:
    """identity, name, pseudonym, file name (and whether they took part) for a mail-merge."""
    frame = recipients[recipients["panelist"].isin(fd.panelists)]
    out = pd.DataFrame({
        "identity": frame["identity"], "name": frame["name"], "pseudonym": frame["panelist"],
        "file_name": [feedback_file_name(fd, p, ext) for p in frame["panelist"]],
        f"responded_round_{fd.round}": ["yes" if p in fd.responded else "no"
                                        for p in frame["panelist"]]})
    return safe_csv(out)


def pdf_browser() -> str | None:
    """A Chromium that can print PDFs, or None."""
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def html_to_pdf(html: str, browser: str, timeout: float = 90.0) -> bytes:
    """Print an HTML document to PDF with headless Chromium (no network, no header/footer)."""
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp, "doc.html"), Path(tmp, "doc.pdf")
        src.write_text(html, encoding="utf-8")
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-pdf-header-footer", f"--user-data-dir={tmp}/profile",
               f"--print-to-pdf={out}", src.as_uri()]
        try:
            subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"Chromium did not finish printing within {timeout:g} s") from None
        if not out.exists() or out.stat().st_size == 0:
            raise RuntimeError("Chromium did not write a PDF")
        return out.read_bytes()


def feedback_pdf_zip(fd: FeedbackData, browser: str, workers: int = 4) -> bytes:
    """Every panelist's feedback as PDF files in one ZIP (printed by headless Chromium)."""
    parts = feedback_parts(fd)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pdfs = dict(zip(fd.panelists, pool.map(
            lambda p: html_to_pdf(feedback_html(fd, p, parts), browser), fd.panelists),
            strict=True))
    return _zip({feedback_file_name(fd, p, "pdf"): pdfs[p] for p in fd.panelists},
                fd.snapshot["created_at"])


# --- the next round's statements ---------------------------------------------------------------

ACTIONS = ("keep", "revise", "drop")
# The columns of the study's Statements tab (see lib.ingest).
STATEMENT_COLUMNS = ["statement_id", "round", "domain", "text", "revised_from"]
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,19}")


def _bump(suffix: str) -> str:
    """The next letter suffix: '' → a, a → b, z → aa, az → ba."""
    if not suffix:
        return "a"
    if suffix[-1] != "z":
        return suffix[:-1] + chr(ord(suffix[-1]) + 1)
    return _bump(suffix[:-1]) + "a"


def next_id(statement_id: str, taken: Iterable[str]) -> str:
    """The id of a revised statement: a letter suffix added or incremented, skipping ids in use.

    >>> next_id("S07", [])
    'S07a'
    >>> next_id("S07a", ["S07b"])
    'S07c'
    """
    m = re.fullmatch(r"(.*?\d)([a-z]*)", statement_id)
    base, suffix = (m[1], m[2]) if m else (statement_id, "")
    used = set(taken)
    while True:
        suffix = _bump(suffix)
        if base + suffix not in used:
            return base + suffix


def new_statement_id(taken: Iterable[str]) -> str:
    """The next free id after the highest number in use, same prefix and width.

    >>> new_statement_id(["S01", "S07a", "S42"])
    'S43'
    """
    used = set(taken)
    found = [m for m in (re.fullmatch(r"([A-Za-z]*)(\d+)[a-z]*", t) for t in sorted(used)) if m]
    prefix, width, n = "S", 2, 0
    if found:
        prefixes = [m[1] for m in found]
        prefix = max(dict.fromkeys(prefixes), key=prefixes.count)
        nums = [m[2] for m in found if m[1] == prefix]
        n, width = max(int(x) for x in nums), max(len(x) for x in nums)
    while True:
        n += 1
        if f"{prefix}{n:0{width}d}" not in used:
            return f"{prefix}{n:0{width}d}"


def next_round_candidates(metrics: pd.DataFrame, comments: pd.DataFrame,
                          statements: pd.DataFrame, round_: int | None = None) -> pd.DataFrame:
    """The statements without consensus in ``round_`` (default: the last), to decide on.

    Columns: action (keep), statement_id, text, revised_text, new_id (the suggested id of a
    revision), note, their results and comments, and domain.
    """
    rnd = int(metrics["round"].max()) if round_ is None else round_
    m = metrics[(metrics["round"] == rnd) & (metrics["status"] == "no_consensus")]
    taken, suggested = set(statements["statement_id"]), []
    for sid in m["statement_id"]:
        suggested.append(next_id(sid, taken))
        taken.add(suggested[-1])
    said = (comments[comments["round"] == rnd].groupby("statement_id")["comment"]
            .agg(lambda c: "  •  ".join(c)))
    return pd.DataFrame({
        "action": "keep", "statement_id": m["statement_id"], "text": m["text"],
        "revised_text": "", "new_id": suggested, "note": "", "pct_agree": m["pct_agree"],
        "median": m["median"], "iqr": m["iqr"], "n": m["n"],
        "comments": m["statement_id"].map(said).fillna(""), "domain": m["domain"],
    }).reset_index(drop=True)


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) \
        else str(value).strip()


def _id_problems(new: str, used: set[str], what: str) -> list[str]:
    if not _SAFE_ID.fullmatch(new):
        return [f"{what}: the id “{new}” may only use letters, digits, '.', '_' and '-' "
                "(up to 20, starting with a letter or digit)"]
    return [f"{what}: the id {new} is already in use"] if new in used else []


def next_round_rows(plan: pd.DataFrame, new: pd.DataFrame, next_round: int,
                    taken: Iterable[str]) -> tuple[pd.DataFrame, list[str]]:
    """Rows of the Statements tab for ``next_round``, and the problems to fix first.

    ``plan`` is ``next_round_candidates`` as edited (keep / revise / drop); ``new`` holds new
    statements (statement_id, domain, text; an empty id gets the next free one).  A revision
    gets its new id and ``revised_from``; the problem list is empty when the rows are ready.
    """
    rows, problems, used = [], [], set(taken)
    for r in plan.itertuples():
        action, revised = _text(r.action) or "keep", _text(r.revised_text)
        if action == "keep":
            if revised:
                problems.append(f"{r.statement_id}: revised wording given but the action is "
                                "keep; choose revise, or clear the wording")
            rows.append((r.statement_id, next_round, r.domain, r.text, None))
        elif action == "revise":
            nid = _text(r.new_id) or next_id(r.statement_id, used)
            if not revised or revised == _text(r.text):
                problems.append(f"{r.statement_id}: revise needs a new wording")
            problems += _id_problems(nid, used, r.statement_id)
            used.add(nid)
            rows.append((nid, next_round, r.domain, revised, r.statement_id))
        elif action != "drop":
            problems.append(f"{r.statement_id}: the action must be one of {', '.join(ACTIONS)}")
    for r in new.itertuples():
        text, given = _text(r.text), _text(r.statement_id)
        if not text:
            if given or _text(r.domain):
                problems.append(f"new statement {given or '(no id)'}: its wording is missing")
            continue
        nid = given or new_statement_id(used)
        problems += _id_problems(nid, used, f"new statement {nid}")
        used.add(nid)
        rows.append((nid, next_round, _text(r.domain) or None, text, None))
    out = pd.DataFrame(rows, columns=STATEMENT_COLUMNS, dtype=object).astype({"round": "int64"})
    return out, problems


def next_round_csv(rows: pd.DataFrame) -> str:
    """The next round's rows for the Statements tab, as CSV (formulas neutralised)."""
    return safe_csv(rows[STATEMENT_COLUMNS])


def next_round_xlsx(rows: pd.DataFrame, plan: pd.DataFrame) -> bytes:
    """A workbook: the Statements rows to paste, and the decisions taken on each statement."""
    decisions = plan.assign(new_id=plan["new_id"].where(plan["action"] == "revise", ""))[
        ["statement_id", "action", "new_id", "revised_text", "note", "pct_agree", "median",
         "iqr", "n"]]
    return _xlsx({"Statements": rows[STATEMENT_COLUMNS], "Decisions": decisions})
