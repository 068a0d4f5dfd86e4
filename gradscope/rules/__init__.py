"""The diagnosis rules: pure functions from a RunRecord to Findings, and `diagnose`, which runs them all.

Each rule is one module with ID, SEVERITY (its default severity), THRESHOLDS (its thresholds' defaults, if it has
any), DESCRIPTION (one line: what it detects, its default threshold, why it matters), HINT (a one-line remedy) and
``check(record, thresholds) -> list[Finding]``. DEFAULT_THRESHOLDS gathers the THRESHOLDS as '<rule>.<name>'.
Rules never import torch, and import numpy/pandas only inside ``check``, so this package is cheap to import.
`RULES` is in the order the README documents them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Mapping

from gradscope.errors import GradscopeError
from gradscope.rules.finding import Finding, sort_findings
from gradscope.rules import (
    dead_units,
    divergence,
    exploding,
    initial_loss,
    loss_not_decreasing,
    nonfinite,
    saturation,
    spike,
    unused,
    update_ratio,
    vanishing,
)
from gradscope.rules.causes import order_by_cause

if TYPE_CHECKING:
    from gradscope.table.record import RunRecord

RULES = {
    rule.ID: rule
    for rule in (divergence, nonfinite, exploding, vanishing, unused, dead_units, saturation, update_ratio, spike,
                 initial_loss, loss_not_decreasing)
}
# Every threshold, '<rule>.<name>' -> its default, from the rules' own THRESHOLDS (a rule without any has none).
DEFAULT_THRESHOLDS: dict[str, float] = {
    f"{rule_id}.{name}": value for rule_id, rule in RULES.items() for name, value in getattr(rule, "THRESHOLDS", {}).items()
}


def validate_rule_ids(ids: Iterable[str]) -> list[str]:
    """The given rule ids, checked: raise GradscopeError naming the unknown ones and listing the valid ones."""
    ids = [ids] if isinstance(ids, str) else list(ids)
    unknown = [i for i in ids if i not in RULES]
    if unknown:
        raise GradscopeError(f"unknown rule id{'s' if len(unknown) > 1 else ''}: {', '.join(map(repr, unknown))}",
                             fix=f"valid rule ids are: {', '.join(RULES)}")
    return ids


def diagnose(record: "RunRecord", thresholds: Mapping[str, float], ignore: Iterable[str] = ()) -> list[Finding]:
    """Every finding of every rule not in `ignore`, root cause first, its symptoms demoted (see causes.py).

    Thresholds missing from `thresholds` take their defaults from DEFAULT_THRESHOLDS.
    """
    skip = set(validate_rule_ids(ignore))
    merged = {**DEFAULT_THRESHOLDS, **thresholds}
    findings: list[Finding] = []
    for rule_id, rule in RULES.items():
        if rule_id not in skip:
            findings.extend(rule.check(record, merged))
    return order_by_cause(sort_findings(findings), record.steps_recorded)
