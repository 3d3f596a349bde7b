"""The write path to Google: the next round's Form, pre-filled links, results back in the sheet.

Opt-in only: nothing here runs on a refresh, and each write asks for its own scope
(``lib.sources.gsheets_auth.FORMS_WRITE_SCOPES`` / ``SHEETS_WRITE_SCOPES``).

- ``build``: the form's questions as Forms API requests, and a preview (pure).
- ``links``: personal pre-filled links, and decoding them back (pure).
- ``results``: the Results tab's rows: aggregates only (pure).
- ``client`` / ``write``: HTTP to ``forms.googleapis.com`` and ``sheets.googleapis.com``.
- ``cli``: ``python -m lib forms build|links`` and ``python -m lib results``.
"""

from lib.forms.build import STYLES, FormPlan, build_form
from lib.forms.client import WriteError, parse_form_id
from lib.forms.links import decode_link, prefilled_links, ratings_from_link
from lib.forms.results import results_rows
from lib.forms.write import read_form, write_form, write_results

__all__ = [
    "STYLES",
    "FormPlan",
    "WriteError",
    "build_form",
    "decode_link",
    "parse_form_id",
    "prefilled_links",
    "ratings_from_link",
    "read_form",
    "results_rows",
    "write_form",
    "write_results",
]
