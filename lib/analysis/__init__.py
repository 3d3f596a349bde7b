"""Consensus rules and metrics, and statistics by family: frames in, tidy frames out.

``rules`` (the Rule type and presets), ``scales`` (which scale each statement of each round
has), ``consensus`` (metrics and status), ``summary`` (round summaries, latest status, lineage),
and one module per statistical family: ``agreement``, ``stability``, ``solidity``,
``sensitivity``, ``flow``, ``participation``, ``groups`` (pooling small groups),
``stakeholders`` (consensus per group), ``robustness`` (would the verdict survive),
``eligibility``, ``stopping`` (run another round?), ``uncertainty`` (what stays open);
``signed_rank`` (the Wilcoxon signed-rank test of many samples at once, for ``stability``).
Import the module you need; nothing heavy (pingouin, scipy, duckdb) is imported until a function
needs it.
"""

from lib.analysis._common import format_p

__all__ = ["format_p"]
