"""Observers see aggregates only: every page, every filter value, over two studies.

Studies: the demo (Panel tab with e-mails and names) and the same answers keyed by the panelists'
*names* (identity column "Full name"), the worst case for a leak.  Both Panel tabs also carry
columns that identify a person under headers a word filter missed (first_name, Surname,
Telephone, Nom, Mobile_no, LinkedIn, Initials): only the attributes the study lists may show.
For each observer page and each value of each of its filters, everything rendered (text,
tables, chart specs) is searched for e-mail addresses, panelist names and every value of those
columns (as words), raw identities and pseudonyms.
"""

from __future__ import annotations

import ast
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from google.protobuf import text_format
from streamlit.testing.v1 import AppTest

from lib.auth import hash_password
from lib.config import load_config
from lib.pipeline import refresh
from lib.publication import publish
from lib.sources import RawSource, read_workbook
from tests.helpers import with_identifying_columns

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
PSEUDONYM = re.compile(r"\bP\d{2,4}\b")
MAX_OPTIONS = 60  # every option of every filter, bounded for the statement picker


def observer_pages() -> list[str]:
    """Page files offered to observers, read from app.py's PAGES list."""
    tree = ast.parse((ROOT / "app.py").read_text())
    node = next(
        n
        for n in tree.body
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "PAGES"
    )
    pages = ast.literal_eval(node.value)
    return [
        p for p, *_rest, minimum, _section in pages if minimum == "observer" and (ROOT / p).exists()
    ]


def _names_raw(raw: RawSource) -> tuple[RawSource, dict[str, str]]:
    """The demo answers with each panelist's name as the identity column."""
    panel = raw.tabs["Panel"]
    name_of = {str(r[0]).strip().casefold(): r[1] for r in panel[1:]}
    tabs = {}
    for tab, rows in raw.tabs.items():
        if tab.startswith("Round") or tab == "Panel":
            head = ["Full name" if str(h) == "Email Address" else h for h in rows[0]]
            col = rows[0].index("Email Address")
            body = [
                [
                    name_of.get(str(c).strip().casefold(), c) if j == col else c
                    for j, c in enumerate(r)
                ]
                for r in rows[1:]
            ]
            tabs[tab] = [head, *body]
        else:
            tabs[tab] = rows
    return RawSource(tabs=tabs, source="names", all_tabs=list(tabs)), name_of


@pytest.fixture(scope="module", params=["demo", "names"])
def study(request, tmp_path_factory):
    """(db path, study toml, secrets to hide) for each study."""
    cfg = load_config()
    raw = read_workbook(cfg.source)
    names = {str(r[1]) for r in raw.tabs["Panel"][1:]}
    emails = {str(r[0]).strip() for r in raw.tabs["Panel"][1:]}
    panel, identifying = with_identifying_columns(raw.tabs["Panel"])
    raw = replace(raw, tabs={**raw.tabs, "Panel": panel})
    folder = tmp_path_factory.mktemp(request.param)
    toml = folder / "study.toml"
    text = Path(cfg.path).read_text(encoding="utf-8")
    text = text.replace('source = "isotretinoin_delphi.xlsx"', f'source = "{cfg.source}"')
    if request.param == "names":
        raw, _ = _names_raw(raw)
        text = text.replace('identity_column = "Email Address"', 'identity_column = "Full name"')
    toml.write_text(text, encoding="utf-8")
    cfg = load_config(toml)
    db = folder / "study.duckdb"
    refresh(cfg, db, raw=raw)
    publish(db, close_rounds=list(cfg.rounds.values()))  # observers see published data only
    return db, toml, names | emails | identifying


def _observer_app(study, monkeypatch, tmp_path) -> AppTest:
    db, toml, _ = study
    private = tmp_path / "copy.duckdb"
    shutil.copy(db, private)
    monkeypatch.setenv("DELPHI_DB", str(private))
    monkeypatch.setenv("DELPHI_STUDY", str(toml))
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["access"] = {
        "coordinator_password_hash": hash_password("x", iterations=1000),
        "committee_password_hash": hash_password("y", iterations=1000),
    }
    return at


def rendered_text(at: AppTest) -> str:
    """Everything the page rendered: element protos (incl. chart specs) and table values."""
    parts: list[str] = []

    def walk(node) -> None:
        if type(node).__name__ == "Dataframe":
            parts.append(node.value.to_csv())
        elif hasattr(node, "proto") and type(node).__name__ not in ("Block", "SpecialBlock"):
            parts.append(text_format.MessageToString(node.proto, as_utf8=True))
        for child in (getattr(node, "children", None) or {}).values():
            walk(child)

    walk(at._tree)
    return readable("\n".join(parts))


# Markdown escapes (one backslash, doubled by the proto's text format) and the invisible
# characters escape_markdown inserts to stop autolinks would hide a leaked address from the
# searches below: a reader sees through both, so the search does too.
_ESCAPE = re.compile(r"\\{1,2}(?=[^\w\s])")
_INVISIBLE = re.compile("[\u200b-\u200d\u2060\ufeff]")


def readable(text: str) -> str:
    """``text`` as a person reads it: without Markdown escapes or invisible characters."""
    return _INVISIBLE.sub("", _ESCAPE.sub("", text))


def _assert_private(text: str, secrets: set[str], where: str) -> None:
    assert not EMAIL.search(text), f"{where}: e-mail address {EMAIL.search(text).group()!r}"
    # as words: a first name such as "Ana" is also the start of "Analysis"
    leaked = [
        s for s in secrets if s and s in text and re.search(rf"(?<!\w){re.escape(s)}(?!\w)", text)
    ]
    assert not leaked, f"{where}: identity {leaked[:3]} shown"
    assert not PSEUDONYM.search(text), f"{where}: pseudonym {PSEUDONYM.search(text).group()!r}"


def _filters(at: AppTest):
    for kind in ("selectbox", "multiselect", "radio", "button_group"):
        for widget in at.get(kind):
            key = getattr(widget, "key", None)
            if key and not key.startswith("$$") and key != "view_snapshot":
                yield kind, key


def _choices(kind: str, widget) -> list:
    """One value per option.  Filters must offer display strings (no format_func): AppTest only
    exposes formatted options, so a format_func would hide the raw values from this test."""
    opts = list(widget.options)[:MAX_OPTIONS]
    assert all(widget.format_func(o) == o for o in opts), f"{widget.key}: use display options"
    return [("value", [o] if kind in ("multiselect", "button_group") else o) for o in opts]


def _set(kind: str, widget, how: str, value) -> None:
    widget.set_value(value)


@pytest.mark.parametrize("page", observer_pages())
def test_observer_pages_leak_nothing_for_any_filter_value(study, page, monkeypatch, tmp_path):
    at = _observer_app(study, monkeypatch, tmp_path).run()
    secrets = study[2]
    at.switch_page(page).run()
    assert not at.exception, f"{page}: {at.exception}"
    _assert_private(rendered_text(at), secrets, page)
    for kind, key in list(_filters(at)):
        widget = next(w for w in at.get(kind) if getattr(w, "key", None) == key)
        for how, value in _choices(kind, widget):
            w = next(w for w in at.get(kind) if getattr(w, "key", None) == key)
            _set(kind, w, how, value)
            at.run()
            assert not at.exception, f"{page} {key}={value!r}: {at.exception}"
            _assert_private(rendered_text(at), secrets, f"{page} {key}={value!r}")


def test_there_are_observer_pages_to_check():
    assert {"pages/overview.py", "pages/statements.py"} <= set(observer_pages())


def test_the_search_sees_through_markdown_escapes_and_invisible_characters():
    from lib.textsafe import escape_markdown

    hidden = text_format.MessageToString(
        __import__("streamlit.proto.Markdown_pb2", fromlist=["Markdown"]).Markdown(
            body=escape_markdown("ana.silva@clinic.example Ana Silva")
        ),
        as_utf8=True,
    )
    with pytest.raises(AssertionError, match="e-mail address"):
        _assert_private(readable(hidden), {"Ana Silva"}, "probe")
