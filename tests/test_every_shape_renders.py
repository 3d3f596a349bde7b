"""Every page renders for every study shape and every role (issue 12.4).

Hypothesis generates studies (``tests/study_shapes.py``): empty and header-only round tabs,
2- to 21-point scales, statements listed but never asked, one respondent, numeric (narrow and
wide-ranging) and text panel attributes.  Each is refreshed into its own database and every page
the role is offered is run with AppTest, as observer, committee and coordinator: no exception and
no error message, ever; a page with nothing to show says so.  Runs are derandomised and bounded
(``EXAMPLES`` generated studies plus the named shapes below) so CI is reproducible.
"""

from __future__ import annotations

import ast
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

from hypothesis import HealthCheck, example, given, settings
from streamlit import config as stconfig
from streamlit.testing.v1 import AppTest

from lib import publication, store
from lib.auth import hash_password
from lib.config import load_config
from lib.pipeline import RefreshError, refresh
from lib.sources import RawSource
from tests.scale_fixtures import MIXED_TOML, mixed_study
from tests.study_shapes import Shape, build, config_toml, refreshed, shapes

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
ROLES = ("observer", "committee", "coordinator")
RANK = {role: i for i, role in enumerate(ROLES)}
EXAMPLES = 10
ACCESS = {
    "committee_password_hash": hash_password("team", iterations=1000),
    "coordinator_password_hash": hash_password("boss", iterations=1000),
}
NO_RATINGS = "No ratings yet"


def _pages() -> list[tuple[str, str]]:
    """(page file, minimum role) of app.py's PAGES list, read from its source."""
    tree = ast.parse(Path(APP).read_text(encoding="utf-8"))
    node = next(
        n
        for n in tree.body
        if isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "PAGES" for t in n.targets)
    )
    return [
        (page[0], page[3]) for page in ast.literal_eval(node.value) if (ROOT / page[0]).exists()
    ]


PAGES = _pages()
# every page but the Coordinator's and Set up a study shows results, so says why when there
# are none
RESULT_PAGES = {page for page, _ in PAGES} - {"pages/coordinator.py", "pages/setup.py"}


def _problems(at: AppTest) -> list[str]:
    """What went wrong on this run: exceptions (with where they were raised) and errors."""
    out = []
    for e in at.exception:
        frames = [line.strip().split("\n")[0] for line in e.stack_trace if 'File "' in line]
        out.append(f"{e.message} ({frames[-1] if frames else 'no trace'})")
    return out + [f"error: {e.value}" for e in at.error]


@contextmanager
def _study(shape: Shape) -> Iterator[bool]:
    """The study of ``shape`` refreshed into a temporary database, published, and configured as
    the app's study (``DELPHI_STUDY``, ``DELPHI_DB``); yields whether any round has a rating."""
    with tempfile.TemporaryDirectory() as tmp:
        config, _ = build(shape)
        study, db = Path(tmp) / "study.toml", Path(tmp) / "study.duckdb"
        study.write_text(config_toml(config), encoding="utf-8")
        _, result = refreshed(shape, db)
        assert not isinstance(result, RefreshError), f"refresh failed: {result}"
        with store.connect(db) as con:
            rated = not store.metrics_for(con, result.snapshot_id).empty
            rounds = sorted(set(store.statements_for(con, result.snapshot_id)["round"]))
        # observers see published snapshots only: publish this one, closing its rounds
        publication.publish(db, result.snapshot_id, close_rounds=rounds)
        with mock.patch.dict(os.environ, {"DELPHI_STUDY": str(study), "DELPHI_DB": str(db)}):
            yield rated


def _pages_as(role: str) -> Iterator[tuple[str, AppTest]]:
    """Each page ``role`` is offered, run in one AppTest session signed in as ``role``."""
    at = AppTest.from_file(APP, default_timeout=60)
    # .streamlit/config.toml hides exception details from browsers; a failure here shows them
    stconfig.set_option("client.showErrorDetails", "full")
    at.secrets["access"] = ACCESS
    at.session_state["role"] = role
    at.run()
    for page, minimum in PAGES:
        if RANK[role] >= RANK[minimum]:
            yield page, at.switch_page(page).run()


def _failures(role: str, rated: bool) -> list[str]:
    """Every problem on every page ``role`` is offered; a missing "no ratings" sentence too."""
    failures = []
    for page, at in _pages_as(role):
        failures += [f"{role} · {page} · {p}" for p in _problems(at)]
        if not rated and page in RESULT_PAGES and not any(NO_RATINGS in i.value for i in at.info):
            failures.append(f"{role} · {page} · no ratings, and no sentence saying so")
    return failures


def test_every_page_says_no_ratings_yet_while_the_first_round_has_no_answers():
    # Round 1's tab has its questions but nobody has answered yet: the start of every study.
    with _study(Shape(rounds=("header",), statements=2, unasked=1)) as rated:
        assert not rated and not _failures("coordinator", rated)


def test_every_page_says_no_ratings_yet_before_any_round_tab_has_a_row():
    # No Statements tab and every round tab empty: the study has no round at all yet.
    with _study(Shape(rounds=("empty", "empty"), statements_tab=False, panel="none")) as rated:
        assert not rated and not _failures("coordinator", rated)


def test_pages_render_while_the_next_round_has_no_answers():
    with _study(Shape(rounds=("full", "header"), statements=3, seed=1)) as rated:
        assert rated and not _failures("coordinator", rated)


def test_next_round_page_opens_when_every_statement_reached_consensus():
    # seed 0: all three statements of round 2 reach consensus (nothing left to decide on)
    with _study(Shape(points=11, scale_min=0, seed=0)) as rated:
        assert rated and not _failures("coordinator", rated)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(shapes)
# the other shapes issue 12 names: a statement listed but not asked, a 0–10 scale, 21 and 2
# points, a numeric attribute of a wide range, a single respondent, an empty middle round
@example(Shape(rounds=("full", "full"), unasked=2, seed=3))
@example(Shape(points=11, scale_min=0, rounds=("full", "full"), seed=4))
@example(Shape(points=21, rounds=("full",), preset="median_iqr", seed=5))
@example(Shape(points=2, rounds=("full", "full", "full"), preset="comet_70_15", seed=6))
@example(Shape(panel="wide", panel_size=7, rounds=("full", "full"), seed=7))
@example(Shape(panel_size=1, rounds=("full", "full", "header"), seed=8))
@example(Shape(rounds=("full", "empty", "full"), seed=9))
def test_every_page_renders_for_every_role(shape):
    with _study(shape) as rated:
        failures = [f for role in ROLES for f in _failures(role, rated)]
    assert not failures, "\n".join(failures)


@contextmanager
def _mixed_scales_study() -> Iterator[None]:
    """``tests/scale_fixtures``: a 7-point round with one Yes/No statement, then a Yes/No vote
    counting "Don't know" in the denominator; refreshed, published, configured as the app's."""
    with tempfile.TemporaryDirectory() as tmp:
        study, db = Path(tmp) / "study.toml", Path(tmp) / "study.duckdb"
        study.write_text(MIXED_TOML, encoding="utf-8")
        cfg = load_config(study)
        tabs = mixed_study().tabs
        result = refresh(cfg, db, raw=RawSource(tabs=tabs, source=cfg.source, title="Mixed"))
        publication.publish(db, result.snapshot_id, close_rounds=[1, 2])
        with mock.patch.dict(os.environ, {"DELPHI_STUDY": str(study), "DELPHI_DB": str(db)}):
            yield


def test_every_page_renders_a_study_that_changes_scale_between_rounds():
    with _mixed_scales_study():
        failures = [f for role in ROLES for f in _failures(role, True)]
        at = next(at for page, at in _pages_as("committee") if page == "pages/statements.py")
        label = next(o for o in at.selectbox(key="st_statement").options if "S02" in o)
        at.selectbox(key="st_statement").select(label).run()
        failures += [f"committee · statements S02 · {p}" for p in _problems(at)]
    assert not failures, "\n".join(failures)
