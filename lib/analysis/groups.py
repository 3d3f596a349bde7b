"""Small groups: the one rule that pools panel groups below ``privacy.min_group_size``.

The Panel page, the participation table, the report's panel composition and the attrition view
all go through :func:`pool_small_groups`, so no document reveals a size another one hides.

The rule: every group under the minimum joins one row, ``Other (groups under N)``, whose values
are never listed.  If that row would itself hold fewer than N panelists (its size would then
follow from the total by subtraction, and a pair of panelists is nearly a person), the smallest
remaining groups join it until it holds N; an attribute held by fewer than N panelists in all
is not shown at all.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["BLANK", "other_label", "pool_small_groups", "pooling_rule"]

BLANK = "(blank)"  # the group of panelists whose cell is empty


def other_label(min_size: int) -> str:
    """The label of the pooled row: ``Other (groups under 5)``."""
    return f"Other (groups under {min_size})"


def pooling_rule(min_size: int) -> str:
    """The rule in a sentence, for a caption or a report's footnote."""
    return (
        f"Groups of fewer than {min_size} panelists are pooled into one row, "
        f"“{other_label(min_size)}”, whose values are not listed; when that row would hold "
        f"fewer than {min_size}, the next smallest groups join it, and an attribute held by "
        f"fewer than {min_size} panelists in all is not shown."
    )


def pool_small_groups(sizes: pd.Series, min_size: int) -> dict[str, str]:
    """Each group's label as shown: itself, or :func:`other_label`; a group not in the result
    is hidden (the attribute has fewer than ``min_size`` panelists in all).

    ``sizes`` maps group -> number of panelists.  Ties are broken by group name, so the same
    sizes always pool the same way.

    >>> pooled = pool_small_groups(pd.Series({"Italy": 6, "Spain": 5, "Peru": 2, "Chile": 3}), 5)
    >>> pooled["Italy"], pooled["Spain"], pooled["Peru"], pooled["Chile"]
    ('Italy', 'Spain', 'Other (groups under 5)', 'Other (groups under 5)')
    >>> pool_small_groups(pd.Series({"Italy": 6, "Peru": 1}), 5)  # Peru alone would be 1
    {'Italy': 'Other (groups under 5)', 'Peru': 'Other (groups under 5)'}
    >>> pool_small_groups(pd.Series({"Italy": 3, "Peru": 1}), 5)  # 4 in all: hidden
    {}
    """
    sizes = sizes[sizes > 0]
    if sizes.sum() < min_size:
        return {}
    order = sorted(sizes.index, key=lambda g: (int(sizes[g]), str(g)))
    pooled = [g for g in order if sizes[g] < min_size]
    rest = [g for g in order if sizes[g] >= min_size]
    while pooled and sizes[pooled].sum() < min_size:
        pooled.append(rest.pop(0))  # the total is ≥ min_size, so this ends before rest is empty
    label = other_label(min_size)
    return {g: (label if g in pooled else g) for g in sorted(sizes.index, key=str)}
