"""Real workbooks in the shapes coordinators send: written to disk with openpyxl, with their study
files, in the Google Forms layout (first tab columns ``Timestamp``, ``Email Address``, then one
column per question; an optional ``Statements`` tab with ``statement_id, round, domain, text,
revised_from``).

Each public builder writes ``responses.xlsx`` and ``study.toml`` into a folder and returns a
:class:`RealStudy`: the paths, the answer cells exactly as written (per round and statement, in
row order) and the score each label stands for, so that a test computes n, % agree and the
median itself (a hand count or numpy) and compares them with what a real refresh stored
(:func:`refresh_study`).  Answers come from generators with fixed seeds.

- :func:`numeric_ids`: titles ``11.1. Timeline of laboratory experiment``, a Statements tab
  whose text omits the ``11.1.`` prefix (issue 13's published study), 9-point linear scale.
- :func:`every_id_shape`: one question per ID shape (``S01.``, ``S1.2 –``, ``[S07a]``, ``Q3:``,
  ``11.1.``, ``3)``, grid rows ``D1.`` and ``Item 4 -``) and two plain titles that look
  numbered ("2024 guidelines …", "5-point scale …"); round 2 writes the IDs in another case.
- :func:`portuguese_legends`: a 4-point Portuguese study whose titles end with the scale legend
  and differ from the Statements tab in typographic quotes, dashes, spaces and case.
- :func:`typo`: one question (or every one) with a typo against the Statements tab.
- :func:`numbered_labels`: answers ``7 – Very important`` on a 7-point scale with no label map.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl

from lib.config import StudyConfig, load_config
from lib.pipeline import RefreshResult, refresh

__all__ = [
    "RealStudy",
    "every_id_shape",
    "numbered_labels",
    "numeric_ids",
    "portuguese_legends",
    "refresh_study",
    "toml_text",
    "typo",
    "write_study",
]

STATEMENTS_HEADER = ["statement_id", "round", "domain", "text", "revised_from"]
EN_LABELS = {
    "Strongly disagree": 1,
    "Disagree": 2,
    "Neither agree nor disagree": 3,
    "Agree": 4,
    "Strongly agree": 5,
}
PT_LABELS = {
    "1 - Nada importante": 1,
    "2 - Pouco importante": 2,
    "3 - Importante": 3,
    "4 - Muito importante": 4,
}
PT_LEGEND = "(1 - Nada importante; 2 - Pouco importante; 3 - Importante; 4 - Muito importante)"
# the same legend as a form editor writes it: en dashes and an ellipsis
PT_LEGEND_TYPOGRAPHIC = "(1 \u2013 Nada importante; \u2026; 4 \u2013 Muito importante)"


@dataclass(frozen=True)
class RealStudy:
    """A study written to disk, and what a test needs to count its numbers by hand."""

    folder: Path
    workbook: Path
    config: Path
    # (round, statement id as the study should store it) -> the answer cells as written, one per
    # respondent in row order ("" for a blank answer)
    answers: dict[tuple[int, str], list[Any]]
    scores: dict[str, int]  # what each label scores (a number cell scores itself)
    no_opinion: tuple[str, ...]
    agree: tuple[int, int]  # the agree range the study file states
    headers: dict[tuple[int, str], str]  # (round, statement id) -> its question's header
    texts: dict[str, str] = field(default_factory=dict)  # statement id -> Statements-tab text

    def load(self) -> StudyConfig:
        """The study configuration, loaded from its file as the app loads it."""
        return load_config(self.config)


def refresh_study(study: RealStudy, db: Path) -> RefreshResult:
    """Refresh ``study`` from its workbook on disk into the DuckDB file ``db``."""
    return refresh(study.load(), db)


def toml_text(config: dict[str, Any]) -> str:
    """``config`` as TOML: tables for dicts, ``[[name]]`` for lists of dicts (``[[scales]]``)."""
    lines: list[str] = []
    _toml_table(config, "", lines)
    text = "\n".join(lines).strip() + "\n"
    tomllib.loads(text)  # a fixture that does not parse is a bug here, not in the app
    return text


def _toml_table(d: dict[str, Any], name: str, lines: list[str]) -> None:
    def is_tables(v: Any) -> bool:
        return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)

    for k, v in d.items():
        if not isinstance(v, dict) and not is_tables(v):
            lines.append(f"{json.dumps(k, ensure_ascii=False)} = {_toml_value(v)}")
    for k, v in d.items():
        sub = f"{name}.{json.dumps(k, ensure_ascii=False)}" if name else json.dumps(k)
        if isinstance(v, dict):
            lines += ["", f"[{sub}]"]
            _toml_table(v, sub, lines)
        elif is_tables(v):
            for item in v:
                lines += ["", f"[[{sub}]]"]
                _toml_table(item, sub, lines)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v), ensure_ascii=False)  # a JSON string is a TOML basic string


def write_study(folder: Path, tabs: dict[str, list[list[Any]]], config: dict[str, Any]) -> Path:
    """``responses.xlsx`` with ``tabs`` and ``study.toml`` with ``config`` (its source set to the
    workbook) in ``folder``; returns the study file's path."""
    folder.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in tabs.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(folder / "responses.xlsx")
    path = folder / "study.toml"
    path.write_text(toml_text({**config, "source": "responses.xlsx"}), encoding="utf-8")
    return path


def _config(title: str, rounds: int, scale: dict[str, Any], agree: tuple[int, int], **extra):
    """A study file's content: ``rounds`` tabs "Round N", no Panel tab, ≥ 75% in ``agree``."""
    lo, hi = scale["min"], scale["max"]
    disagree = [lo, lo + (hi - agree[0])]  # the mirror image of the agree range
    return {
        "title": title,
        "timezone": "UTC",
        "panel_tab": "",
        "statements_tab": "Statements",
        **extra,
        "scale": scale,
        "rounds": {f"Round {r}": r for r in range(1, rounds + 1)},
        "consensus": {"preset": "pct75", "agree": list(agree), "disagree": disagree},
    }


def _round_rows(
    headers: list[str], cells: list[list[Any]], rnd: int, people: int
) -> list[list[Any]]:
    """A round tab: the header row, then one row per respondent (``cells[q][i]`` is respondent
    ``i``'s answer to question ``q``)."""
    start = dt.datetime(2026, 3, 2, 9) + dt.timedelta(days=30 * (rnd - 1))
    rows: list[list[Any]] = [["Timestamp", "Email Address", *headers]]
    for i in range(people):
        when = start + dt.timedelta(hours=i)
        rows.append([when, f"p{i:02d}@panel.example", *(c[i] for c in cells)])
    return rows


def _draw(rng: np.random.Generator, options: list[Any], people: int, blank: float) -> list[Any]:
    """``people`` answers drawn from ``options``, each blank with probability ``blank``."""
    out = [options[int(k)] for k in rng.integers(0, len(options), people)]
    return ["" if rng.random() < blank else a for a in out]


def _study(
    folder: Path,
    tabs: dict[str, list[list[Any]]],
    config: dict[str, Any],
    answers: dict[tuple[int, str], list[Any]],
    headers: dict[tuple[int, str], str],
    texts: dict[str, str],
) -> RealStudy:
    path = write_study(folder, tabs, config)
    scale = config["scale"]
    return RealStudy(
        folder=folder,
        workbook=folder / "responses.xlsx",
        config=path,
        answers=answers,
        scores=dict(scale.get("labels", {})),
        no_opinion=tuple(scale.get("no_opinion", ())),
        agree=tuple(config["consensus"]["agree"]),
        headers=headers,
        texts=texts,
    )


# --- (a) numeric IDs, Statements text without them ---------------------------------------------

_LAB = [
    ("11.1", "Laboratory", "Timeline of laboratory experiment"),
    ("11.2", "Laboratory", "Sample size justified before the experiment"),
    ("12.1", "Reporting", "Blinding of outcome assessors reported"),
]


def numeric_ids(folder: Path, listed_ids: str = "other", seed: int = 1) -> RealStudy:
    """Two rounds of a 9-point linear scale (the cells are numbers) whose titles start with
    ``11.1.``; the Statements tab's text omits that prefix and its IDs are ``S11.1`` …
    (``listed_ids="other"``: matched by the text after the title's number) or ``11.1`` …
    (``"same"``: matched by the number)."""
    rng = np.random.default_rng(seed)
    people = 12
    sid = {n: (f"S{n}" if listed_ids == "other" else n) for n, _, _ in _LAB}
    statements = [STATEMENTS_HEADER]
    tabs: dict[str, list[list[Any]]] = {}
    answers, headers = {}, {}
    for rnd, asked in ((1, _LAB), (2, [_LAB[0], _LAB[2]])):
        cells = []
        for number, domain, text in asked:
            statements.append([sid[number], rnd, domain, text, ""])
            headers[(rnd, sid[number])] = f"{number}. {text}"
            answers[(rnd, sid[number])] = _draw(rng, list(range(1, 10)), people, 0.1)
            cells.append(answers[(rnd, sid[number])])
        tabs[f"Round {rnd}"] = _round_rows(
            [headers[(rnd, sid[n])] for n, _, _ in asked], cells, rnd, people
        )
    tabs["Statements"] = statements
    config = _config("Numbered questions", 2, {"min": 1, "max": 9}, (7, 9))
    return _study(folder, tabs, config, answers, headers, {sid[n]: t for n, _, t in _LAB})


# --- (b) every ID shape ------------------------------------------------------------------------

# (stored ID without a Statements tab, round 1 header, round 2 header or None, Statements-tab ID)
_SHAPES = [
    ("S01", "S01. Low doses work", "s01. Low doses work", "s01"),
    ("S1.2", "S1.2 \u2013 Dosing by weight matters", None, "S1.2"),
    (
        "S07a",
        "[S07a] Peels are safe after treatment",
        "[s07A] Peels are safe after treatment",
        "S07A",
    ),
    ("Q3", "Q3: Sun cream is needed daily", "q3: Sun cream is needed daily", "q3"),
    ("11.1", "11.1. Timeline of the first visit", "11.1. Timeline of the first visit", "11.1"),
    ("3", "3) Follow-up at three months", None, "3"),
    ("D1", "Rate each statement [D1. Liver tests before starting]", None, "d1"),
    (
        "Item 4",
        "Rate each statement [Item 4 - Lipids tested monthly]",
        "ITEM 4 - Lipids tested monthly",
        "4",
    ),
]
# plain titles that only look numbered: never an ID (reported as questions not matched)
FALSE_IDS = ["2024 guidelines are clear", "5-point scale is enough"]


def every_id_shape(folder: Path, statements_tab: bool = False, seed: int = 2) -> RealStudy:
    """Two rounds on a 5-point label scale, one question per ID shape, a comment on ``3)``
    (respondent 0 wrote "fine") and two plain titles that look numbered (:data:`FALSE_IDS`,
    columns L and M of round 1).

    Without a Statements tab an ID is stored as round 1 writes it (``Item 4`` for
    ``Item 4 -``) and round 2's ``s01.``, ``[s07A]``, ``ITEM 4 -`` are the same statements.
    With ``statements_tab`` the tab lists the IDs in yet another case (``s01``, ``S07A``,
    ``4``) and other texts, so that only the IDs match, and the tab's spelling is stored."""
    rng = np.random.default_rng(seed)
    people = 10
    options = [*EN_LABELS, "Unable to judge"]
    stored = {shape[0]: (shape[3] if statements_tab else shape[0]) for shape in _SHAPES}
    answers, headers = {}, {}
    tabs: dict[str, list[list[Any]]] = {}
    for rnd in (1, 2):
        head, cells = [], []
        for key, first, second, _ in _SHAPES:
            header = first if rnd == 1 else second
            if header is None:
                continue
            answers[(rnd, stored[key])] = _draw(rng, options, people, 0.1)
            headers[(rnd, stored[key])] = header
            head.append(header)
            cells.append(answers[(rnd, stored[key])])
            if rnd == 1 and key == "3":  # a comment on the question before it
                head.append("Comments (optional)")
                cells.append(["fine", *[""] * (people - 1)])
        if rnd == 1:
            head += FALSE_IDS
            cells += [_draw(rng, options, people, 0.0) for _ in FALSE_IDS]
        tabs[f"Round {rnd}"] = _round_rows(head, cells, rnd, people)
    texts = {}
    if statements_tab:
        rows = [STATEMENTS_HEADER]
        for (rnd, sid), _ in headers.items():
            texts[sid] = f"Listed wording of statement {sid}"
            rows.append([sid, rnd, "Shapes", texts[sid], ""])
        tabs["Statements"] = rows
    config = _config(
        "Every ID shape",
        2,
        {"min": 1, "max": 5, "labels": EN_LABELS, "no_opinion": ["Unable to judge"]},
        (4, 5),
        statements_tab="Statements" if statements_tab else "",
    )
    return _study(folder, tabs, config, answers, headers, texts)


# --- (c) Portuguese, legends in titles, typographic differences -------------------------------

# (statement id, domain, Statements-tab text, question header as the form writes it)
_PT = [
    (
        "P1",
        "Protocolos",
        'A equipe deve usar "protocolos" padronizados - sempre',
        "P1. A equipe deve usar \u201cprotocolos\u201d padronizados \u2014 sempre " + PT_LEGEND,
    ),
    (
        "P2",
        "Protocolos",
        "O paciente deve ser informado sobre os riscos",
        "O paciente deve ser informado sobre os riscos " + PT_LEGEND_TYPOGRAPHIC,
    ),
    (
        "P3",
        "Decis\u00e3o",
        "a 'segunda opini\u00e3o' \u00e9 recomendada",
        "A\u00a0 \u2018segunda opini\u00e3o\u2019  \u00e9 recomendada",
    ),
    (
        "P4",
        "Decis\u00e3o",
        "Consentimento por escrito - sempre",
        "Avalie cada item " + PT_LEGEND + " [Consentimento por escrito \u2212 sempre]",
    ),
    (
        "P5",
        "Registro",
        "Registro em prontu\u00e1rio eletr\u00f4nico",
        "Q5. Registro em prontu\u00e1rio eletr\u00f4nico " + PT_LEGEND,
    ),
]


def portuguese_legends(folder: Path, seed: int = 3) -> RealStudy:
    """One round, 4-point scale labelled ``1 - Nada importante`` … ``4 - Muito importante``
    (mapped in the study file) with "Não sei" as no opinion; agree is 3–4.  The titles end
    with the scale legend (straight or typographic), and differ from the Statements tab in
    curly quotes, em/en dashes and the minus sign, a no-break space, doubled spaces and case;
    P4 is a grid row, P5's title starts with an ID (Q5) the tab does not list."""
    rng = np.random.default_rng(seed)
    people = 14
    options = [*PT_LABELS, "N\u00e3o sei"]
    answers = {(1, sid): _draw(rng, options, people, 0.07) for sid, *_ in _PT}
    headers = {(1, sid): header for sid, _, _, header in _PT}
    tabs = {
        "Round 1": _round_rows([h for *_, h in _PT], [answers[(1, s)] for s, *_ in _PT], 1, people),
        "Statements": [STATEMENTS_HEADER, *[[s, 1, d, t, ""] for s, d, t, _ in _PT]],
    }
    scale = {"min": 1, "max": 4, "labels": PT_LABELS, "no_opinion": ["N\u00e3o sei"]}
    config = _config("Estudo Delphi", 1, scale, (3, 4))
    return _study(folder, tabs, config, answers, headers, {s: t for s, _, t, _ in _PT})


# --- (d) a typo against the Statements tab ----------------------------------------------------

_TYPO = [
    ("S01", "Low doses work", "Low doses work"),
    ("S02", "Peels are safe", "Peels are safe"),
    ("S03", "Timeline of laboratory experiments", "11.1. Timeline of laboratory experiment"),
]


def typo(folder: Path, every_question: bool = False, seed: int = 4) -> RealStudy:
    """One round on a 5-point label scale.  S03's title (column E) has a number and a dropped
    plural against the Statements tab: reported, the study refreshed without it.  With
    ``every_question`` each title has a typo (columns C to E; ``Low dose work``, ``Peels are
    saf``): the round tab is refused.  ``answers`` holds the statements that match."""
    rng = np.random.default_rng(seed)
    people = 8
    options = list(EN_LABELS)
    titles = [t for *_, t in _TYPO]
    if every_question:
        titles[:2] = ["Low dose work", "Peels are saf"]
    cells = [_draw(rng, options, people, 0.0) for _ in _TYPO]
    tabs = {
        "Round 1": _round_rows(titles, cells, 1, people),
        "Statements": [STATEMENTS_HEADER, *[[s, 1, "Typos", t, ""] for s, t, _ in _TYPO]],
    }
    matched = [] if every_question else [0, 1]
    answers = {(1, _TYPO[k][0]): cells[k] for k in matched}
    headers = {(1, _TYPO[k][0]): titles[k] for k in range(len(_TYPO))}
    scale = {"min": 1, "max": 5, "labels": EN_LABELS}
    config = _config("Typos", 1, scale, (4, 5))
    return _study(folder, tabs, config, answers, headers, {s: t for s, t, _ in _TYPO})


# --- labels that carry their number -----------------------------------------------------------

NUMBERED = [
    "1 \u2013 Not at all important",
    "2",
    "3 - Slightly important",
    "4: Moderately important",
    "5. Important",
    "Very important (6)",
    "7 \u2013 Very important",
]


def numbered_labels(folder: Path, seed: int = 5) -> RealStudy:
    """One round on a 7-point scale whose answers carry their number (``7 – Very important``,
    ``Very important (6)``, ``4: Moderately important``) and no ``[scale.labels]`` map; "Don't
    know" is the no-opinion label.  ``scores`` holds each label's number for the test."""
    rng = np.random.default_rng(seed)
    people = 11
    options = [*NUMBERED, "Don't know"]
    ids = ["S01", "S02", "S03"]
    answers = {(1, s): _draw(rng, options, people, 0.05) for s in ids}
    headers = {(1, s): f"{s}. Outcome {s} matters" for s in ids}
    tabs = {"Round 1": _round_rows(list(headers.values()), list(answers.values()), 1, people)}
    scale = {"min": 1, "max": 7, "no_opinion": ["Don't know"]}
    config = _config("Numbered labels", 1, scale, (5, 7), statements_tab="")
    study = _study(folder, tabs, config, answers, headers, {})
    return replace(study, scores={label: k + 1 for k, label in enumerate(NUMBERED)})
