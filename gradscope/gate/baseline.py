"""The baseline check: this run's per-layer gradient profile against a saved earlier report (a --json file).

Per layer the profile is the median over steps of its finite gradient norms (table.summaries.summarize_layer), which one
spiky step does not move. The check fails when a layer's median moved by more than `factor` either way (default 10x:
far outside run-to-run drift at a fixed seed, well inside what a detached branch, a lost residual connection or a
changed initialisation does), when a layer had a gradient in one report and none in the other, or when a layer
appeared or disappeared. Settings that differ between the two reports are listed, since they move the profile too.
Pure: plain report dicts in, a Check out.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from gradscope.errors import GradscopeError
from gradscope.gate.checks import Check
from gradscope.report.build import SCHEMA
from gradscope.table.numbers import sci
from gradscope.table.summaries import summarize_layer

DEFAULT_FACTOR = 10.0
COMPARED_SETTINGS = ("steps", "lr", "optimizer", "momentum", "batch_size", "seed", "data", "loss")


def load_baseline(path: str | Path) -> dict[str, Any]:
    """A saved report, checked: readable JSON, schema gradscope.report/1, at least one run with layers."""
    path = Path(path)
    fix = "give --baseline a report written by `gradscope check --json` or `gradscope inspect --json`"
    if not path.is_file():
        raise GradscopeError(f"baseline report not found: {path}", fix=fix)
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GradscopeError(f"baseline {path} is not a JSON report: {exc}", fix=fix) from None
    if not isinstance(report, dict) or report.get("schema") != SCHEMA:
        found = report.get("schema") if isinstance(report, dict) else type(report).__name__
        raise GradscopeError(f"baseline {path} has schema {found!r}, expected {SCHEMA!r}", fix=fix)
    runs = report.get("runs")
    if not runs or not isinstance(runs, list) or not isinstance(runs[0], dict) or "layers" not in runs[0]:
        raise GradscopeError(f"baseline {path} holds no run", fix=fix)
    try:  # the fields the check reads, read once here: an edited or truncated report fails with a message
        layer_medians(runs[0])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise GradscopeError(f"baseline {path} is not a complete gradscope report: {type(exc).__name__} {exc}",
                             fix=fix) from None
    return report


def layer_medians(run: dict[str, Any]) -> dict[str, float | None]:
    """Layer name -> median finite gradient norm (None: the layer never had a finite gradient), in forward order."""
    return {layer["name"]: summarize_layer(layer).median for layer in run["layers"]}


def profile_changes(current: dict[str, float | None], baseline: dict[str, float | None], factor: float) -> list[str]:
    """One line per layer whose gradient profile changed beyond `factor`, appeared or disappeared."""
    lines = [f"layer {name} appeared (not in the baseline)" for name in current if name not in baseline]
    lines += [f"layer {name} disappeared (in the baseline, not in this run)" for name in baseline if name not in current]
    for name in (n for n in current if n in baseline):
        now, before = current[name], baseline[name]
        if now is None and before is None:
            continue
        if now is None or before is None:
            state = "lost its gradient" if now is None else "gained a gradient"
            lines.append(f"layer {name} {state} (median |g| {_median(before)} → {_median(now)})")
            continue
        ratio = _ratio(now, before)
        if not (1 / factor <= ratio <= factor):
            lines.append(f"layer {name}: median |g| {_median(before)} → {_median(now)} ({_times(ratio)}, "
                         f"beyond {factor:g}x)")
    return lines


def baseline_check(report: dict[str, Any], baseline: dict[str, Any], factor: float = DEFAULT_FACTOR,
                   source: str = "the baseline") -> Check:
    """Compare the first run of `report` with the first run of `baseline`."""
    current, before = layer_medians(report["runs"][0]), layer_medians(baseline["runs"][0])
    changes = profile_changes(current, before, factor)
    notes = tuple(settings_differences(report.get("settings", {}), baseline.get("settings", {})))
    if changes:
        return Check("baseline", False, f"{len(changes)} of {len(set(current) | set(before))} layers changed "
                                        f"against {source} (factor {factor:g})", tuple(changes) + notes)
    return Check("baseline", True, f"all {len(current)} layers within {factor:g}x of {source}", notes)


def settings_differences(current: dict[str, Any], baseline: dict[str, Any]) -> list[str]:
    return [f"note: {key} differs: {baseline.get(key)!r} in the baseline, {current.get(key)!r} now"
            for key in COMPARED_SETTINGS if key in current and key in baseline and current[key] != baseline[key]]


def _ratio(now: float, before: float) -> float:
    if before == 0:
        return 1.0 if now == 0 else math.inf
    return now / before


def _times(ratio: float) -> str:
    return "from 0" if math.isinf(ratio) else f"{ratio:.3g}x"


def _median(value: float | None) -> str:
    """A layer's median gradient norm; 'none' when the layer has no gradient at all (not a number)."""
    return "none" if value is None else sci(value)
