"""Documents built from frames the caller passes: the consensus report and panelist feedback.

Modules, in the order data flows through them:

- ``data``: what a report holds (``ReportData``, ``FeedbackData``), built from a snapshot's
  stored frames (``build_report_data``, ``build_feedback_data``).
- ``scale_uses``: which scale each statement was rated on (a study may give a round, or listed
  statements, a scale of its own: a 7-point round 1, then a Yes/No vote), as documents state it.
- ``tables``: the tables derived from it (fates, flows, panel, final list, items dropped).
- ``results``: the report's per-statement tables, each row read on its own scale.
- ``uncertainty``: the areas of uncertainty (statements that ended without consensus, their
  agreement by round, the shape of their ratings) as the report and workbook show them.
- ``decisions``: the stopping rule and its verdict, and the panel's eligibility in counts.
- ``narrative``: the drafted methods-and-results text (``templates/narrative.txt.j2``).
- ``xlsx``: the metrics CSV and the report workbook.
- ``html``: the consensus report (``templates/report.html.j2``).
- ``feedback``: one document per panelist (``templates/feedback.html.j2``), ZIP, mail-merge.
- ``pdf``: printing documents with headless Chromium.
- ``charts``: the report's Plotly chart and its print-safe HTML bars.
- ``safety``: spreadsheet cells that never run as formulas.
- ``render``: the Jinja2 environment (autoescaping on for HTML), the style sheets and the
  table model of ``templates/_table.html.j2``.

The next round's statements are authoring, not export: ``lib.next_round``.

Everything that leaves here is safe to open: a spreadsheet cell never runs as a formula, every
text in HTML is escaped by the templates, and the consensus report holds aggregates only.
"""
