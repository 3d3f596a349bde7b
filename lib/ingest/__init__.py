"""Raw tab values -> tidy ratings + a validation report.

Modules by concept: ``cells`` (one cell: text, identities, ratings, timestamps), ``labels``
(numbered labels, the unknown-label problem), ``ids`` (statement IDs and texts as written),
``columns`` (header classification, statement matching, the closest Statements text),
``statements`` (the Statements tab), ``panel``
(the Panel tab), ``eligibility`` (the pre-registered criteria checked on the Panel tab),
``submissions`` (response rows, one kept per respondent), ``ratings`` (the tidy
ratings table), ``report`` (the validation report), ``context`` (what one ingest carries from
step to step: ``Context`` and ``RoundTab``) and ``core`` (:func:`ingest`).
"""

from __future__ import annotations

from lib.ingest.cells import identity_key, parse_rating
from lib.ingest.columns import split_id
from lib.ingest.core import IngestResult, ingest
from lib.ingest.ratings import RATING_COLUMNS
from lib.ingest.report import PROBLEM_COLUMNS, IngestError, column_letter

__all__ = [
    "PROBLEM_COLUMNS",
    "RATING_COLUMNS",
    "IngestError",
    "IngestResult",
    "column_letter",
    "identity_key",
    "ingest",
    "parse_rating",
    "split_id",
]
