"""A finding: what a rule concluded, where, when, the numbers behind it, and what to try."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Finding:
    rule: str  # a stable rule id, e.g. "vanishing"
    severity: str  # "error" | "warning" | "info"
    message: str  # one sentence with the numbers, e.g. "gradient of fc0 is 2.1e-09, 3.4e-08 x that of fc11"
    layer: str | None = None  # qualified module name, or None when the finding is about the whole model
    step: int | None = None  # 0-based optimizer step, or None when it is about the whole run
    hint: str = ""  # a one-line remedy
    evidence: dict[str, Any] = field(default_factory=dict)  # the numbers behind the message, JSON-friendly

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Most severe first; within a severity the order given (diagnose gives rule order: nonfinite first)."""
    return sorted(findings, key=lambda f: SEVERITY_ORDER.get(f.severity, 9))
