"""The pass/fail policy shared by `check` and `run`: named checks, each passed or failed with its evidence.

Exit codes: 0 every check passed, 1 a check failed (EXIT_FAILED), 2 usage or input error (raised earlier).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

FAIL_LEVELS = {"error": ("error",), "warning": ("error", "warning")}


@dataclass(frozen=True)
class Check:
    """One line of a CI summary: `name` passed or not, with a one-line message and the evidence lines behind it."""

    name: str
    passed: bool
    message: str
    details: tuple[str, ...] = ()


@dataclass
class GateResult:
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]


def failing_findings(findings: Iterable[dict[str, Any]], fail_on: str) -> list[dict[str, Any]]:
    """Findings (report dicts) whose severity fails the gate under --fail-on (error, or warning and error)."""
    levels = FAIL_LEVELS[fail_on]
    return [f for f in findings if f["severity"] in levels]


def findings_check(findings: list[dict[str, Any]], fail_on: str) -> Check:
    """'no findings at the --fail-on level': one check covering every rule that ran (muted ones are not in `findings`)."""
    failing = failing_findings(findings, fail_on)
    if not failing:
        return Check("findings", True, f"no {' or '.join(FAIL_LEVELS[fail_on])} findings")
    details = tuple(f"[{f['severity']}] {f['rule']}: {f['message']}" for f in failing)
    return Check("findings", False, f"{len(failing)} finding(s) at --fail-on {fail_on}", details)
