"""Consensus rules: the ``Rule`` type, the named presets and a rule from a ``[consensus]`` table.

Pure Python (no pandas, nothing from ``lib``): ``lib.config`` parses a study's rule with it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

__all__ = [
    "Rule",
    "PRESETS",
    "STATUSES",
    "EPS",
    "preset",
    "rule_from_config",
    "yes_no_rule",
    "cutoff_votes",
]

STATUSES = ("consensus_in", "consensus_out", "no_consensus")
# Tolerance of the share, median and IQR comparisons: a share computed in floating point that
# equals a threshold on paper must count as reaching it.
EPS = 1e-9


@dataclass(frozen=True)
class Rule:
    """A consensus definition. Shares are percentages; ``max_opposite`` is strict (<)."""

    name: str
    label: str
    agree: tuple[int, int]
    disagree: tuple[int, int]
    threshold: float | None = None
    max_opposite: float | None = None
    max_iqr: float | None = None
    median_agree: tuple[float, float] | None = None
    median_disagree: tuple[float, float] | None = None
    min_n: int = 1
    method: str = "rule"  # "rule" or "rand_ucla"
    version: str = ""
    source: str = ""

    def describe(self) -> str:
        """The rule in one sentence, as a report states it."""
        if self.name == "yes_no":
            share = f"≥ {self.threshold:g}%"
            return f"Consensus in: {share} answer Yes; consensus out: {share} answer No"
        if self.method == "rand_ucla":
            return (
                "RAND/UCLA: appropriate if median 7–9 without disagreement, inappropriate if "
                "median 1–3 without disagreement, otherwise uncertain; disagreement when "
                "IPR > IPRAS = 2.35 + 1.5·|5 − IPRCP| (Fitch et al. 2001)"
            )
        parts = []
        if self.threshold is not None:
            parts.append(f"≥ {self.threshold:g}% rate {_rng(self.agree)}")
        if self.max_opposite is not None:
            parts.append(f"< {self.max_opposite:g}% rate {_rng(self.disagree)}")
        if self.median_agree is not None:
            parts.append(f"median {_rng(self.median_agree)}")
        if self.max_iqr is not None:
            parts.append(f"IQR ≤ {self.max_iqr:g}")
        if self.min_n > 1:
            parts.append(f"at least {self.min_n} valid ratings")
        out = " and ".join(parts)
        return f"Consensus in: {out}; consensus out: the mirror image on {_rng(self.disagree)}"

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable) for storing with a snapshot."""
        return asdict(self)


def _rng(r: tuple) -> str:
    return f"{r[0]:g}–{r[1]:g}" if r[0] != r[1] else f"{r[0]:g}"


def _thirds(lo: int, hi: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Agree / disagree ranges: top and bottom thirds (1–9: 7–9 and 1–3; 1–5: 4–5 and 1–2)."""
    k = max(1, round((hi - lo + 1) / 3))
    return (hi - k + 1, hi), (lo, lo + k - 1)


def _max_iqr(lo: int, hi: int) -> float:
    # 9-point: IQR ≤ 3 (Unisanté fast-track Delphi); 5-point: IQR ≤ 1 (Calibrum Surveylet).
    return {8: 3.0, 4: 1.0}.get(hi - lo, float(math.floor((hi - lo) * 3 / 8)))


def preset(name: str, lo: int = 1, hi: int = 9) -> Rule:
    """A named preset rule adapted to the scale ``lo``–``hi``."""
    agree, disagree = _thirds(lo, hi)
    if name == "pct75":
        return Rule(
            name,
            "≥ 75% agreement",
            agree,
            disagree,
            threshold=75.0,
            source="Diamond et al. 2014, J Clin Epidemiol 67:401 (median threshold 75%)",
        )
    if name == "comet_70_15":
        return Rule(
            name,
            "COMET 70/15",
            agree,
            disagree,
            threshold=70.0,
            max_opposite=15.0,
            source="COMET / GRADE core outcome set rule (≥ 70% and < 15% opposite)",
        )
    if name == "median_iqr":
        return Rule(
            name,
            f"Median in agree range and IQR ≤ {_max_iqr(lo, hi):g}",
            agree,
            disagree,
            max_iqr=_max_iqr(lo, hi),
            median_agree=(float(agree[0]), float(hi)),
            median_disagree=(float(lo), float(disagree[1])),
            source="Unisanté fast-track Delphi (median ≥ 7 / ≤ 3, IQR ≤ 3 on 1–9)",
        )
    if name == "rand_ucla":
        if (lo, hi) != (1, 9):
            raise ValueError("consensus.preset 'rand_ucla' needs a 1–9 scale")
        return Rule(
            name,
            "RAND/UCLA appropriateness",
            (7, 9),
            (1, 3),
            method="rand_ucla",
            median_agree=(7.0, 9.0),
            median_disagree=(1.0, 3.0),
            source="Fitch et al., RAND/UCLA Appropriateness Method User's Manual, 2001",
        )
    raise ValueError(f"consensus.preset '{name}' is unknown")


PRESETS = {
    "pct75": "≥ 75% agreement (Diamond 2014)",
    "comet_70_15": "COMET 70/15",
    "median_iqr": "Median and IQR (Unisanté)",
    "rand_ucla": "RAND/UCLA (1–9 scale only)",
}
_CUSTOM_KEYS = {
    "preset",
    "label",
    "agree",
    "disagree",
    "threshold",
    "max_opposite",
    "max_iqr",
    "median_agree",
    "median_disagree",
    "min_n",
    "version",
}


def _pair(cfg: dict[str, Any], key: str, lo: int, hi: int) -> tuple[float, float] | None:
    v = cfg.get(key)
    if v is None:
        return None
    ok = isinstance(v, list) and len(v) == 2 and all(isinstance(x, int | float) for x in v)
    if not ok or not lo <= v[0] <= v[1] <= hi:
        raise ValueError(f"consensus.{key} must be [low, high] within {lo}–{hi}, got {v!r}")
    return (v[0], v[1])


def _share(cfg: dict[str, Any], key: str) -> float | None:
    v = cfg.get(key)
    if v is None:
        return None
    if not isinstance(v, int | float) or isinstance(v, bool) or not 0 < v <= 100:
        raise ValueError(f"consensus.{key} must be a percentage between 0 and 100, got {v!r}")
    return float(v)


def rule_from_config(cfg: dict[str, Any], lo: int, hi: int) -> Rule:
    """Build the rule of a ``[consensus]`` table: a preset, optionally with custom overrides."""
    unknown = set(cfg) - _CUSTOM_KEYS
    if unknown:
        raise ValueError(
            f"consensus.{sorted(unknown)[0]} is not a known key; allowed: "
            f"{', '.join(sorted(_CUSTOM_KEYS))}"
        )
    name = cfg.get("preset", "custom")
    base = (
        preset(name, lo, hi)
        if name != "custom"
        else Rule("custom", "Custom rule", *_thirds(lo, hi))
    )
    changes: dict[str, Any] = {}
    for key in ("agree", "disagree", "median_agree", "median_disagree"):
        if key in cfg:
            changes[key] = _pair(cfg, key, lo, hi)
    for key in ("threshold", "max_opposite"):
        if key in cfg:
            changes[key] = _share(cfg, key)
    if "max_iqr" in cfg:
        v = cfg["max_iqr"]
        if not isinstance(v, int | float) or isinstance(v, bool) or v < 0:
            raise ValueError(f"consensus.max_iqr must be a number ≥ 0, got {v!r}")
        changes["max_iqr"] = float(v)
    if "min_n" in cfg:
        if not isinstance(cfg["min_n"], int) or cfg["min_n"] < 1:
            raise ValueError(f"consensus.min_n must be a whole number ≥ 1, got {cfg['min_n']!r}")
        changes["min_n"] = cfg["min_n"]
    for key in ("label", "version"):
        if key in cfg:
            changes[key] = str(cfg[key])
    rule = replace(base, **changes)
    if set(changes) - {"version"} and name != "custom" and "label" not in cfg:
        rule = replace(rule, name="custom", label=f"{base.label} (customised)")
    if rule.method == "rule" and rule.threshold is None and rule.median_agree is None:
        raise ValueError("consensus needs a threshold or a median_agree range")
    return rule


def yes_no_rule(cfg: dict[str, Any]) -> Rule:
    """The rule of a Yes/No question: consensus in when at least ``threshold`` percent (75 by
    default) answer Yes, consensus out when as many answer No; ``min_n``, ``label`` and
    ``version`` as for any rule.

    >>> yes_no_rule({"threshold": 70}).describe()
    'Consensus in: ≥ 70% answer Yes; consensus out: ≥ 70% answer No'
    """
    unknown = set(cfg) - {"threshold", "min_n", "label", "version"}
    if unknown:
        raise ValueError(
            f"consensus.{sorted(unknown)[0]} does not apply to a Yes/No question; allowed: "
            "label, min_n, threshold, version"
        )
    threshold = _share(cfg, "threshold") or 75.0
    rule = Rule(
        "yes_no",
        f"≥ {threshold:g}% yes",
        (1, 1),
        (0, 0),
        threshold=threshold,
        source="share answering Yes (inclusion vote)",
    )
    if "min_n" in cfg:
        if not isinstance(cfg["min_n"], int) or cfg["min_n"] < 1:
            raise ValueError(f"consensus.min_n must be a whole number ≥ 1, got {cfg['min_n']!r}")
        rule = replace(rule, min_n=cfg["min_n"])
    for key in ("label", "version"):
        if key in cfg:
            rule = replace(rule, **{key: str(cfg[key])})
    return rule


def cutoff_votes(threshold: float | None, n: int) -> int | None:
    """Smallest number of votes out of ``n`` that reaches ``threshold`` percent (70% of 15 → 11).

    >>> cutoff_votes(70, 15)
    11
    >>> cutoff_votes(75, 12)
    9
    """
    if threshold is None or n <= 0:
        return None
    return math.ceil(threshold * n / 100 - EPS)
