"""lib.reports.docx: the Word report and feedback read back with python-docx and checked against
the database, then opened in LibreOffice (converted to PDF headless, pages rendered to PNG).

The reference numbers come from the database (``store.metrics_for``, the ``ratings`` table), never
from the report code under test.  The LibreOffice tests skip, saying why, where ``soffice`` or
poppler's ``pdftoppm``/``pdftotext`` are missing (``python3 run.py test`` installs them).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import zipfile
from dataclasses import replace
from pathlib import Path

import docx
import pandas as pd
import pytest
from docx.table import Table as WordTable
from docx.text.paragraph import Paragraph

from lib import store
from lib.__main__ import main
from lib.reports.data import build_feedback_data, build_report_data, with_narrative
from lib.reports.docx import (
    docx_report,
    feedback_docx,
    feedback_docx_zip,
    write_feedback_docx_zip,
)
from lib.reports.feedback import COMMENTS_SHOWN, feedback_zip
from lib.reports.html import report_sections
from lib.reports.inputs import StoreFrames, feedback_inputs, report_inputs
from lib.reports.tables import final_statements

_ENDS = {"accepted": "Accepted", "rejected": "Rejected", "open": "No consensus after"}


@pytest.fixture(scope="module")
def demo(demo_db_master, demo_cfg):
    """The demo's report (committee's and observers'), the feedback after round 3, and the
    reference tables read from the database."""
    with store.connect(demo_db_master, read_only=True) as con:
        sid = store.current_snapshot_id(con)

        def report(comments: bool):
            frames = report_inputs(StoreFrames(con, sid), include_comments=comments)
            return build_report_data(frames, demo_cfg)

        return {
            "data": report(True),
            "observer": report(False),
            "fd": build_feedback_data(feedback_inputs(StoreFrames(con, sid)), demo_cfg),
            "metrics": store.metrics_for(con, sid),
            "comments": con.execute(
                "SELECT comment FROM ratings WHERE snapshot_id = ? AND comment <> ''", [sid]
            ).df()["comment"],
            "ratings": con.execute(
                "SELECT panelist, statement_id, rating FROM ratings WHERE snapshot_id = ? "
                "AND round = 3 AND rating IS NOT NULL",
                [sid],
            ).df(),
            "identities": con.execute("SELECT identity, name FROM identity_map").df(),
        }


@pytest.fixture(scope="module")
def report(demo) -> bytes:
    return docx_report(demo["data"])


def _open(blob: bytes) -> docx.document.Document:
    return docx.Document(io.BytesIO(blob))


def _blocks(doc) -> list[Paragraph | WordTable]:
    """The body's paragraphs and tables in document order."""
    out = []
    for child in doc.element.body.iterchildren():
        if child.tag.endswith("}p"):
            out.append(Paragraph(child, doc))
        elif child.tag.endswith("}tbl"):
            out.append(WordTable(child, doc))
    return out


def _headings(doc, level: int) -> list[str]:
    return [p.text for p in doc.paragraphs if p.style.name == f"Heading {level}"]


def _tables_after(doc, heading: str) -> list[WordTable]:
    """The tables between the heading ``heading`` and the next heading of any level."""
    out, inside = [], False
    for b in _blocks(doc):
        if isinstance(b, Paragraph) and b.style.name.startswith("Heading"):
            inside = b.text == heading
        elif inside and isinstance(b, WordTable):
            out.append(b)
    return out


def _rows(t: WordTable) -> list[list[str]]:
    return [[c.text for c in row.cells] for row in t.rows]


def _text(doc) -> str:
    """Every paragraph's text, in tables (nested ones included) as well."""
    parts = [p.text for p in doc.paragraphs]
    tables = list(doc.tables)
    while tables:
        t = tables.pop()
        for row in t.rows:
            for cell in row.cells:
                parts += [p.text for p in cell.paragraphs]
                tables += cell.tables
    return "\n".join(parts)


# --- the consensus report ----------------------------------------------------------------------


def test_report_sections_are_the_html_reports_in_order(demo, report):
    sections, _ = report_sections(demo["data"])
    assert _headings(_open(report), 1) == list(sections.values())


def test_report_states_snapshot_and_rule_with_its_version(demo, report):
    doc = _open(report)
    rule = {r[0]: r[1] for r in _rows(_tables_after(doc, "Consensus definition")[0])}
    assert rule["Version"] == "v1, pre-registered 2026-09-01"
    assert rule["Rule"] == "≥ 75% agreement" and "at least 75% rate it 4–5" in rule["Definition"]
    assert "mirror" not in rule["Definition"]  # the rule in words, as the HTML report gives it
    head = doc.paragraphs[2].text
    info = demo["data"].snapshot
    assert head.startswith(f"Snapshot {info['snapshot_id']} of")
    assert info["content_hash"][:12] in head and "v1, pre-registered 2026-09-01" in head


def test_report_results_tables_match_the_metrics(demo, report):
    doc = _open(report)
    m = demo["metrics"]
    ref = {(int(r["round"]), r["statement_id"]): r for _, r in m.iterrows()}
    seen = 0
    for rnd in sorted(m["round"].unique()):
        n_rnd = int((m["round"] == rnd).sum())
        (t,) = _tables_after(doc, f"Round {rnd} ({n_rnd} statements)")
        assert [c.text for c in t.rows[0].cells][:4] == ["ID", "Statement", "Ratings", "n"]
        for row in t.rows[1:]:
            cells = row.cells
            r = ref[(int(rnd), cells[0].text)]
            pct, k, n = re.match(r"(\d+)% \((\d+)/(\d+)\)", cells[4].text).groups()
            assert (int(pct), int(k), int(n)) == (round(r["pct_agree"]), r["n_agree"], r["n"])
            assert cells[3].text == str(r["n"])
            assert cells[5].text == f"{r['median']:g} ({r['q1']:g}–{r['q3']:g})"
            # the strip: one shaded cell per point of the 5-point scale, holding its count
            (strip,) = cells[2].tables
            counts = [int(c.text) for c in strip.rows[0].cells]
            assert len(counts) == 5 and sum(counts) == r["n"]
            assert sum(counts[3:]) == r["n_agree"]  # 4–5 agree
            seen += 1
    assert seen == len(m)


def test_report_final_list_counts_each_ending(demo, report):
    doc = _open(report)
    final = final_statements(demo["data"])
    titles = [h for h in _headings(doc, 2) if h.startswith(tuple(_ENDS.values()))]
    for fate, start in _ENDS.items():
        (title,) = [t for t in titles if t.startswith(start)]
        n = int((final["fate"] == fate).sum())
        assert title.endswith(f"({n})")
        rows = _tables_after(doc, title)
        assert (len(rows[0].rows) - 1 if rows else 0) == n


def test_report_response_per_round_matches_the_database(demo, report):
    doc = _open(report)
    rates = _rows(_tables_after(doc, "Panel and response")[0])
    assert rates[0][:3] == ["Round", "Invited", "Responded"]
    # demo: 15 invited; 15, 15 then 14 responded (one panelist skipped round 3)
    assert [r[:3] for r in rates[1:]] == [["1", "15", "15"], ["2", "15", "15"], ["3", "15", "14"]]


def test_report_holds_the_stopping_verdict_eligibility_and_uncertainty(demo, report):
    text = _text(_open(report))
    data = demo["data"]
    assert data.stopping.described in text and data.stopping.verdict.headline in text
    assert f"{data.eligibility.sentence}." in text
    areas = data.uncertainty.areas["statement_id"]
    (table,) = _tables_after(_open(report), "Areas of uncertainty")
    assert [r[0] for r in _rows(table)[1:]] == list(areas)


def test_report_carries_the_drafted_narrative_or_the_edited_one(demo, report):
    first = demo["data"].narrative.split("\n\n")[0]
    assert first in [p.text for p in _open(report).paragraphs]
    edited = with_narrative(demo["data"], "Our own methods.\n\nOur own results.")
    paragraphs = [p.text for p in _open(docx_report(edited)).paragraphs]
    assert "Our own methods." in paragraphs and "Our own results." in paragraphs
    assert first not in paragraphs


def test_observer_report_has_no_comment_and_no_identity(demo):
    text = _text(_open(docx_report(demo["observer"])))
    said = [c for c in demo["comments"] if len(c) > 20]
    assert said and not [c for c in said if c in text]
    assert "shared with the steering committee only" in text
    for row in demo["identities"].itertuples():
        assert row.identity not in text and row.name not in text
    assert not re.search(r"\bP\d{2}\b", text)


def test_committee_report_has_the_comments(demo, report):
    text = _text(_open(report))
    said = [c for c in demo["comments"] if len(c) > 20]
    assert all(c in text for c in said)


def test_cli_writes_a_docx_report(demo_db_master, tmp_path, capsys):
    out = tmp_path / "report.docx"
    args = ["report", "--format", "docx", "--db", str(demo_db_master), "--out", str(out)]
    assert main(args) == 0
    assert "Wrote the DOCX report of snapshot 1" in capsys.readouterr().out
    assert _headings(_open(out.read_bytes()), 1)[0] == "Methods and results"


# --- feedback ----------------------------------------------------------------------------------


def test_feedback_marks_exactly_the_panelists_own_ratings(demo):
    fd = demo["fd"]
    doc = _open(feedback_docx(fd, "P03"))
    marked = {}
    for b in _blocks(doc):
        if isinstance(b, Paragraph) and b.style.name == "Heading 2":
            sid = b.text.split()[0]
        elif isinstance(b, WordTable):
            for row in _rows(b):
                if row[3] == "◀ your rating":
                    marked[sid] = int(row[0].split(" ")[0])
    mine = demo["ratings"][demo["ratings"]["panelist"] == "P03"]
    assert marked == {r.statement_id: int(r.rating) for r in mine.itertuples()}
    assert len(_headings(doc, 2)) == len(fd.metrics)


def test_feedback_distribution_and_summary_match_the_metrics(demo):
    doc = _open(feedback_docx(demo["fd"], "P03"))
    ref = {r["statement_id"]: r for _, r in demo["metrics"].iterrows() if r["round"] == 3}
    tables = [b for b in _blocks(doc) if isinstance(b, WordTable)]
    summaries = [p.text for p in doc.paragraphs if p.text.startswith("n = ")]
    assert len(tables) == len(summaries) == len(ref)
    for sid, t, summary in zip(_headings(doc, 2), tables, summaries, strict=True):
        r = ref[sid.split()[0]]
        counts = [int(row[2].split(" ")[0]) for row in _rows(t) if "%" in row[2]]
        assert sum(counts) == r["n"] and sum(counts[:2]) == r["n_agree"]  # rows 5, 4 first
        assert f"median {r['median']:g}" in summary and f"{r['pct_agree']:.0f}% agree" in summary


def test_feedback_names_no_other_panelist(demo):
    text = _text(_open(feedback_docx(demo["fd"], "P03")))
    assert set(re.findall(r"\bP\d{2}\b", text)) == {"P03"}
    for row in demo["identities"].itertuples():
        assert row.identity not in text and row.name not in text


def test_feedback_for_a_non_responder_says_so(demo):
    fd = demo["fd"]
    (absent,) = sorted(set(fd.panelists) - fd.responded)  # one demo panelist skipped round 3
    text = _text(_open(feedback_docx(fd, absent)))
    assert "did not take part in round 3" in text and "◀ your" not in text


def test_feedback_zip_names_the_files_as_the_html_zip(demo):
    fd = demo["fd"]
    docs = zipfile.ZipFile(io.BytesIO(feedback_docx_zip(fd)))
    html = zipfile.ZipFile(io.BytesIO(feedback_zip(fd))).namelist()
    assert docs.namelist() == [n.removesuffix(".html") + ".docx" for n in html]
    assert len(docs.namelist()) == len(fd.panelists) == 15
    one = _open(docs.read("feedback_round3_P07.docx"))
    assert "Prepared for panelist P07" in _text(one)


# --- LibreOffice opens them: PDF, page images, text -------------------------------------------


def _tools() -> None:
    missing = [t for t in ("soffice", "pdftoppm", "pdftotext") if shutil.which(t) is None]
    if missing:
        why = os.environ.get("DELPHI_TEST_PACKAGES")  # set by `python3 run.py test`
        pytest.skip(
            f"{', '.join(missing)} not installed{f' ({why})' if why else ''}: python3 run.py "
            "test installs Debian's libreoffice-writer-nogui and poppler-utils (as root with "
            "apt-get)"
        )


def _to_pdf(doc: Path, out: Path) -> Path:
    """``doc`` converted by headless LibreOffice with a private profile (never the user's)."""
    profile = out / "lo-profile"
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(out),
            str(doc),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return out / (doc.stem + ".pdf")


@pytest.fixture(scope="module")
def printed(demo, report, tmp_path_factory) -> dict[str, Path]:
    """The report and P03's feedback as PDFs printed by LibreOffice."""
    _tools()
    folder = tmp_path_factory.mktemp("docx-pdf")
    (folder / "report.docx").write_bytes(report)
    (folder / "feedback.docx").write_bytes(feedback_docx(demo["fd"], "P03"))
    return {name: _to_pdf(folder / f"{name}.docx", folder) for name in ("report", "feedback")}


def _pages(pdf: Path) -> int:
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, check=True).stdout
    return text.count(b"\f")


def _pdf_text(pdf: Path) -> str:
    out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, check=True)
    return out.stdout.decode("utf-8")


def test_libreoffice_prints_the_report(demo, printed):
    pdf = printed["report"]
    # 42 statements over 3 rounds with their tables: more than a few pages, not a runaway layout
    assert 8 <= _pages(pdf) <= 30
    text = _pdf_text(pdf)
    sections, _ = report_sections(demo["data"])
    for name in sections.values():
        assert name in text
    assert "v1, pre-registered 2026-09-01" in text
    assert demo["data"].eligibility.sentence in text


def test_libreoffice_prints_the_feedback(demo, printed):
    pdf = printed["feedback"]
    assert 2 <= _pages(pdf) <= 10
    text = _pdf_text(pdf)
    rated = int((demo["ratings"]["panelist"] == "P03").sum())
    assert "Prepared for panelist P03" in text and text.count("◀ your rating") == rated


def test_libreoffice_pages_render_with_ink(printed):
    """Every page of both documents renders to an image with something on it."""
    from PIL import Image

    for pdf in printed.values():
        prefix = pdf.with_suffix("")
        subprocess.run(["pdftoppm", "-r", "30", "-png", str(pdf), str(prefix)], check=True)
        images = sorted(pdf.parent.glob(f"{prefix.name}-*.png"))
        assert len(images) == _pages(pdf)
        for png in images:
            lo, hi = Image.open(png).convert("L").getextrema()
            assert lo < 100 and hi > 200, f"{png.name} is blank"


def test_feedback_closes_the_study_after_its_last_round_only(demo, demo_db_master, demo_cfg):
    # the demo pre-registers max_rounds = 3: round 3's feedback thanks, round 2's invites
    assert demo["fd"].final
    last = _text(_open(feedback_docx(demo["fd"], "P03")))
    assert "last round of the study" in last and "next round" not in last
    with store.connect(demo_db_master, read_only=True) as con:
        frames = feedback_inputs(StoreFrames(con, store.current_snapshot_id(con)))
    earlier = _text(_open(feedback_docx(build_feedback_data(frames, demo_cfg, 2), "P03")))
    assert "next round" in earlier and "last round of the study" not in earlier
    assert "mirror" not in earlier and "at least 75% rate it 4–5" in earlier


def test_feedback_shows_each_statements_first_comments_and_counts_the_rest(demo):
    fd = demo["fd"]
    sid = fd.metrics["statement_id"].iloc[0]
    before = int((fd.comments["statement_id"] == sid).sum())
    extra = pd.DataFrame(
        {"round": 3, "statement_id": sid, "comment": [f"Remark {i} on it." for i in range(25)]}
    )
    fd = replace(fd, comments=pd.concat([fd.comments, extra], ignore_index=True))
    text = _text(_open(feedback_docx(fd, "P03")))
    shown = COMMENTS_SHOWN - min(before, COMMENTS_SHOWN)  # stored comments come first
    assert sum(f"Remark {i} on it." in text for i in range(25)) == shown
    assert f"{before + 25 - COMMENTS_SHOWN} more comments not shown." in text


def test_feedback_zip_streams_with_progress(demo, tmp_path):
    fd, seen = demo["fd"], []
    with (tmp_path / "pack.zip").open("w+b") as out:
        write_feedback_docx_zip(fd, out, lambda done, total: seen.append((done, total)))
        out.seek(0)
        names = zipfile.ZipFile(out).namelist()
    assert seen == [(i, 15) for i in range(1, 16)] and len(names) == 15
