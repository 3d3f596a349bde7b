"""Generated Delphi studies of every shape a page must survive, in the Google Forms layout.

A :class:`Shape` says what a study looks like (scale, rounds and how far each got, statements
listed but not asked, panel size, panel attributes); :func:`build` turns it into a configuration
dict and raw tabs, drawing the answers from a generator seeded by ``shape.seed``; :data:`shapes`
is the Hypothesis strategy over shapes.  ``tests/test_shapes_lib.py`` and
``tests/test_every_shape_renders.py`` refresh each study and read it back.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st

from lib.config import StudyConfig, config_from_dict
from lib.pipeline import RefreshError, RefreshResult, refresh
from lib.sources import RawSource

__all__ = ["Shape", "build", "config_toml", "refreshed", "shapes", "NO_OPINION"]

NO_OPINION = "Unable to judge"
ROUND_STATES = ("full", "header", "empty")  # answered; header row only; no row at all
PANEL_KINDS = ("none", "text", "numeric", "wide", "all")
PRESETS = ("pct75", "comet_70_15", "median_iqr")
COUNTRIES = ["Italy", "Spain", "Brazil", "India", "UK", "Egypt"]


@dataclass(frozen=True)
class Shape:
    """What a generated study looks like; answers come from a generator seeded by ``seed``."""

    points: int = 5  # scale points, 2..21
    scale_min: int = 1  # 0 gives the 0-10 scale at 11 points
    rounds: tuple[str, ...] = ("full", "full")  # ROUND_STATES, one per round tab
    statements: int = 3  # asked in round 1
    panel_size: int = 4
    responders: tuple[int, ...] = ()  # per round how many of the panel answer (default: all)
    unasked: int = 0  # Statements-tab rows, per round, for statements no round tab asks
    revise: bool = True  # later rounds carry the first statement revised (S01 -> S01a)
    statements_tab: bool = True
    panel: str = "all"  # PANEL_KINDS: which attribute columns the Panel tab has
    preset: str = "pct75"
    seed: int = 0


def _ids(shape: Shape) -> dict[int, list[tuple[str, str | None]]]:
    """(statement id, revised_from) asked per round: round 1 asks all, later rounds carry every
    other one (the others reached consensus), the first revised, and add one new statement."""
    first = [f"S{i:02d}" for i in range(1, shape.statements + 1)]
    asked: dict[int, list[tuple[str, str | None]]] = {1: [(s, None) for s in first]}
    for rnd in range(2, len(shape.rounds) + 1):
        prev = [s for s, _ in asked[rnd - 1]]
        carried = [(s, None) for s in prev[::2]]
        if shape.revise and carried:
            old = carried[0][0]
            carried[0] = (f"{old[:3]}{chr(ord('a') + rnd - 2)}", old)
        asked[rnd] = [*carried, (f"N{rnd}{len(prev):02d}", None)]
    return asked


def _text(sid: str) -> str:
    return f"Statement {sid} is worded for round testing"


def _answer(rng: np.random.Generator, shape: Shape) -> Any:
    """One answer cell: mostly a score (as a number, or an end label), sometimes blank or
    no opinion."""
    hi = shape.scale_min + shape.points - 1
    draw = rng.random()
    if draw < 0.08:
        return ""
    if draw < 0.14:
        return NO_OPINION
    score = int(rng.integers(shape.scale_min, hi + 1))
    if score == hi and rng.random() < 0.5:
        return "Strongly agree"
    return score


def _emails(shape: Shape) -> list[str]:
    return [f"p{i:02d}@panel.example" for i in range(shape.panel_size)]


def _round_tab(
    rng: np.random.Generator, shape: Shape, rnd: int, asked: list[tuple[str, str | None]]
) -> list[list[Any]]:
    state = shape.rounds[rnd - 1]
    if state == "empty":
        return []
    header: list[Any] = ["Timestamp", "Email Address"]
    for sid, _ in asked:
        header += [f"{sid}. {_text(sid)}", "Comments (optional)"]
    rows = [header]
    if state == "header":
        return rows
    emails = _emails(shape)
    n = shape.responders[rnd - 1] if rnd <= len(shape.responders) else len(emails)
    start = dt.datetime(2026, 9, 1, 9) + dt.timedelta(days=28 * (rnd - 1))
    for i, email in enumerate(emails[:n]):
        row: list[Any] = [start + dt.timedelta(hours=i), email]
        for _ in asked:
            row += [_answer(rng, shape), "a comment" if rng.random() < 0.15 else ""]
        rows.append(row)
    return rows


def _statements_tab(
    shape: Shape, asked: dict[int, list[tuple[str, str | None]]]
) -> list[list[Any]]:
    """Every statement asked, by round; with ``shape.unasked``, also that many new statements
    per round and one of the previous round's that the tab does not ask (a form not yet
    updated): listed, never asked."""
    rows: list[list[Any]] = [["statement_id", "round", "domain", "text", "revised_from"]]
    for rnd, pairs in asked.items():
        domain = f"Domain {'AB'[rnd % 2]}"
        rows += [[sid, rnd, domain, _text(sid), parent or ""] for sid, parent in pairs]
        rows += [
            [f"U{rnd}{k}", rnd, "Not asked", _text(f"U{rnd}{k}"), ""] for k in range(shape.unasked)
        ]
        here = {sid for sid, _ in pairs} | {parent for _, parent in pairs}
        left = [sid for sid, _ in asked.get(rnd - 1, []) if sid not in here]
        rows += [[sid, rnd, domain, _text(sid), ""] for sid in left[:1] if shape.unasked]
    return rows


def _panel_tab(rng: np.random.Generator, shape: Shape) -> list[list[Any]]:
    """Email and Name always; then text (Country), narrow numeric (Years) and wide numeric
    (Budget, up to 10^9: many orders of magnitude) attributes as ``shape.panel`` says."""
    cols = {
        "text": ["Country"],
        "numeric": ["Years in practice"],
        "wide": ["Budget"],
        "all": ["Country", "Years in practice", "Budget"],
    }.get(shape.panel, [])
    rows: list[list[Any]] = [["Email Address", "Name", *cols]]
    for i, email in enumerate(_emails(shape)):
        value = {
            "Country": COUNTRIES[int(rng.integers(len(COUNTRIES)))],
            "Years in practice": int(rng.integers(1, 40)),
            "Budget": int(10 ** rng.uniform(0, 9)),
        }
        rows.append([email, f"Panelist {i}", *(value[c] for c in cols)])
    return rows


def build(shape: Shape) -> tuple[dict[str, Any], dict[str, list[list[Any]]]]:
    """The study of ``shape``: (configuration dict, raw tabs by name)."""
    rng = np.random.default_rng(shape.seed)
    hi = shape.scale_min + shape.points - 1
    config = {
        "title": f"Generated {shape.points}-point study",
        "source": "generated.xlsx",
        "timezone": "UTC",
        "scale": {
            "min": shape.scale_min,
            "max": hi,
            "no_opinion": [NO_OPINION],
            "labels": {"Strongly disagree": shape.scale_min, "Strongly agree": hi},
        },
        "rounds": {f"Round {r}": r for r in range(1, len(shape.rounds) + 1)},
        "consensus": {"preset": shape.preset},
        "privacy": {"min_group_size": 2},
        "statements_tab": "Statements" if shape.statements_tab else "",
        "panel_tab": "Panel" if shape.panel != "none" else "",
        # every attribute _panel_tab may write (one it did not write is a reported problem)
        "panel_attributes": ["Country", "Years in practice", "Budget"],
    }
    asked = _ids(shape)
    tabs = {f"Round {r}": _round_tab(rng, shape, r, asked[r]) for r in asked}
    if shape.statements_tab:
        tabs["Statements"] = _statements_tab(shape, asked)
    if shape.panel != "none":
        tabs["Panel"] = _panel_tab(rng, shape)
    return config, tabs


def config_toml(config: dict[str, Any]) -> str:
    """``config`` as a TOML study file (the few value types :func:`build` writes)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    def table(d: dict[str, Any], name: str) -> list[str]:
        lines = [f"{value(k)} = {value(v)}" for k, v in d.items() if not isinstance(v, dict)]
        for k, v in d.items():
            if isinstance(v, dict):
                sub = f"{name}.{value(k)}" if name else value(k)
                lines += ["", f"[{sub}]", *table(v, sub)]
        return lines

    text = "\n".join(table(config, "")) + "\n"
    tomllib.loads(text)  # a generated file that does not parse is a bug here, not in the app
    return text


def refreshed(shape: Shape, db: Path) -> tuple[StudyConfig, RefreshResult | RefreshError]:
    """Refresh the study of ``shape`` into ``db``: its configuration and the outcome."""
    config, tabs = build(shape)
    cfg = config_from_dict(config)
    raw = RawSource(tabs=tabs, source="generated", title="Generated", all_tabs=list(tabs))
    try:
        return cfg, refresh(cfg, db, raw=raw)
    except RefreshError as exc:
        return cfg, exc


def _shape(draw: st.DrawFn) -> Shape:
    n_rounds = draw(st.integers(1, 3))
    panel_size = draw(st.integers(1, 7))
    return Shape(
        points=draw(st.integers(2, 21)),
        scale_min=draw(st.sampled_from([0, 1])),
        rounds=tuple(
            draw(
                st.lists(
                    st.sampled_from(("full", *ROUND_STATES)), min_size=n_rounds, max_size=n_rounds
                )
            )
        ),
        statements=draw(st.integers(1, 5)),
        panel_size=panel_size,
        responders=tuple(
            draw(st.lists(st.integers(1, panel_size), min_size=n_rounds, max_size=n_rounds))
        ),
        unasked=draw(st.integers(0, 2)),
        revise=draw(st.booleans()),
        statements_tab=draw(st.booleans()),
        panel=draw(st.sampled_from(PANEL_KINDS)),
        preset=draw(st.sampled_from(PRESETS)),
        seed=draw(st.integers(0, 2**16)),
    )


shapes: st.SearchStrategy[Shape] = st.composite(_shape)()
