"""The consensus report and each panelist's feedback as editable Word documents (python-docx).

Coordinators paste the methods and results into a manuscript, and some groups work in Word
only: these documents hold what the HTML report and feedback hold, from the same
``ReportData`` and ``FeedbackData`` and the same table models (``lib.reports.render.Table``),
so every number is the HTML's.  Tables are real Word tables (editable, with a repeated header
row); a distribution is a strip of shaded cells with the count in each (report) or a bar of
shaded text per answer (feedback), never a picture.  Privacy follows the HTML: comments only
when the data carries them, stakeholder groups as the data pools them, and a feedback document
names no other panelist.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

import pandas as pd
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docx.table import _Cell
from markupsafe import Markup

from lib.analysis.stability import STABILITY_RULE
from lib.charts.base import STATUS_COLORS, likert_colors
from lib.reports import charts
from lib.reports import feedback as fb
from lib.reports import html as report_html
from lib.reports.data import FeedbackData, ReportData, rule_check
from lib.reports.decisions import eligibility_view
from lib.reports.feedback import (
    COMMENTS_SHOWN,
    Progress,
    StatementPart,
    feedback_file_name,
    feedback_parts,
    own_answers,
    write_zip,
)
from lib.reports.render import Table, macros, rule_definition, rule_in_words, table, text
from lib.reports.results import final_table, groups_view, results_tables, scale_notes, scales_table
from lib.reports.scale_uses import (
    DONT_KNOW_COLOR,
    mixed,
    no_opinion_label,
    point_labels,
    scales_used,
)
from lib.reports.tables import dropped_items, final_statements, revisions
from lib.reports.uncertainty import uncertainty_view

__all__ = ["DOCX_MIME", "docx_report", "feedback_docx", "feedback_docx_zip"]

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_MARGIN = Cm(1.8)
_GREY = RGBColor(0x59, 0x59, 0x59)
_HEAD_FILL = "E8ECEF"
_OWN_FILL = "FFF3C4"  # the panelist's own answer, as the HTML feedback highlights it


# --- the document and its pieces -----------------------------------------------------------------


def _document(title: str, subject: str, when: Any) -> Any:
    """An A4 document with the report's fonts, its properties set (dated by the snapshot, so
    the same snapshot gives the same document properties)."""
    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, _MARGIN)
    # Arial: Word has it, and LibreOffice lays it out with Liberation Sans, metric-compatible
    for name in ("Normal", "Title", "Heading 1", "Heading 2", "List Bullet"):
        doc.styles[name].font.name = "Arial"
    doc.styles["Normal"].font.size = Pt(10)
    props = doc.core_properties
    props.title, props.subject, props.author = title, subject, "Delphi Dashboard"
    if when is not None and not pd.isna(when):
        stamp = pd.Timestamp(when).to_pydatetime().replace(tzinfo=None, microsecond=0)
        props.created = props.modified = stamp
    return doc


def _width(doc: Any) -> int:
    """The usable width of the page, in EMU."""
    s = doc.sections[0]
    return s.page_width - s.left_margin - s.right_margin


def _shade(cell: _Cell, fill: str) -> None:
    """Fill a table cell with a colour (``"RRGGBB"`` or ``"#RRGGBB"``)."""
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill.lstrip("#").upper())
    cell._tc.get_or_add_tcPr().append(shd)


def _repeat_header(row: Any) -> None:
    """Repeat a table's first row at the top of every page it runs onto."""
    flag = OxmlElement("w:tblHeader")
    flag.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().append(flag)


def _rgb(color: str) -> RGBColor:
    return RGBColor.from_string(color.lstrip("#").upper())


def _run(paragraph: Any, words: str, *, bold: bool = False, size: float | None = None,
         color: str | RGBColor | None = None, italic: bool = False) -> Any:  # fmt: skip
    run = paragraph.add_run(words)
    run.bold, run.italic = bold or None, italic or None
    if size is not None:
        run.font.size = Pt(size)
    if color is not None:
        run.font.color.rgb = _rgb(color) if isinstance(color, str) else color
    return run


def _para(doc_or_cell: Any, words: str = "", **style: Any) -> Any:
    """A paragraph of ``words`` (styled as ``_run``) at the end of a document or cell."""
    p = doc_or_cell.add_paragraph()
    if words:
        _run(p, words, **style)
    return p


def _muted(doc: Any, words: str) -> None:
    _para(doc, words, italic=True, color=_GREY, size=9)


def _plain(markup: Markup | str) -> str:
    """A fragment rendered by the HTML macros as plain text (tags dropped, entities read)."""
    return Markup(markup).striptags() if isinstance(markup, Markup) else str(markup)


def _bullets(doc: Any, items: Iterable[str]) -> None:
    for item in items:
        doc.add_paragraph(item, style="List Bullet")


def _definitions(doc: Any, pairs: list[tuple[str, str]]) -> None:
    """Term / definition pairs as a two-column table without a header (the HTML's ``<dl>``)."""
    t = doc.add_table(rows=0, cols=2)
    t.style = "Table Grid"
    width = _width(doc)
    t.columns[0].width, t.columns[1].width = int(width * 0.28), int(width * 0.72)
    for term, value in pairs:
        cells = t.add_row().cells
        cells[0].width, cells[1].width = int(width * 0.28), int(width * 0.72)
        _run(cells[0].paragraphs[0], term, bold=True, size=9)
        _run(cells[1].paragraphs[0], value, size=9)
        _shade(cells[0], _HEAD_FILL)
    doc.add_paragraph()


# --- tables from the HTML report's table model ---------------------------------------------------


def _tight(t: Any) -> None:
    """A table whose cells have almost no inner margin (a strip of narrow cells)."""
    margins = OxmlElement("w:tblCellMar")
    for side in ("left", "right"):
        m = OxmlElement(f"w:{side}")
        m.set(qn("w:w"), "15")
        m.set(qn("w:type"), "dxa")
        margins.append(m)
    t._tbl.tblPr.append(margins)


def _strip(cell: _Cell, strip: dict[str, Any], width: int) -> None:
    """A distribution as a strip of shaded cells, one per answer, the count written in each:
    disagree (brown) on the left to agree (teal) on the right, then the no-opinion answers
    counted in the denominator (grey), as the HTML report's bar runs."""
    points = strip["points"]  # (count, fill, white text?)
    inner = cell.add_table(rows=1, cols=len(points))
    inner.alignment = WD_TABLE_ALIGNMENT.CENTER
    inner.autofit = False
    _tight(inner)
    each = int(width * 0.92) // len(points)  # inside the cell's own margins
    for column in inner.columns:
        column.width = each
    for c, (n, fill, dark) in zip(inner.rows[0].cells, points, strict=True):
        c.width = each
        _shade(c, fill)
        p = c.paragraphs[0]
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _run(p, str(n), size=7, color="FFFFFF" if dark else "202020", bold=n > 0)
    if strip["key"]:
        _run(cell.paragraphs[-1], strip["key"], size=7, color=_GREY)
    else:
        _thin(cell.paragraphs[-1])


def _fill_cell(cell: _Cell, value: Any, numeric: bool, width: int) -> None:
    """One cell of a ``Table``: text, or a dict with ``status``/``label`` (a coloured status
    word), ``text``, ``strip`` (a distribution) and ``small`` (a second, smaller line).  An
    HTML ``bar`` is left out: every bar the report draws has its words in ``small``."""
    p = cell.paragraphs[0]
    if numeric:
        p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    if not isinstance(value, dict):
        _run(p, text(value), size=8.5)
        return
    if value.get("status"):
        color = STATUS_COLORS.get(value["status"], "#333333")
        _run(p, f"{value.get('label', '')} ", bold=True, size=8.5, color=color)
    if value.get("text"):
        _run(p, text(value["text"]), size=8.5)
    if "strip" in value:
        p._p.getparent().remove(p._p)  # the strip's table is the cell's first block
        _strip(cell, value["strip"], width)
    if value.get("small"):
        q = _para(cell, text(value["small"]), size=7, color=_GREY)
        if numeric:
            q.alignment = WD_ALIGN_PARAGRAPH.RIGHT


def _table(doc: Any, t: Table | None, empty: str = "None.") -> None:
    """A ``Table`` as a Word table: a shaded header row repeated on every page, the columns as
    wide as the HTML's shares, numbers right-aligned."""
    if t is None or not t.rows:
        _muted(doc, empty)
        return
    n = len(t.head)
    shares = t.widths or [100 / n] * n
    width = _width(doc)
    cols = [int(width * s / sum(shares)) for s in shares]
    numeric = {i for i, c in t.classes.items() if c == "num"}
    w = doc.add_table(rows=1, cols=n)
    w.style = "Table Grid"
    w.autofit = False
    for column, size in zip(w.columns, cols, strict=True):
        column.width = size  # the grid LibreOffice lays out by; Word reads each cell's width
    _repeat_header(w.rows[0])
    for i, (cell, head) in enumerate(zip(w.rows[0].cells, t.head, strict=True)):
        cell.width = cols[i]
        _shade(cell, _HEAD_FILL)
        _run(cell.paragraphs[0], head, bold=True, size=8.5)
    for row in t.rows:
        cells = w.add_row().cells
        for i, (cell, value) in enumerate(zip(cells, row, strict=True)):
            cell.width = cols[i]
            _fill_cell(cell, value, i in numeric, cols[i])
    doc.add_paragraph()


# --- the consensus report ------------------------------------------------------------------------


def _strip_colors(scores: list[int]) -> dict[int, str]:
    """The HTML bars' colours (``lib.reports.charts``): brown to teal, a Yes/No question's two
    answers a shade darker than the palest pair."""
    palette = likert_colors(4)[::3] if len(scores) == 2 else likert_colors(len(scores))
    return dict(zip(scores, palette, strict=True))


def _dark(color: str) -> bool:
    """Whether white text reads better than black on ``color`` (relative luminance)."""
    r, g, b = (int(color.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5


def _ratings_strips(data: ReportData) -> dict[tuple[int, str], dict[str, Any]]:
    """Per round and statement, the strip of its distribution on its own scale."""
    dist = data.distribution
    counts: dict[tuple[int, str], dict[Any, int]] = {}
    for r in dist.itertuples():
        if r.answer != "missing":
            key = "no_opinion" if r.answer == "no_opinion" else int(r.answer)
            counts.setdefault((int(r.round), r.statement_id), {})[key] = int(r.count)
    out = {}
    for r in data.metrics.itertuples():
        key = (int(r.round), r.statement_id)
        scale = data.scales.scale_for(r.round, r.statement_id)
        labels = charts.clean_labels(point_labels(scale, data.scale))
        scores = sorted(labels)
        colors = _strip_colors(scores)
        mine = counts.get(key, {})
        points = [(mine.get(s, 0), colors[s], _dark(colors[s])) for s in scores]
        # the main scale's strip is read from the sentence above the tables; another names its ends
        ends = "" if not scale.name else f"{labels[scores[0]]} … {labels[scores[-1]]}"
        if scale.no_opinion_in_denominator:
            points.append((mine.get("no_opinion", 0), DONT_KNOW_COLOR, True))
            ends += f" (grey: {no_opinion_label(scale)})" if scale.name else ""
        out[key] = {"points": points, "key": ends}
    return out


def _results(data: ReportData) -> list[tuple[int, Table]]:
    """The HTML report's per-round tables, each ratings bar drawn as a strip of cells."""
    strips = _ratings_strips(data)
    out = []
    for rnd, t in results_tables(data):
        col = t.head.index("Ratings")
        rows = []
        for row in t.rows:
            cell = dict(row[col])
            cell.pop("bar", None)
            cell["strip"] = strips[(int(rnd), row[0])]
            rows.append([*row[:col], cell, *row[col + 1 :]])
        # wider than the HTML's for the strip's cells and the status on one line
        widths = [6, 35, 17, 5, 13, 10, 14] if len(t.head) == 7 else t.widths
        out.append((rnd, Table(t.head, rows, t.classes, widths)))
    return out


def _header(doc: Any, data: ReportData) -> None:
    _para(doc, "Delphi consensus report", size=9, color=_GREY, bold=True)
    doc.add_heading(data.title, 0)
    line = _plain(macros("_common.html.j2").snapshot_line(data.snapshot, data.rule))
    when = data.generated_at.strftime("%d %b %Y %H:%M")
    version = data.software["Delphi Dashboard"]
    _para(doc, f"{line} · generated {when} UTC with Delphi Dashboard {version}", size=9)
    final = final_statements(data)
    cards = report_html.summary_cards(data, final)
    _table(doc, table([label for label, _ in cards], [[str(v) for _, v in cards]], nowrap=()))


def _rule(doc: Any, data: ReportData, heading: str) -> None:
    doc.add_heading(heading, 1)
    used = scales_used(data.metrics, data.scales, data.scale)
    sid = data.snapshot["snapshot_id"]
    if mixed(used):
        doc.add_paragraph(
            "Pre-registered in the study configuration before round 1, one rule per scale: "
            "each statement's status in this report was computed with its own scale's rule "
            f"(snapshot {sid})."
        )
        _table(doc, scales_table(used))
        doc.add_heading("Main scale", 2)
    else:
        doc.add_paragraph(
            "Pre-registered in the study configuration before round 1; every status in this "
            f"report was computed with it (snapshot {sid})."
        )
    rule = data.rule
    no_op = ", ".join(f"“{x}”" for x in data.no_opinion) or "none offered"
    counted = "counted in" if data.no_opinion_in_denominator else "left out of"
    _definitions(
        doc,
        [
            ("Rule", rule.label),
            ("Definition", rule_definition(rule)),
            ("Version", rule.version or "(none given)"),
            ("Source", rule.source or "—"),
            (
                "Agree / disagree ranges",
                f"{rule.agree[0]:g}–{rule.agree[1]:g} / {rule.disagree[0]:g}–{rule.disagree[1]:g}",
            ),
            ("No-opinion answers", f"{no_op}; {counted} the denominator"),
            ("Quantiles", "linear interpolation (R type 7)"),
        ],
    )
    if data.config_rule != data.rule:
        _para(doc, rule_check(data), bold=True)
    _stopping(doc, data)


def _stopping(doc: Any, data: ReportData) -> None:
    s = data.stopping
    if s is None:
        return
    doc.add_heading("Stopping rule", 2)
    doc.add_paragraph(s.described)
    if s.verdict is None:
        _muted(doc, s.note)
        return
    if s.rule is not None:
        _para(doc, s.verdict.headline, bold=True)
    _bullets(doc, s.reasons)
    if s.verdict.conflict:
        _para(doc, s.verdict.conflict, bold=True)


def _panel(doc: Any, data: ReportData, heading: str) -> None:
    doc.add_heading(heading, 1)
    _table(doc, report_html.rates_table(data.rates))
    doc.add_heading("Flow of panelists", 2)
    _bullets(doc, [_step(s) for s in report_html.panel_flow_steps(data.rates)])
    doc.add_heading("Panel composition", 2)
    _table(doc, report_html.composition_table(data.panel), "No panel attributes were recorded.")
    e = eligibility_view(data.eligibility)
    if e is not None:
        doc.add_heading("Eligibility", 2)
        doc.add_paragraph(f"{e['sentence']}.")
        _table(doc, e["table"])
        _muted(doc, e["rule"])


def _step(step: charts.FlowStep) -> str:
    """One box of a flow diagram in words: its title, lines and side box, then its arrow."""
    words = step.title + (": " + "; ".join(step.lines) if step.lines else "")
    if step.side:
        words += " (" + "; ".join(step.side) + ")"
    return words + (f" → {step.arrow}" if step.arrow else "")


def _flow(doc: Any, data: ReportData, heading: str) -> None:
    doc.add_heading(heading, 1)
    _bullets(doc, [_step(s) for s in report_html.statement_flow_steps(data.flow)])
    _table(doc, report_html.statement_flow_table(data.flow))


def _final(doc: Any, data: ReportData, heading: str) -> None:
    doc.add_heading(heading, 1)
    doc.add_paragraph("Each statement's last version, at the last round it was rated.")
    final = final_statements(data)
    for fate, title in report_html._FINAL_GROUPS:
        t = final_table(final[final["fate"] == fate], data.scales)
        doc.add_heading(f"{title} ({len(t.rows) if t else 0})", 2)
        _table(doc, t)


def _uncertainty(doc: Any, data: ReportData, heading: str) -> None:
    u = uncertainty_view(data)
    if u is None:
        return
    doc.add_heading(heading, 1)
    counts = [f"{n} {name}" for name, n in u["counts"]]
    shapes = ": " + ", ".join(counts[:-1]) + (" and " if len(counts) > 1 else "") + counts[-1]
    n = u["n"]
    doc.add_paragraph(
        f"{n} statement{'s' if n != 1 else ''} ended without consensus"
        f"{shapes if counts else ''}. For each, its last version's result, its agreement in "
        "each round it was rated (following its revisions) and the shape of the panel's last "
        "ratings."
    )
    _table(doc, u["table"])
    _muted(doc, u["rule"])
    doc.add_heading("The panel's comments on them", 2)
    if u["comments"] is None:
        _muted(doc, _NO_COMMENTS)
    elif not u["comments"]:
        _muted(doc, "No comments.")
    for sid, rounds in u["comments"] or []:
        for when, said in rounds:
            _para(doc, f"{sid}, {when}", bold=True)
            _bullets(doc, said)


_NO_COMMENTS = (
    "Comments are shared with the steering committee only (privacy.observer_comments is off)."
)


def _dropped(doc: Any, data: ReportData, heading: str) -> None:
    doc.add_heading(heading, 1)
    dropped = report_html.dropped_table(dropped_items(data))
    doc.add_heading(f"Items dropped ({len(dropped.rows)})", 2)
    _table(doc, dropped, "No statement was dropped.")
    revised = report_html.revisions_table(revisions(data))
    doc.add_heading(f"Wording changes ({len(revised.rows)})", 2)
    _table(doc, revised, "No statement was revised.")


def _per_round(doc: Any, data: ReportData, heading: str) -> None:
    doc.add_heading(heading, 1)
    used = scales_used(data.metrics, data.scales, data.scale)
    lo, hi = data.rule.agree
    if mixed(used):
        doc.add_paragraph("Each statement is shown on its own scale (Agree: votes / denominator).")
        _bullets(doc, scale_notes(used))
    else:
        of = "valid ratings"
        if data.no_opinion_in_denominator:
            of += f" and “{no_opinion_label(data.scales.main)}” answers (grey, last)"
        doc.add_paragraph(
            f"Agree = share rating {lo:g}–{hi:g} of {of} (votes / denominator, Wilson 95% "
            "interval). Ratings: the number of panelists giving each answer, from "
            f"{data.scale[min(data.scale)]} (left) to {data.scale[max(data.scale)]} (right)."
        )
    for rnd, t in _results(data):
        doc.add_heading(f"Round {rnd} ({len(t.rows)} statements)", 2)
        _table(doc, t)


def _groups(doc: Any, data: ReportData, heading: str) -> None:
    if data.groups is None:
        return
    doc.add_heading(heading, 1)
    g = groups_view(data, data.groups)
    doc.add_paragraph(
        f"Each statement's result within each {g['noun']} beside the whole panel's (All), by "
        f"the same rule on the same scale. {g['choice'][:1].upper()}{g['choice'][1:]}."
    )
    key = "; ".join(f"{short}: {k.replace('_', ' ')}" for k, short in g["status_key"].items())
    _muted(doc, f"A group's cell: its status ({key}), % agree (votes), median (IQR).")
    _muted(doc, g["concordance_rule"])
    if g["pooled"]:
        _muted(doc, g["pooled"])
    if g["changed"]:
        _para(doc, g["changed"], bold=True)
    doc.add_heading("Final version of each statement", 2)
    _table(doc, g["final"])
    for rnd, t in g["rounds"]:
        doc.add_heading(f"Round {rnd} ({len(t.rows)} statements; respondents in brackets)", 2)
        _table(doc, t)


def _stats(doc: Any, data: ReportData, heading: str) -> None:
    doc.add_heading(heading, 1)
    if data.stats_note:
        _para(doc, data.stats_note, bold=True)
        return
    doc.add_heading("Kendall's coefficient of concordance per round", 2)
    _table(doc, report_html.kendall_table(data.kendall))
    doc.add_heading("Stability between rounds", 2)
    doc.add_paragraph(STABILITY_RULE.replace("**", ""))
    stab = report_html.stability_table(data.stability, data.scales)
    _table(doc, stab, "No statement was rated in two rounds.")


def _comments(doc: Any, data: ReportData, heading: str) -> None:
    doc.add_heading(heading, 1)
    if data.comments is None:
        _muted(doc, _NO_COMMENTS)
        return
    doc.add_paragraph(
        "Panelists could comment on every statement in every round. Comments are shown "
        "without their authors, in a fixed order that does not follow the panel."
    )
    said = report_html.comments_by_statement(data.comments)
    if not said:
        _muted(doc, "No comments.")
    for rnd, statements in said:
        doc.add_heading(f"Round {rnd}", 2)
        for sid, comments in statements:
            _para(doc, sid, bold=True)
            _bullets(doc, comments)


def _software(doc: Any, data: ReportData, heading: str) -> None:
    doc.add_heading(heading, 1)
    s = data.snapshot
    _definitions(
        doc,
        [
            ("Snapshot", str(s["snapshot_id"])),
            ("Taken", f"{pd.Timestamp(s['created_at']):%Y-%m-%d %H:%M} UTC"),
            ("Content hash (SHA-256)", str(s["content_hash"])),
            ("Source", text(s.get("source_title"))),
            ("Validation problems", f"{s.get('n_problems', 0)} (see the Coordinator page)"),
            *[(name, version) for name, version in data.software.items()],
        ],
    )
    _muted(
        doc,
        f"Reproduce: python -m lib report --snapshot {s['snapshot_id']} --format docx "
        "--out report.docx",
    )


def _narrative(doc: Any, data: ReportData, heading: str) -> None:
    doc.add_heading(heading, 1)
    for p in report_html.paragraphs_of(data.narrative):
        doc.add_paragraph(p)


def _checklist(doc: Any, data: ReportData, heading: str, sections: dict[str, str]) -> None:
    doc.add_heading(heading, 1)
    doc.add_paragraph(
        "Reporting items of ACCORD (2024) and CREDES (2017) and where this report answers them."
    )
    _, items = report_html.report_sections(data)
    _table(doc, table(["Item", "Section"], [[i, sections[k]] for i, k in items], nowrap=[1]))


_WRITERS = {
    "narrative": _narrative,
    "rule": _rule,
    "panel": _panel,
    "flow": _flow,
    "final": _final,
    "uncertainty": _uncertainty,
    "dropped": _dropped,
    "results": _per_round,
    "groups": _groups,
    "stats": _stats,
    "comments": _comments,
    "software": _software,
}


def docx_report(data: ReportData) -> bytes:
    """The consensus report as an editable Word document: the HTML report's sections, in its
    order, with real tables and the drafted (or edited) methods-and-results text."""
    doc = _document(
        f"{data.title} — consensus report", "Delphi consensus report", data.generated_at
    )
    _header(doc, data)
    sections, _ = report_html.report_sections(data)
    for key, heading in sections.items():
        if key == "checklist":
            _checklist(doc, data, heading, sections)
        else:
            _WRITERS[key](doc, data, heading)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


# --- each panelist's feedback --------------------------------------------------------------------


def _intro(fd: FeedbackData, parts: dict[str, StatementPart], took_part: bool) -> str:
    words = {p.word for p in parts.values()}
    if words == {"answer"}:
        what = (
            "how the panel answered it, with your own answer marked, the percentage answering "
            "each way"
        )
    else:
        own = "rating" if words == {"rating"} else "rating or answer"
        what = (
            f"how the panel rated it, with your own {own} marked, the median, interquartile "
            "range (IQR) and percentage agreement"
        )
    out = f"For each statement of round {fd.round} you see {what}, and the panel's comments "
    out += "(anonymous)."
    if fd.groups is not None:
        out += (
            f" Under the panel's summary you also see the result of your own group "
            f"({fd.groups.attribute}); a group with fewer than {fd.groups.min_size} respondents "
            "in the round is shown pooled with other groups, so that no one can infer another "
            "panelist's answer."
        )
    if not took_part:
        out += f" You did not take part in round {fd.round}; the panel's results are below."
    if fd.final:
        out += " This was the last round of the study: thank you for taking part."
    else:
        out += " Please take them into account when you answer the next round."
    return out


def _distribution(doc: Any, rows: list[charts.DistributionRow], word: str) -> None:
    """A statement's answers as a table: each answer, a bar of shaded blocks as long as its
    share, its count and share, and the panelist's own answer marked and highlighted."""
    t = doc.add_table(rows=0, cols=4)
    t.style = "Table Grid"
    t.autofit = False
    width = _width(doc)
    cols = [int(width * s) for s in (0.30, 0.38, 0.14, 0.18)]
    for column, size in zip(t.columns, cols, strict=True):
        column.width = size
    for r in rows:
        cells = t.add_row().cells
        for c, w in zip(cells, cols, strict=True):
            c.width = w
        _run(cells[0].paragraphs[0], r.label, size=9, bold=r.own)
        if r.score is not None or r.counted:
            _bar(cells[1], r.pct, r.color or DONT_KNOW_COLOR, cols[1])
            share = f"{r.n} ({r.pct:.0f}%)"
        else:
            share = str(r.n)
        p = cells[2].paragraphs[0]
        p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        _run(p, share, size=9, bold=r.own)
        if r.own:
            _run(cells[3].paragraphs[0], f"◀ your {word}", size=9, bold=True)
            for c in (cells[0], cells[2], cells[3]):
                _shade(c, _OWN_FILL)


def _bar(cell: _Cell, pct: float, color: str, width: int) -> None:
    """A horizontal bar as long as ``pct`` of the cell: a shaded, outlined cell of a table
    nested in it (nothing for 0%)."""
    if pct <= 0:
        return
    filled = max(int(width * 0.95 * pct / 100), Cm(0.1))
    rest = int(width * 0.95) - filled
    cell._tc.remove(cell.paragraphs[0]._p)  # the bar is the cell's first block
    inner = cell.add_table(rows=1, cols=2 if rest > Cm(0.1) else 1)
    inner.autofit = False
    _tight(inner)
    for c, w in zip(inner.rows[0].cells, (filled, rest), strict=False):
        c.width = w
        c.paragraphs[0].paragraph_format.line_spacing = Pt(8)
    for column, w in zip(inner.columns, (filled, rest), strict=False):
        column.width = w
    bar = inner.rows[0].cells[0]
    _shade(bar, color)
    _outline(bar)
    _thin(cell.paragraphs[-1])


def _outline(cell: _Cell) -> None:
    """A thin grey border round a cell, so that a pale colour still shows on paper."""
    borders = OxmlElement("w:tcBorders")
    for side in ("top", "left", "bottom", "right"):
        b = OxmlElement(f"w:{side}")
        b.set(qn("w:val"), "single")
        b.set(qn("w:sz"), "4")
        b.set(qn("w:color"), "8C8C8C")
        borders.append(b)
    cell._tc.get_or_add_tcPr().append(borders)


def _thin(paragraph: Any) -> None:
    """The empty paragraph Word needs after a table inside a cell, made a sliver high."""
    paragraph.paragraph_format.space_after = Pt(0)
    paragraph.paragraph_format.line_spacing = Pt(2)


def _statement(
    doc: Any,
    fd: FeedbackData,
    part: StatementPart,
    own: tuple[Any, Any] | None,
    group: str | None,
) -> None:
    m = fd.metrics[fd.metrics["statement_id"] == part.statement_id].iloc[0]
    doc.add_heading(f"{part.statement_id}  {text(m['text'])}", 2)
    if text(m["domain"]):
        _para(doc, text(m["domain"]), italic=True, color=_GREY, size=9)
    kind, score = fb.own_kind(own)
    p = _para(doc, f"Your {part.word}: ")
    _run(p, fb.own_text(part, kind, score), bold=True)
    mark = "no_opinion" if kind == "no_opinion" and part.dont_know else score
    yes_no = part.scale is not None and part.scale.yes_no
    rows = charts.distribution_rows(
        part.counts, part.labels or fd.scale, mark, part.other, part.dont_know, not yes_no
    )
    _distribution(doc, rows, part.word)
    _para(doc, _plain(part.summary), size=9.5).paragraph_format.space_before = Pt(4)
    if fd.groups is not None and group is not None:
        _para(doc, _plain(fb.panelist_group_line(fd.groups, part, group, fd.rule.agree)), size=9.5)
    said = fd.comments.loc[fd.comments["statement_id"] == part.statement_id, "comment"]
    _para(doc, "Comments from the panel", bold=True, size=9.5)
    if said.empty:
        _muted(doc, "No comments.")
    _bullets(doc, [text(c) for c in said.iloc[:COMMENTS_SHOWN]])
    if len(said) > COMMENTS_SHOWN:  # as the HTML document: each statement's first comments
        more = len(said) - COMMENTS_SHOWN
        _muted(doc, f"{more} more comment{'s' if more != 1 else ''} not shown.")


def feedback_docx(
    fd: FeedbackData,
    panelist: str,
    parts: dict[str, StatementPart] | None = None,
    own: dict[str, tuple[Any, Any]] | None = None,
) -> bytes:
    """One panelist's feedback as a Word document: per statement the panel's distribution with
    their own answer marked, the median, IQR, % agree and the panel's comments (anonymous).

    ``parts`` (``feedback_parts``) and ``own`` (their answers, ``own_answers``) save
    recomputing them for every panelist."""
    parts = parts if parts is not None else feedback_parts(fd)
    title = f"Round {fd.round} feedback — {panelist}"
    doc = _document(title, "Delphi feedback", fd.snapshot.get("created_at"))
    _para(doc, f"Delphi feedback · round {fd.round}", size=9, color=_GREY, bold=True)
    doc.add_heading(fd.title, 0)
    n = len(fd.metrics)
    p = _para(doc, "Prepared for panelist ")
    _run(p, panelist, bold=True)
    _run(p, f" · {n} statement{'s' if n != 1 else ''}")
    doc.add_paragraph(_intro(fd, parts, panelist in fd.responded))
    rules = fb.round_rules_of(fd, parts)
    for what, rule in rules:
        lead = f"for the {what}: " if what else "How consensus is decided (set before round 1): "
        doc.add_paragraph(lead + rule_in_words(rule) + ".")
    if own is None:
        mine = fd.ratings[fd.ratings["panelist"] == panelist]
        cols = (mine[c].tolist() for c in ("statement_id", "rating", "no_opinion"))
        own = {sid: (rating, no_op) for sid, rating, no_op in zip(*cols, strict=True)}
    group = fd.groups.own.get(panelist) if fd.groups is not None else None
    for sid, part in parts.items():
        _statement(doc, fd, part, own.get(sid), group)
    rule = rules[0][1] if len(rules) == 1 else fd.rule
    line = _plain(macros("_common.html.j2").snapshot_line(fd.snapshot, rule))
    _muted(doc, f"{line}. Confidential: this document is for you only; please do not share it.")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def feedback_docx_documents(fd: FeedbackData) -> Iterator[tuple[str, bytes]]:
    """Every panelist's feedback as (file name, Word document), made one at a time."""
    parts, answers = feedback_parts(fd), own_answers(fd)
    for p in fd.panelists:
        yield feedback_file_name(fd, p, "docx"), feedback_docx(fd, p, parts, answers.get(p, {}))


def write_feedback_docx_zip(
    fd: FeedbackData, out: BinaryIO, progress: Progress | None = None
) -> None:
    """Every panelist's feedback as Word documents in a ZIP written on ``out``, document by
    document, named by round and pseudonym as the HTML ZIP names them (``.docx``);
    ``progress(done, total)`` after each."""
    docs = feedback_docx_documents(fd)
    write_zip(out, docs, fd.snapshot["created_at"], progress, len(fd.panelists))


def feedback_docx_zip(fd: FeedbackData) -> bytes:
    """The ZIP of :func:`write_feedback_docx_zip` as bytes."""
    with tempfile.SpooledTemporaryFile(max_size=64 << 20) as tmp:
        write_feedback_docx_zip(fd, tmp)
        tmp.seek(0)
        return tmp.read()
