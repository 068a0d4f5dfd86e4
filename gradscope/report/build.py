"""The report: runs, their per-layer series and findings as plain data, versioned `gradscope.report/1`.

The JSON report and the terminal rendering both read what `build_report` returns, so what the terminal shows is what
the file says. JSON has no NaN or Infinity: non-finite numbers are written as the strings "NaN", "Infinity" and
"-Infinity" (kept visible, never dropped), and a value that was not measured is null.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from typing import Any, Iterable

from gradscope._version import __version__
from gradscope.table.record import PARAM_COLUMNS, RunRecord

SCHEMA = "gradscope.report/1"


def build_report(command: str, source: str, settings: dict[str, Any], runs: Iterable[RunRecord],
                 **extra: Any) -> dict[str, Any]:
    runs = list(runs)
    report = {
        "schema": SCHEMA,
        "gradscope_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "source": source,
        "settings": settings,
        "interrupted": any(r.interrupted for r in runs),
        "runs": [run_to_dict(r) for r in runs],
    }
    report.update(extra)
    return report


def report_settings(settings: Any, problem: Any) -> dict[str, Any]:
    """The "settings" section of a command that trains a Problem: the public settings plus what was trained."""
    return {**settings.public(), "data": problem.data_desc, "loss": problem.loss_desc, "model": problem.model_desc}


def run_to_dict(record: RunRecord) -> dict[str, Any]:
    grads, params, updates = record.layer_grad_norms(), record.layer_param_norms(), record.layer_update_norms()
    # null marks "not measured" (no gradient at that step; a step between statistics steps), so NaN stays a real NaN.
    has_grad = record.params.groupby(["step", "layer"])["has_grad"].any().unstack("layer")
    every = int(record.meta.get("stats_every") or 1)
    stats_steps = {s for s in range(record.steps_recorded) if s % every == 0}
    return {
        "variant": record.variant,
        "seed": record.meta.get("seed"),
        "meta": record.meta,
        "steps_recorded": record.steps_recorded,
        "interrupted": record.interrupted,
        "error": record.error,
        "losses": list(record.losses),
        "layers": [
            {
                "name": layer.name,
                "type": layer.type,
                "grad_norm": _series(grads, layer.name, lambda step, name=layer.name: bool(has_grad.at[step, name])),
                "param_norm": _series(params, layer.name, stats_steps.__contains__),
                "update_norm": _series(updates, layer.name, stats_steps.__contains__),
            }
            for layer in record.layers
        ],
        "activations": _activations(record),
        "nonfinite": record.nonfinite.to_dict("records"),
        "findings": [f.to_dict() for f in record.findings],
    }


def _series(table, column: str, measured) -> list[float | None]:
    if column not in table.columns:
        return []
    return [float(v) if measured(step) else None for step, v in zip(table.index, table[column].tolist())]


def _activations(record: RunRecord) -> list[dict[str, Any]]:
    out = []
    for (layer, kind), group in record.activations.groupby(["layer", "kind"], sort=False):
        out.append({"layer": layer, "kind": kind, "steps": group["step"].astype(int).tolist(),
                    "fraction": group["fraction"].astype(float).tolist()})
    return out


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(_encode(report), indent=2, allow_nan=False) + "\n"


def _encode(value: Any) -> Any:
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        return _encode(value.item())
    return value


def tidy_csv(runs: Iterable[RunRecord]) -> str:
    """The per-(step, parameter) table of every run, `variant` and `seed` first. NaN/Inf are written as nan/inf."""
    import pandas as pd

    frames = []
    for record in runs:
        frame = record.params.copy()
        frame.insert(0, "seed", record.meta.get("seed"))
        frame.insert(0, "variant", record.variant)
        frames.append(frame)
    if not frames:  # no step recorded: the header alone, so that the file still reads as a table
        return pd.DataFrame(columns=["variant", "seed", *PARAM_COLUMNS]).to_csv(index=False)
    table = pd.concat(frames, ignore_index=True)
    return table.to_csv(index=False, na_rep="nan")
