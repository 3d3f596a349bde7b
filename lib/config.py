"""The study configuration: one TOML file, loaded and validated with messages that name the key."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lib.analysis.rules import PRESETS, Rule, rule_from_config, yes_no_rule
from lib.analysis.scales import Scale, ScaleMap, ScaleUse

__all__ = [
    "StudyConfig",
    "Scale",
    "ScaleUse",
    "ConfigError",
    "load_config",
    "config_from_dict",
    "DEMO_CONFIG",
    "YES_NO_LABELS",
    "GroupsConfig",
    "GROUP_CONSENSUS",
    "Criterion",
    "StoppingRule",
    "rule_version_warning",
]

DEMO_CONFIG = Path(__file__).resolve().parent.parent / "data" / "demo" / "study.toml"
# The bundled demos' study files, whose rule versions a copied study must not keep.
_DEMO_STUDIES = (DEMO_CONFIG, DEMO_CONFIG.parent.parent / "demo-cos" / "study.toml")

_TOP_KEYS = {
    "title",
    "source",
    "identity_column",
    "timestamp_column",
    "statements_tab",
    "panel_tab",
    "panel_attributes",
    "timezone",
    "date_order",
    "comment_pattern",
    "scale",
    "rounds",
    "consensus",
    "privacy",
    "scales",
    "groups",
    "eligibility",
    "stopping",
}
_CRITERION_KEYS = {"attribute", "wording", "min", "max", "equals"}
_STOPPING_KEYS = {"max_rounds", "when_stable", "min_consensus_pct"}
_GROUPS_KEYS = {"attribute", "consensus", "min_groups"}
GROUP_CONSENSUS = ("panel", "every_group", "majority")
_SCALE_KEYS = {"min", "max", "labels", "no_opinion", "no_opinion_in_denominator"}
_SCALES_KEYS = _SCALE_KEYS | {"name", "rounds", "statements", "type", "consensus"}
_YES_NO_CONSENSUS_KEYS = {"threshold", "min_n", "label", "version"}
# The answers a Yes/No question takes without a label map (a [[scales]] table may add others).
YES_NO_LABELS = {"Yes": 1, "No": 0}
_PRIVACY_KEYS = {"min_group_size", "observer_comments"}
# Delphi studies run two to four rounds; a number past this is a typo (round 2026, or 10**12,
# which no INTEGER column holds and which used to fail only when the snapshot was stored).
MAX_ROUND = 99


class ConfigError(ValueError):
    """The study configuration is invalid; the message names the key and what is allowed."""


@dataclass(frozen=True)
class GroupsConfig:
    """The stakeholder groups (``[groups]``): a Panel attribute, and what consensus means.

    ``consensus``: ``panel`` (the rule holds in the whole panel), ``every_group`` (in every
    group, as COMET studies apply 70/15) or ``majority`` (in at least ``min_groups`` groups;
    more than half of the groups that rated the statement when not given)."""

    attribute: str
    consensus: str = "panel"
    min_groups: int | None = None

    def describe(self) -> str:
        """The study-level choice in a sentence, as reports state it."""
        # "Stakeholder group" is its own noun: never "Stakeholder group group"
        noun = self.attribute.removesuffix(" group").removesuffix(" Group") + " group"
        if self.consensus == "every_group":
            return f"consensus requires the rule to hold within every {noun}"
        if self.consensus == "majority":
            need = f"at least {self.min_groups}" if self.min_groups else "a majority of the"
            return f"consensus requires the rule to hold within {need} {noun}s"
        return f"consensus is judged in the whole panel; results per {noun} are shown alongside"


@dataclass(frozen=True)
class Criterion:
    """One pre-registered eligibility criterion (``[[eligibility]]``) over a Panel column:
    a number within ``min``–``max``, or a value among ``equals`` (case-insensitive)."""

    attribute: str
    wording: str
    min: float | None = None
    max: float | None = None
    equals: tuple[str, ...] = ()

    def describe(self) -> str:
        """The test in a few words: '≥ 5', 'one of Yes'."""
        if self.equals:
            return "one of " + ", ".join(self.equals)
        if self.min is not None and self.max is not None:
            return f"{self.min:g}–{self.max:g}"
        return f"≥ {self.min:g}" if self.min is not None else f"≤ {self.max:g}"


@dataclass(frozen=True)
class StoppingRule:
    """The pre-registered stopping rule (``[stopping]``): stop after ``max_rounds``, or once
    every statement still open is stable between rounds (``when_stable``), and/or once at
    least ``min_consensus_pct`` percent of the statements reached consensus."""

    max_rounds: int | None = None
    when_stable: bool = False
    min_consensus_pct: float | None = None

    def describe(self) -> str:
        """The rule in a sentence, as reports state it."""
        parts = []
        if self.when_stable:
            parts.append("every statement without consensus is stable between two rounds")
        if self.min_consensus_pct is not None:
            parts.append(
                f"at least {self.min_consensus_pct:g}% of the statements reached consensus"
            )
        text = "Rounds stop when " + " or when ".join(parts) if parts else "Rounds stop"
        if self.max_rounds is not None:
            text += (" or " if parts else " ") + f"after round {self.max_rounds} at the latest"
        return text + "."


@dataclass(frozen=True)
class StudyConfig:
    """A validated study configuration."""

    title: str
    source: str
    rounds: dict[str, int]
    scale_min: int
    scale_max: int
    labels: dict[str, int]
    no_opinion: tuple[str, ...]
    rule: Rule
    identity_column: str = "Email Address"
    timestamp_column: str = "Timestamp"
    statements_tab: str | None = "Statements"
    panel_tab: str | None = "Panel"
    # Panel columns observers may see as attributes (pooled under min_group_size); none if empty.
    panel_attributes: tuple[str, ...] = ()
    timezone: str = "UTC"
    date_order: str = "auto"
    comment_pattern: str = r"(?i)\bcomment"
    no_opinion_in_denominator: bool = False
    min_group_size: int = 5
    observer_comments: bool = False
    path: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # ``[[scales]]``: rounds or statements with a scale of their own (the last match wins, a
    # statement-level entry before a round-level one)
    scales: tuple[ScaleUse, ...] = ()
    # ``[groups]``: the stakeholder attribute and the study-level consensus choice, or None
    groups: GroupsConfig | None = None
    # ``[[eligibility]]``: the panel's pre-registered criteria; ``[stopping]``: when to stop
    eligibility: tuple[Criterion, ...] = ()
    stopping: StoppingRule | None = None

    @property
    def scale(self) -> Scale:
        """The study's main scale (``[scale]`` and ``[consensus]``)."""
        return Scale(
            "",
            self.scale_min,
            self.scale_max,
            self.labels,
            self.no_opinion,
            self.rule,
            self.no_opinion_in_denominator,
        )

    @property
    def scale_map(self) -> ScaleMap:
        """Which scale each (round, statement) has: what analysis functions take."""
        return ScaleMap(self.scale, self.scales)

    def scale_for(self, rnd: int, statement_id: str) -> Scale:
        """The scale statement ``statement_id`` is rated on in round ``rnd``."""
        return self.scale_map.scale_for(rnd, statement_id)

    def tabs(self) -> list[str]:
        """Every tab the study needs from the source: rounds, then Statements and Panel."""
        extra = [t for t in (self.statements_tab, self.panel_tab) if t]
        return list(self.rounds) + extra


def _fail(key: str, problem: str) -> None:
    raise ConfigError(f"Study configuration: '{key}' {problem}")


def _check_keys(section: dict[str, Any], allowed: set[str], prefix: str) -> None:
    for key in section:
        if key not in allowed:
            name = f"{prefix}{key}"
            _fail(name, f"is not a known key; allowed: {', '.join(sorted(allowed))}")


def _typed(d: dict[str, Any], key: str, kind: type | tuple, default: Any, prefix: str = "") -> Any:
    value = d.get(key, default)
    if value is None and default is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        _fail(prefix + key, f"must be a {names}, got {value!r}")
    return value


def _scale(
    d: dict[str, Any], where: str = "scale."
) -> tuple[int, int, dict[str, int], tuple[str, ...], bool]:
    if where == "scale.":
        _check_keys(d, _SCALE_KEYS, where)
    lo, hi = _typed(d, "min", int, 1, where), _typed(d, "max", int, 5, where)
    if hi - lo < 1 or hi - lo > 20:
        _fail(where + "max", f"must be between {where}min + 1 and {where}min + 20, got {hi}")
    labels = _typed(d, "labels", dict, {}, where)
    for label, score in labels.items():
        if not isinstance(score, int) or isinstance(score, bool) or not lo <= score <= hi:
            _fail(f"{where}labels.{label}", f"must be a whole number from {lo} to {hi}")
    no_op = _typed(d, "no_opinion", list, [], where)
    if not all(isinstance(x, str) for x in no_op):
        _fail(where + "no_opinion", "must be a list of text labels")
    denom = _typed(d, "no_opinion_in_denominator", bool, False, where)
    return lo, hi, dict(labels), tuple(no_op), denom


def _scale_uses(entries: Any, main: Scale, rounds: dict[str, int]) -> tuple[ScaleUse, ...]:
    """The ``[[scales]]`` entries: each a scale of its own for some rounds (or statements)."""
    if entries is None:
        return ()
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        _fail("scales", "must be a list of [[scales]] tables")
    uses, names = [], {""}
    for k, entry in enumerate(entries, start=1):
        where = f"scales[{k}]."
        _check_keys(entry, _SCALES_KEYS, where)
        name = _typed(entry, "name", str, "", where).strip()
        if not name:
            _fail(where + "name", "is required: the scale's name, shown in reports")
        if name in names:
            _fail(where + "name", f"{name!r} names two scales")
        names.add(name)
        kind = _typed(entry, "type", str, "likert", where)
        if kind not in ("likert", "yes_no"):
            _fail(where + "type", f'must be "likert" or "yes_no", got {kind!r}')
        used = _typed(entry, "rounds", list, None, where)
        if not used or not all(isinstance(r, int) and not isinstance(r, bool) for r in used):
            _fail(where + "rounds", "must list the round numbers this scale applies to, e.g. [3]")
        unknown = sorted(set(used) - set(rounds.values()))
        if unknown:
            _fail(where + "rounds", f"names round {unknown[0]}, which [rounds] does not list")
        stmts = _typed(entry, "statements", list, [], where)
        if not all(isinstance(x, str) and x.strip() for x in stmts):
            _fail(where + "statements", "must be a list of statement IDs")
        scale = _entry_scale(entry, name, kind == "yes_no", main, where)
        uses.append(
            ScaleUse(scale, frozenset(used), frozenset(x.strip().casefold() for x in stmts))
        )
    return tuple(uses)


def _entry_scale(entry: dict[str, Any], name: str, yes_no: bool, main: Scale, where: str) -> Scale:
    """The scale one ``[[scales]]`` table describes (no-opinion settings default to the main's)."""
    body = {k: v for k, v in entry.items() if k in _SCALE_KEYS}
    consensus = _typed(entry, "consensus", dict, {}, where)
    if yes_no:
        if "min" in body or "max" in body:
            _fail(where + "min", "does not apply to a Yes/No scale (it runs No = 0, Yes = 1)")
        body = {**body, "min": 0, "max": 1, "labels": {**YES_NO_LABELS, **body.get("labels", {})}}
    body.setdefault("no_opinion", list(main.no_opinion))
    body.setdefault("no_opinion_in_denominator", main.no_opinion_in_denominator)
    lo, hi, labels, no_op, denom = _scale(body, where)
    if not consensus and not yes_no:  # the study's preset, on this scale
        same = main.rule.name in PRESETS and (main.rule.name != "rand_ucla" or (lo, hi) == (1, 9))
        consensus = {"preset": main.rule.name if same else "pct75"}
    try:
        rule = yes_no_rule(consensus) if yes_no else rule_from_config(consensus, lo, hi)
    except ValueError as exc:
        raise ConfigError(f"Study configuration: {where}{exc}") from exc
    return Scale(name, lo, hi, labels, no_op, rule, denom, yes_no)


def _groups(d: Any, attributes: tuple[str, ...]) -> GroupsConfig | None:
    """The ``[groups]`` table: its attribute must be a listed panel attribute."""
    if d is None:
        return None
    if not isinstance(d, dict):
        _fail("groups", 'must be a table: [groups] attribute = "Stakeholder group"')
    _check_keys(d, _GROUPS_KEYS, "groups.")
    attribute = _typed(d, "attribute", str, "", "groups.").strip()
    listed = {a.casefold(): a for a in attributes}
    if not attribute:
        _fail("groups.attribute", "is required: the Panel column that holds each group")
    if attribute.casefold() not in listed:
        _fail(
            "groups.attribute",
            f"must be one of panel_attributes (the columns that may be shown), got {attribute!r}",
        )
    consensus = _typed(d, "consensus", str, "panel", "groups.")
    if consensus not in GROUP_CONSENSUS:
        _fail("groups.consensus", f"must be one of {', '.join(GROUP_CONSENSUS)}, got {consensus!r}")
    least = _typed(d, "min_groups", int, None, "groups.")
    if least is not None and (consensus != "majority" or least < 1):
        _fail("groups.min_groups", 'is a whole number ≥ 1, for consensus = "majority" only')
    return GroupsConfig(listed[attribute.casefold()], consensus, least)


def _eligibility(entries: Any, identity_column: str) -> tuple[Criterion, ...]:
    """The ``[[eligibility]]`` entries: each a Panel column with a range or a set of values."""
    if entries is None:
        return ()
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        _fail("eligibility", "must be a list of [[eligibility]] tables")
    out = []
    for k, e in enumerate(entries, start=1):
        where = f"eligibility[{k}]."
        _check_keys(e, _CRITERION_KEYS, where)
        attribute = _typed(e, "attribute", str, "", where).strip()
        if not attribute:
            _fail(where + "attribute", "is required: the Panel column the criterion reads")
        if attribute.casefold() == identity_column.strip().casefold():
            _fail(where + "attribute", "cannot be the identity column")
        wording = _typed(e, "wording", str, "", where).strip() or attribute
        lo, hi = (_typed(e, key, (int, float), None, where) for key in ("min", "max"))
        equals = _typed(e, "equals", list, [], where)
        if not all(isinstance(x, str) and x.strip() for x in equals):
            _fail(where + "equals", "must be a list of accepted values (text)")
        if bool(equals) == (lo is not None or hi is not None):
            _fail(where + "min", "give either min and/or max (a number) or equals (values)")
        if lo is not None and hi is not None and lo > hi:
            _fail(where + "max", f"must be ≥ min ({lo:g}), got {hi:g}")
        out.append(
            Criterion(
                attribute,
                wording,
                None if lo is None else float(lo),
                None if hi is None else float(hi),
                tuple(x.strip() for x in equals),
            )
        )
    return tuple(out)


def _stopping(d: Any) -> StoppingRule | None:
    """The ``[stopping]`` table."""
    if d is None:
        return None
    if not isinstance(d, dict):
        _fail("stopping", "must be a table: [stopping] max_rounds = 3, when_stable = true")
    _check_keys(d, _STOPPING_KEYS, "stopping.")
    most = _typed(d, "max_rounds", int, None, "stopping.")
    if most is not None and not 1 <= most <= MAX_ROUND:
        _fail("stopping.max_rounds", f"must be a round number from 1 to {MAX_ROUND}, got {most}")
    stable = _typed(d, "when_stable", bool, False, "stopping.")
    pct = _typed(d, "min_consensus_pct", (int, float), None, "stopping.")
    if pct is not None and not 0 < pct <= 100:
        _fail("stopping.min_consensus_pct", f"must be a percentage above 0, at most 100, got {pct}")
    if most is None and not stable and pct is None:
        _fail("stopping", "needs max_rounds, when_stable = true or min_consensus_pct")
    return StoppingRule(most, stable, None if pct is None else float(pct))


def _rounds(d: Any) -> dict[str, int]:
    if not isinstance(d, dict) or not d:
        _fail("rounds", 'must be a table of tab name = round number, e.g. "Round 1" = 1')
    for tab, number in d.items():
        if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= MAX_ROUND:
            _fail(f"rounds.{tab}", f"must be a round number from 1 to {MAX_ROUND}, got {number!r}")
    if len(set(d.values())) != len(d):
        _fail("rounds", "maps two tabs to the same round number")
    return dict(sorted(d.items(), key=lambda kv: kv[1]))


def _privacy(d: dict[str, Any]) -> tuple[int, bool]:
    _check_keys(d, _PRIVACY_KEYS, "privacy.")
    size = _typed(d, "min_group_size", int, 5, "privacy.")
    if size < 1:
        _fail("privacy.min_group_size", "must be at least 1")
    return size, _typed(d, "observer_comments", bool, False, "privacy.")


def _panel_attributes(d: dict[str, Any], identity_column: str) -> tuple[str, ...]:
    """The allowlist of Panel columns shown as attributes: distinct non-empty texts."""
    names = _typed(d, "panel_attributes", list, [])
    seen: set[str] = set()
    for name in names:
        if not isinstance(name, str) or not name.strip():
            _fail("panel_attributes", f"must be a list of Panel column names, got {name!r}")
        key = name.strip().casefold()
        if key in seen:
            _fail("panel_attributes", f"lists {name!r} twice (names are matched ignoring case)")
        if key == identity_column.strip().casefold():
            _fail("panel_attributes", f"lists the identity column {name!r}, which is never shown")
        seen.add(key)
    return tuple(n.strip() for n in names)


def _simple(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["title"] = _typed(d, "title", str, "Untitled Delphi study")
    out["source"] = _typed(d, "source", str, "")
    out["identity_column"] = _typed(d, "identity_column", str, "Email Address")
    out["timestamp_column"] = _typed(d, "timestamp_column", str, "Timestamp")
    out["statements_tab"] = _typed(d, "statements_tab", str, "Statements") or None
    out["panel_tab"] = _typed(d, "panel_tab", str, "Panel") or None
    out["panel_attributes"] = _panel_attributes(d, out["identity_column"])
    out["timezone"] = _typed(d, "timezone", str, "UTC")
    out["date_order"] = _typed(d, "date_order", str, "auto")
    out["comment_pattern"] = _typed(d, "comment_pattern", str, r"(?i)\bcomment")
    if out["date_order"] not in ("auto", "DMY", "MDY", "YMD"):
        _fail("date_order", f"must be one of auto, DMY, MDY, YMD, got {out['date_order']!r}")
    try:
        ZoneInfo(out["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        _fail("timezone", f"must be an IANA zone (e.g. Europe/London), got {out['timezone']!r}")
    try:
        re.compile(out["comment_pattern"])
    except re.error as exc:
        _fail("comment_pattern", f"is not a valid regular expression ({exc})")
    return out


def config_from_dict(d: dict[str, Any], base_dir: Path | None = None) -> StudyConfig:
    """Validate a parsed configuration; relative workbook paths resolve against ``base_dir``."""
    _check_keys(d, _TOP_KEYS, "")
    simple = _simple(d)
    lo, hi, labels, no_op, denom = _scale(_typed(d, "scale", dict, {}))
    rounds = _rounds(d.get("rounds"))
    size, obs_comments = _privacy(_typed(d, "privacy", dict, {}))
    consensus = _typed(d, "consensus", dict, {"preset": "pct75"})
    try:
        rule = rule_from_config(consensus, lo, hi)
    except ValueError as exc:
        raise ConfigError(f"Study configuration: {exc}; presets: {', '.join(PRESETS)}") from exc
    main = Scale("", lo, hi, labels, no_op, rule, denom)
    scales = _scale_uses(d.get("scales"), main, rounds)
    source = simple.pop("source")
    if source and base_dir is not None and "://" not in source and not Path(source).is_absolute():
        candidate = base_dir / source
        source = str(candidate) if candidate.suffix.lower() in (".xlsx", ".xlsm") else source
    return StudyConfig(
        source=source,
        rounds=rounds,
        scale_min=lo,
        scale_max=hi,
        labels=labels,
        no_opinion=no_op,
        rule=rule,
        no_opinion_in_denominator=denom,
        min_group_size=size,
        observer_comments=obs_comments,
        scales=scales,
        groups=_groups(d.get("groups"), simple["panel_attributes"]),
        eligibility=_eligibility(d.get("eligibility"), simple["identity_column"]),
        stopping=_stopping(d.get("stopping")),
        raw=d,
        **simple,
    )


@cache
def _demo_rule_versions() -> dict[str, Path]:
    """The bundled demos' rule versions, each with the workbook its demo reads."""
    out = {}
    for study in _DEMO_STUDIES:
        try:
            d = tomllib.loads(study.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            continue
        version = str(d.get("consensus", {}).get("version", "")).strip()
        if version:
            out[version] = (study.parent / str(d.get("source", ""))).resolve()
    return out


def rule_version_warning(cfg: StudyConfig) -> str | None:
    """What to tell the coordinator when a study that does not read a bundled demo's workbook
    keeps that demo's consensus rule version (a copied study file): every report would print
    the demo's pre-registration as this study's.  None when the version is the study's own.

    >>> rule_version_warning(load_config()) is None  # the demo itself
    True
    """
    demo = _demo_rule_versions().get(cfg.rule.version.strip())
    if demo is None:
        return None
    source = cfg.source
    if source and "://" not in source and Path(source).resolve() == demo:
        return None
    return (
        f"The consensus rule's version “{cfg.rule.version}” is the bundled demo's, copied with "
        "its study file: every report prints it as this study's pre-registration. Set "
        "[consensus] version in the study file to your own rule's (e.g. \"v1, pre-registered "
        'YYYY-MM-DD").'
    )


def load_config(path: str | Path | None = None) -> StudyConfig:
    """Load and validate a study TOML file (the bundled demo's by default)."""
    p = Path(path) if path else DEMO_CONFIG
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"Study configuration not found: {p}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Study configuration {p.name} is not valid TOML: {exc}") from None
    cfg = config_from_dict(data, base_dir=p.resolve().parent)
    return StudyConfig(**{**cfg.__dict__, "path": str(p)})
