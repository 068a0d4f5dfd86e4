"""The pass/fail policy shared by `check` and `run`: named checks, each passed or failed with its evidence.

Exit codes: 0 every check passed, 1 a check failed (EXIT_FAILED), 2 usage or input error (raised earlier).

Muting. `--ignore ID` takes a rule id or a check name. A muted check is shown as skipped. A muted rule's findings
leave the `findings` check, and they also excuse the sanity failures they explain: a parameter that never changed
in a layer a muted `vanishing` finding names does not fail `updates`, and a muted `nonfinite` excuses non-finite
losses and gradients. Without this, `--ignore vanishing` on a deep sigmoid network would still fail the gate
through its consequence (the first layers' updates underflow to exactly 0), which is not what muting means.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping

from gradscope.errors import GradscopeError

FAIL_LEVELS = {"error": ("error",), "warning": ("error", "warning")}
# Every check `check` can run, in the order the summary shows them (`run` uses a subset).
CHECK_NAMES = ("training", "loss", "gradients", "updates", "findings", "overfit", "baseline")
EVIDENCE_SHOWN = 6  # evidence entries shown per finding; the JSON report keeps them all


@dataclass(frozen=True)
class Check:
    """One line of a CI summary: `name` passed or not, with a one-line message and the evidence lines behind it.

    A skipped check (muted by --ignore, or not applicable) counts as passed.
    """

    name: str
    passed: bool
    message: str
    details: tuple[str, ...] = ()
    skipped: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "details": list(self.details)}


def skipped_check(name: str, reason: str) -> Check:
    return Check(name, True, reason, skipped=True)


@dataclass
class GateResult:
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def to_dicts(self) -> list[dict[str, Any]]:
        return [c.to_dict() for c in self.checks]


def gate_section(result: GateResult, fail_on: str, ignore: Iterable[str]) -> dict[str, Any]:
    """The report's "checks" and "gate" sections, the same for `check` and `run`."""
    return {"checks": result.to_dicts(),
            "gate": {"passed": result.passed, "fail_on": fail_on, "ignore": list(ignore)}}


def split_ignore(ids: Iterable[str]) -> tuple[list[str], list[str]]:
    """--ignore values split into (rule ids, check names); an unknown id raises a GradscopeError listing both."""
    from gradscope.rules import RULES

    ids = list(ids)
    unknown = [i for i in ids if i not in RULES and i not in CHECK_NAMES]
    if unknown:
        raise GradscopeError(f"--ignore: unknown rule or check {', '.join(map(repr, unknown))}",
                             fix=f"rules: {', '.join(RULES)}; checks: {', '.join(CHECK_NAMES)}")
    return [i for i in ids if i in RULES], [i for i in ids if i in CHECK_NAMES]


@dataclass(frozen=True)
class Excuses:
    """The sanity failures explained by muted findings: per layer, the muted rule that names it."""

    layers: Mapping[str, str] = field(default_factory=dict)
    nonfinite: bool = False  # `nonfinite` is muted: non-finite losses and gradients are excused everywhere

    def for_layer(self, layer: str) -> str | None:
        return self.layers.get(layer)


def excuses_from(muted: Iterable[dict[str, Any]], layer_names: Iterable[str]) -> Excuses:
    """Excuses from muted findings (report dicts): each excuses its `layer` and the layers its evidence is keyed by."""
    known = set(layer_names)
    layers: dict[str, str] = {}
    nonfinite = False
    for f in muted:
        nonfinite |= f["rule"] == "nonfinite"
        named = [f.get("layer")] + [k for k in (f.get("evidence") or {}) if k in known]
        for name in named:
            if name is not None and name not in layers:
                layers[name] = f["rule"]
    return Excuses(layers, nonfinite)


def failing_findings(findings: Iterable[dict[str, Any]], fail_on: str) -> list[dict[str, Any]]:
    """Findings (report dicts) whose severity fails the gate under --fail-on (error, or warning and error)."""
    levels = FAIL_LEVELS[fail_on]
    return [f for f in findings if f["severity"] in levels]


def findings_check(findings: list[dict[str, Any]], fail_on: str, muted: Iterable[str] = ()) -> Check:
    """'no findings at the --fail-on level': one check covering every rule that ran (muted ones are not in `findings`).

    Each failing finding contributes its lines (see finding_lines) to the details.
    """
    failing = failing_findings(findings, fail_on)
    muted = list(muted)
    note = f" (muted: {', '.join(muted)})" if muted else ""
    if not failing:
        return Check("findings", True, f"no {' or '.join(FAIL_LEVELS[fail_on])} findings{note}")
    details = tuple(line for f in failing for line in finding_lines(f))
    return Check("findings", False, f"{len(failing)} finding(s) at --fail-on {fail_on}{note}", details)


def finding_lines(f: dict[str, Any]) -> tuple[str, ...]:
    """A finding for a CI log: '[error] vanishing (layer 0): message', then its evidence and hint, indented."""
    where = ", ".join(p for p in (f"layer {f['layer']}" if f.get("layer") else "",
                                   f"step {f['step']}" if f.get("step") is not None else "") if p)
    lines = [f"[{f['severity']}] {f['rule']}{f' ({where})' if where else ''}: {f['message']}"]
    if f.get("evidence"):
        lines.append(f"    evidence: {evidence_text(f['evidence'])}")
    if f.get("hint"):
        lines.append(f"    hint: {f['hint']}")
    return tuple(lines)


def evidence_text(evidence: Mapping[str, Any], shown: int = EVIDENCE_SHOWN) -> str:
    """'0=5.1e-10, 2=1.6e-09, ... (+3 more)': the first `shown` entries of a finding's evidence, numbers in e-notation."""
    items = [f"{k}={_value(v)}" for k, v in list(evidence.items())[:shown]]
    more = len(evidence) - shown
    return ", ".join(items) + (f" (+{more} more)" if more > 0 else "")


def _value(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if math.isfinite(v) and v == int(v) and abs(v) < 1e6 else f"{v:.3g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v[:EVIDENCE_SHOWN]) + (", ..." if len(v) > EVIDENCE_SHOWN else "") + "]"
    return str(v)
