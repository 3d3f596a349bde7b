"""Seeded Delphi studies in the Google Forms layout, as the Sheets API returns them.

Every round tab looks like the demo's (``data/demo/generate.py``): ``Timestamp`` (a serial
number, as ``UNFORMATTED_VALUE`` / ``SERIAL_NUMBER`` gives it), ``Email Address``, then one
question per statement with its optional comment column — round 1 as multiple-choice grids
(``"<domain> — rate your agreement [<text>]"`` + ``"Comment on S001 (optional)"``), later rounds
as one question per statement + ``"Comments (optional)"``.  Answers are the demo's label strings
(5-point scale plus "Unable to judge").  Every statement is rated in every round (a re-rating
Delphi), so the cell count is panelists × statements × rounds; 5% of statements are reworded each
round (new id, ``revised_from``).  Realistic noise: non-responders and attrition, duplicate
submissions, e-mails typed differently, blanks, "Unable to judge", a few unknown labels, comments.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from lib.config import StudyConfig, config_from_dict
from lib.sources import RawSource

__all__ = ["Size", "SIZES", "SEED", "study_config", "study_tabs", "study_raw", "write_toml"]

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261126
EPOCH = dt.date(1899, 12, 30)
FIRST_DAY = dt.date(2026, 9, 7)
TIME_ZONE = "Europe/London"
P_BLANK, P_UNABLE, P_BAD, P_COMMENT = 0.01, 0.01, 0.0002, 0.03
P_DUPLICATE, P_VARIANT, P_ABSENT, P_DROP, P_REVISE = 0.01, 0.01, 0.03, 0.04, 0.05
COUNTRIES = ("Brazil", "USA", "Italy", "India", "UK", "Spain", "South Korea", "Egypt", "Mexico")
SETTINGS = ("Academic", "Hospital", "Private practice", "Mixed")


@dataclass(frozen=True)
class Size:
    """A study size: panelists × statements × rounds."""

    name: str
    panelists: int
    statements: int
    rounds: int

    @property
    def cells(self) -> int:
        """Rating cells when everyone answers every round."""
        return self.panelists * self.statements * self.rounds


SIZES = {
    "S": Size("S", 15, 40, 3),
    "M": Size("M", 300, 120, 3),
    "L": Size("L", 2000, 200, 4),
    "XL": Size("XL", 5000, 300, 4),  # 6 million rating cells: the growth from M (issue 18)
}


@cache
def _demo() -> ModuleType:
    """data/demo/generate.py (not a package): its labels, domains and statement texts."""
    spec = importlib.util.spec_from_file_location(
        "demo_generate", ROOT / "data" / "demo" / "generate.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def study_config(size: Size) -> StudyConfig:
    """The study configuration of a generated study (demo scale, ≥ 75% agreement)."""
    return config_from_dict(_config_dict(size))


def _config_dict(size: Size) -> dict[str, Any]:
    demo = _demo()
    return {
        "title": f"Benchmark study {size.name}",
        "source": "",
        "timezone": TIME_ZONE,
        "panel_attributes": PANEL_HEADER[2:],  # all but the identity and the name
        "scale": {
            "min": 1,
            "max": 5,
            "labels": {v: k for k, v in demo.LABELS.items()},
            "no_opinion": [demo.UNABLE],
        },
        "rounds": {f"Round {r}": r for r in range(1, size.rounds + 1)},
        "consensus": {"preset": "pct75"},
    }


def write_toml(size: Size, path: str | Path) -> Path:
    """Write the study configuration as a TOML file (for ``DELPHI_STUDY``)."""
    d = _config_dict(size)
    q = json.dumps  # a JSON string is a valid TOML basic string for this text
    lines = [
        f"title = {q(d['title'])}",
        'source = ""',
        f"timezone = {q(TIME_ZONE)}",
        f"panel_attributes = [{', '.join(q(a) for a in d['panel_attributes'])}]",
        "[scale]",
        "min = 1",
        "max = 5",
        f"no_opinion = [{q(d['scale']['no_opinion'][0])}]",
        "[scale.labels]",
        *[f"{q(k)} = {v}" for k, v in d["scale"]["labels"].items()],
        "[rounds]",
        *[f"{q(k)} = {v}" for k, v in d["rounds"].items()],
        "[consensus]",
        'preset = "pct75"',
    ]
    p = Path(path)
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def study_raw(size: Size, seed: int = SEED) -> RawSource:
    """The study's tabs as a RawSource, the way ``lib.sources.gsheets.read_sheet`` returns them."""
    tabs = study_tabs(size, seed)
    return RawSource(
        tabs=tabs,
        source=f"bench-{size.name}",
        title=f"Benchmark {size.name}",
        time_zone=TIME_ZONE,
        all_tabs=list(tabs),
    )


@dataclass
class _Items:
    """The statements of the current round: ids, texts, domains, latent opinion."""

    ids: list[str]
    texts: list[str]
    domains: list[str]
    revised_from: list[str | None]
    mu: np.ndarray
    sd: np.ndarray


def _first_items(n: int, rng: np.random.Generator) -> _Items:
    demo = _demo()
    base = [row[5] for row in demo.CATALOGUE]
    texts = [f"{base[i % len(base)]} (item {i + 1})" for i in range(n)]
    domains = [demo.DOMAINS[i * len(demo.DOMAINS) // n] for i in range(n)]
    return _Items(
        [f"S{i + 1:03d}" for i in range(n)],
        texts,
        domains,
        [None] * n,
        rng.uniform(1.5, 4.8, n),
        rng.uniform(0.4, 1.1, n),
    )


def _revise(items: _Items, rnd: int, rng: np.random.Generator) -> _Items:
    """Reword a seeded 5% of the statements for round ``rnd`` (new id, ``revised_from``)."""
    ids, texts, revised = list(items.ids), list(items.texts), [None] * len(items.ids)
    mu = items.mu.copy()
    for i in np.flatnonzero(rng.random(len(ids)) < P_REVISE):
        old = ids[i]
        root, suffix = (old[:4], old[4:]) if len(old) > 4 else (old, "")
        ids[i] = root + (chr(ord(suffix) + 1) if suffix else "a")
        texts[i] = f"{texts[i].split(' (revised')[0]} (revised in round {rnd})"
        revised[i] = old
        mu[i] = min(5.0, mu[i] + 0.5)
    return _Items(ids, texts, items.domains, revised, mu, items.sd)


def _ratings(
    items: _Items, prev: np.ndarray | None, lean: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Panelists × statements ratings 1..5: fresh in round 1, then nudged toward the median."""
    if prev is None:
        z = rng.standard_normal((len(lean), len(items.ids)))
        return np.clip(np.rint(items.mu + lean[:, None] + items.sd * z), 1, 5).astype(np.int8)
    target = np.median(prev, axis=0)
    step = np.sign(target - prev) * (rng.random(prev.shape) < 0.5)
    drift = rng.choice([-1, 0, 1], prev.shape, p=[0.025, 0.95, 0.025])
    revised = np.array([r is not None for r in items.revised_from])
    return np.clip(prev + step + drift + revised, 1, 5).astype(np.int8)


def _codes(ratings: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Cell codes: 0 blank, 1..5 a label, 6 "Unable to judge", 7 an unknown label."""
    u = rng.random(ratings.shape)
    codes = ratings.astype(np.int8).copy()
    codes[u < P_BLANK + P_UNABLE + P_BAD] = 6
    codes[u < P_BLANK + P_BAD] = 0
    codes[u < P_BAD] = 7
    return codes


def _cell_values() -> np.ndarray:
    demo = _demo()
    return np.array(
        ["", *(demo.LABELS[k] for k in range(1, 6)), demo.UNABLE, "Agreee"], dtype=object
    )


def _comments(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    pool = np.array(["", *(t for pair in _demo().COMMENTS.values() for t in pair)], dtype=object)
    pick = rng.integers(1, len(pool), shape)
    return np.where(rng.random(shape) < P_COMMENT, pool[pick], pool[0])


def _header(items: _Items, rnd: int) -> list[str]:
    head = ["Timestamp", "Email Address"]
    for sid, text, domain in zip(items.ids, items.texts, items.domains, strict=True):
        if rnd == 1:
            head += [f"{domain} — rate your agreement [{text}]", f"Comment on {sid} (optional)"]
        else:
            head += [text, "Comments (optional)"]
    return head


def _round_rows(
    items: _Items,
    rnd: int,
    who: np.ndarray,
    ratings: np.ndarray,
    emails: list[str],
    rng: np.random.Generator,
) -> list[list[Any]]:
    """A round tab: header, then one row per submission in timestamp order."""
    codes = _codes(ratings[who], rng)
    body = np.empty((len(who), 2 * len(items.ids)), dtype=object)
    body[:, 0::2] = _cell_values()[codes]
    body[:, 1::2] = _comments(codes.shape, rng)
    start = (FIRST_DAY - EPOCH).days + 28 * (rnd - 1)
    stamps = start + rng.uniform(0, 14, len(who)) + 7 / 24
    rows = [
        [float(t), _written(emails[p], rng), *cells]
        for t, p, cells in zip(stamps, who, body.tolist(), strict=True)
    ]
    rows += _duplicates(rows, rng)
    rows.sort(key=lambda r: r[0])
    return [_header(items, rnd), *(_trim(r) for r in rows)]


def _written(email: str, rng: np.random.Generator) -> str:
    """An e-mail as typed: now and then in capitals or with spaces around it."""
    return f" {email.upper()} " if rng.random() < P_VARIANT else email


def _duplicates(rows: list[list[Any]], rng: np.random.Generator) -> list[list[Any]]:
    """Earlier, superseded submissions of 1% of the respondents (a changed answer or two)."""
    out = []
    for k in np.flatnonzero(rng.random(len(rows)) < P_DUPLICATE):
        early = list(rows[k])
        early[0] -= float(rng.uniform(0.05, 2.0))
        j = 2 + 2 * int(rng.integers(0, (len(early) - 2) // 2))
        early[j] = _demo().LABELS[int(rng.integers(1, 6))]
        out.append(early)
    return out


def _trim(row: list[Any]) -> list[Any]:
    """Drop trailing empty cells, as the Sheets API does."""
    end = len(row)
    while end and row[end - 1] == "":
        end -= 1
    return row[:end]


def study_tabs(size: Size, seed: int = SEED) -> dict[str, list[list[Any]]]:
    """Round tabs, Statements and Panel as {tab: rows}, deterministic for ``seed``."""
    rng = np.random.default_rng([seed, size.panelists, size.statements, size.rounds])
    emails = [f"panelist{p + 1:04d}@bench.example" for p in range(size.panelists)]
    lean = rng.normal(0, 0.3, size.panelists)
    items, ratings, statements = _first_items(size.statements, rng), None, []
    active = np.flatnonzero(rng.random(size.panelists) >= P_ABSENT)
    tabs: dict[str, list[list[Any]]] = {}
    for rnd in range(1, size.rounds + 1):
        if rnd > 1:
            items = _revise(items, rnd, rng)
            active = active[rng.random(len(active)) >= P_DROP]
        ratings = _ratings(items, ratings, lean, rng)
        tabs[f"Round {rnd}"] = _round_rows(items, rnd, active, ratings, emails, rng)
        statements += [
            [sid, rnd, dom, text, rev or ""]
            for sid, dom, text, rev in zip(
                items.ids, items.domains, items.texts, items.revised_from, strict=True
            )
        ]
    tabs["Statements"] = [
        ["statement_id", "round", "domain", "text", "revised_from"],
        *(_trim(r) for r in statements),
    ]
    tabs["Panel"] = _panel_rows(emails, rng)
    return tabs


PANEL_HEADER = ["Email Address", "Name", "Country", "Practice setting", "Years in practice"]


def _panel_rows(emails: list[str], rng: np.random.Generator) -> list[list[Any]]:
    return [
        PANEL_HEADER,
        *(
            [
                e,
                f"Panelist {k + 1}",
                COUNTRIES[int(rng.integers(len(COUNTRIES)))],
                SETTINGS[int(rng.integers(len(SETTINGS)))],
                int(rng.integers(5, 35)),
            ]
            for k, e in enumerate(emails)
        ),
    ]
