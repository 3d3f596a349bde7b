"""lib.reports and lib.next_round: the demo's documents say exactly what they said before issue 11.

The reference in ``tests/data/reports/`` was written once by the last ``lib/reports.py`` before the
split (commit 30cfab4), with the same inputs and the same normalisation as here: the snapshot time,
the time of generation and the software versions fixed (they change on every build), and the
narrative drafted again with them.  What is compared is content, not markup: the visible text of
each HTML document (whitespace-normalised, script and style left out) with the attributes that
carry numbers or names (``title``, ``aria-label``, ``data-*``, ``href``, widths in ``style``); the
data and titles of the two Plotly charts; the narrative; every CSV as text; and every cell of
the workbooks.  Text styled ``white-space: pre-wrap`` (comments, the narrative's paragraphs) is
compared as it is, spaces and line breaks included.  Large parts are compared by SHA-256 of the
same extraction, with one part kept as readable text so that a difference shows where it is.

The extraction (above "end of extraction") imports nothing from ``lib``: the same code ran on the
old module to write the reference.  After an intended change of what a document says, rewrite the
reference with ``write_reference`` from the ``new`` fixture's outputs and review the diff.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

# --- extraction (also run on the old code to write the reference) -----------------------------

REF = Path(__file__).resolve().parent / "data" / "reports"
FIXED_TIME = dt.datetime(2026, 1, 2, 3, 4, 5)
FIXED_SOFTWARE = {
    "Delphi Dashboard": "0.0.0",
    "Python": "3.x",
    "DuckDB": "d",
    "pandas": "p",
    "NumPy": "n",
    "SciPy": "s",
    "Plotly": "y",
    "openpyxl": "o",
}
_ATTRS = (
    "title",
    "aria-label",
    "href",
    "style",
    "data-own",
    "data-score",
    "data-statement",
    "id",
    "lang",
    "content",
)
_SKIP = ("script", "style")
_VOID = {"meta", "col", "br", "img", "input", "link", "hr", "source", "wbr"}


class _Content(HTMLParser):
    """Text runs and content-bearing attributes of an HTML document, in document order.

    Text is whitespace-normalised, except inside the elements styled ``white-space: pre-wrap``
    (a comment, a paragraph of the narrative), where every space shows and is kept as it is.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tokens: list[str] = []
        self._skip = 0
        self._open: list[tuple[str, set[str], bool]] = []  # tag, classes, pre-wrap

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in _ATTRS:
            value = values.get(name)
            if value and not (name == "id" and value.startswith("chart-")):
                self.tokens.append(f"@{name}=" + "".join(value.split()))
        if tag in _SKIP:
            self._skip += 1
        if tag not in _VOID:
            classes = set((values.get("class") or "").split())
            parent = self._open[-1] if self._open else ("", set(), False)
            pre = (
                parent[2]
                or "comment" in classes
                or (tag == "p" and parent[0] == "div" and "narrative" in parent[1])
            )
            self._open.append((tag, classes, pre))

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip -= 1
        while self._open and self._open.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if text and not self._skip:
            self.tokens.append(data if self._open and self._open[-1][2] else text)


def html_tokens(html: str) -> list[str]:
    """The visible text runs and content-bearing attributes of ``html``, whitespace-normalised."""
    parser = _Content()
    parser.feed(html)
    parser.close()
    return parser.tokens


def chart_data(html: str) -> list[dict[str, Any]]:
    """Per Plotly chart in ``html``: its traces and its layout without the (large) template."""
    decoder, out = json.JSONDecoder(), []
    for match in re.finditer(r'Plotly\.newPlot\(\s*"[^"]*",\s*', html):
        data, end = decoder.raw_decode(html, match.end())
        layout, _ = decoder.raw_decode(html, html.index("{", end))
        layout.pop("template", None)
        out.append({"data": data, "layout": layout})
    return out


def workbook_cells(content: bytes) -> dict[str, list[list[str]]]:
    """Every cell of every sheet as text (None as ''), sheet by sheet."""
    wb = openpyxl.load_workbook(io.BytesIO(content))
    return {
        ws.title: [
            ["" if v is None else repr(v) for v in row] for row in ws.iter_rows(values_only=True)
        ]
        for ws in wb.worksheets
    }


def digest(value: Any) -> str:
    """SHA-256 of a JSON-able value."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def compact(sheets: dict[str, list[list[str]]], limit: int = 5000) -> dict[str, Any]:
    """Sheets as cells, a large sheet as its row count and digest (the reference stays small)."""
    return {
        name: cells
        if len(json.dumps(cells, ensure_ascii=False)) <= limit
        else {"rows": len(cells), "sha256": digest(cells)}
        for name, cells in sheets.items()
    }


def normalised(data: Any, draft: Any) -> Any:
    """``data`` with the snapshot time, generation time and software fixed; narrative redrafted."""
    data = replace(
        data,
        snapshot={**data.snapshot, "created_at": FIXED_TIME},
        generated_at=FIXED_TIME,
        software=FIXED_SOFTWARE,
    )
    return replace(data, narrative=draft(data))


def plan_edits(candidates: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A next-round plan with one revision (formula-like wording) and one drop, and two new
    statements (one with a formula-like wording)."""
    plan = candidates.copy()
    plan.loc[0, "action"], plan.loc[0, "revised_text"] = "revise", "A new =wording"
    plan.loc[1, "action"] = "drop"
    new = pd.DataFrame(
        {"statement_id": ["", "X9"], "domain": ["D", None], "text": ["Brand new", "+Another"]}
    )
    return plan, new


def outputs(
    report: Any,
    observer: Any,
    feedback: dict[int, Any],
    recipients: pd.DataFrame,
    lib: dict[str, Any],
    next_round: dict[str, Any],
) -> dict[str, Any]:
    """Every output of the demo, extracted: ``lib`` maps the old function names to functions."""
    report_html = lib["html_report"](report)
    out: dict[str, Any] = {
        "report.txt": html_tokens(report_html),
        "report_charts.json": chart_data(report_html),
        "report_observer.sha256": digest(html_tokens(lib["html_report"](observer))),
        "narrative.txt": report.narrative,
        "metrics.csv": lib["metrics_csv"](report),
        "metrics_round2.sha256": digest(lib["metrics_csv"](report, 2)),
        "report_xlsx.json": compact(workbook_cells(lib["xlsx_report"](report))),
        "report_observer_xlsx.sha256": digest(workbook_cells(lib["xlsx_report"](observer))),
    }
    docs = {}
    for rnd, fd in feedback.items():
        for panelist in fd.panelists:
            docs[lib["feedback_file_name"](fd, panelist)] = html_tokens(
                lib["feedback_html"](fd, panelist)
            )
        out[f"mail_merge_round{rnd}.csv"] = lib["mail_merge_csv"](fd, recipients)
    out["feedback_all.json"] = {name: digest(tokens) for name, tokens in sorted(docs.items())}
    absent = sorted(
        n
        for n, t in docs.items()
        if "You did not take part in round 3; the panel's results are below." in " ".join(t)
        and "round3" in n
    )
    out["feedback_round3_P03.txt"] = docs["feedback_round3_P03.html"]
    out["feedback_round3_absent.txt"] = docs[absent[0]]
    out.update(next_round)
    return out


def next_round_outputs(
    lib: dict[str, Any], metrics: pd.DataFrame, comments: pd.DataFrame, statements: pd.DataFrame
) -> dict[str, Any]:
    """The candidates, rows, problems, CSV and workbook of the next round built from the demo."""
    candidates = lib["next_round_candidates"](metrics, comments, statements)
    plan, new = plan_edits(candidates)
    rows, problems = lib["next_round_rows"](
        plan, new, int(metrics["round"].max()) + 1, statements["statement_id"]
    )
    return {
        "next_round_candidates.csv": candidates.to_csv(index=False),
        "next_round.csv": lib["next_round_csv"](rows),
        "next_round_problems.json": problems,
        "next_round_xlsx.json": workbook_cells(lib["next_round_xlsx"](rows, plan)),
    }


def write_reference(out: dict[str, Any], folder: Path = REF) -> None:
    """Write the extracted outputs as the reference files."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in out.items():
        path = folder / name
        if name.endswith(".txt") and isinstance(value, list):
            path.write_text("\n".join(value) + "\n", encoding="utf-8")
        elif name.endswith(".json"):
            path.write_text(
                json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                encoding="utf-8",
            )
        else:
            path.write_text(value if isinstance(value, str) else str(value), encoding="utf-8")


def read_reference(name: str) -> Any:
    """A reference file, parsed as ``write_reference`` wrote it."""
    text = (REF / name).read_text(encoding="utf-8")
    if name in ("report.txt", "feedback_round3_P03.txt", "feedback_round3_absent.txt"):
        return text.rstrip("\n").split("\n")
    return json.loads(text) if name.endswith(".json") else text


# --- end of extraction -------------------------------------------------------------------------

from lib import next_round, store  # noqa: E402  (below the extraction, which runs on old code)
from lib.reports import data as report_data  # noqa: E402
from lib.reports import feedback, html, narrative, xlsx  # noqa: E402
from lib.reports.inputs import StoreFrames, feedback_inputs, report_inputs  # noqa: E402

LIB = {
    "html_report": html.html_report,
    "metrics_csv": xlsx.metrics_csv,
    "xlsx_report": xlsx.xlsx_report,
    "feedback_file_name": feedback.feedback_file_name,
    "feedback_html": feedback.feedback_html,
    "mail_merge_csv": feedback.mail_merge_csv,
    "next_round_candidates": next_round.next_round_candidates,
    "next_round_rows": next_round.next_round_rows,
    "next_round_csv": next_round.next_round_csv,
    "next_round_xlsx": next_round.next_round_xlsx,
}


@pytest.fixture(scope="module")
def new(demo_db_master, demo_cfg) -> dict[str, Any]:
    """Every output of today's code on the demo, extracted as the reference was."""
    with store.connect(demo_db_master) as con:
        sid = store.current_snapshot_id(con)
        frames = report_inputs(StoreFrames(con, sid))
        hidden = report_inputs(StoreFrames(con, sid), include_comments=False)
        inputs = feedback_inputs(StoreFrames(con, sid))
        rounds = sorted(int(r) for r in frames.metrics["round"].unique())
        fds = {r: report_data.build_feedback_data(inputs, demo_cfg, r) for r in rounds}
        recipients = store.feedback_recipients(con, sid)
        comments, statements = store.comments_for(con, sid), store.statements_for(con, sid)
    report = normalised(report_data.build_report_data(frames, demo_cfg), narrative.draft_narrative)
    observer = normalised(
        report_data.build_report_data(hidden, demo_cfg), narrative.draft_narrative
    )
    fds = {
        r: replace(fd, snapshot={**fd.snapshot, "created_at": FIXED_TIME}) for r, fd in fds.items()
    }
    later = next_round_outputs(LIB, frames.metrics, comments, statements)
    return outputs(report, observer, fds, recipients, LIB, later)


REFERENCE_FILES = sorted(p.name for p in REF.iterdir())


def test_the_reference_covers_every_output(new):
    assert sorted(new) == REFERENCE_FILES


@pytest.mark.parametrize("name", REFERENCE_FILES)
def test_output_says_what_it_said_before(new, name):
    value = new[name]
    if name.endswith(".json"):
        value = json.loads(json.dumps(value, ensure_ascii=False))  # tuples as lists
    assert value == read_reference(name)


def test_mail_merge_reference_parses(new):
    rows = list(csv.DictReader(io.StringIO(read_reference("mail_merge_round3.csv"))))
    assert len(rows) == 15 and rows[0]["file_name"] == "feedback_round3_P01.html"
