"""Hand-built RunRecords for the rule tests: a few lines of numbers in, a RunRecord out (no torch, no recorder)."""

from __future__ import annotations

import math

import pandas as pd

from gradscope.table.record import ACTIVATION_COLUMNS, NONFINITE_COLUMNS, PARAM_COLUMNS, LayerInfo, RunRecord
from gradscope.rules import DEFAULT_THRESHOLDS

NAN, INF = math.nan, math.inf
THRESHOLDS = dict(DEFAULT_THRESHOLDS)


def falling(n: int, start: float = 1.0) -> list[float]:
    """A loss that halves over every ten steps: clearly decreasing."""
    return [start * 0.5 ** (s / 10) for s in range(n)]


def record(grads, *, losses=None, has_grad=None, param_norm=1.0, update_norm=1e-3, activations=(),
           nonfinite=(), names=None, types=None, meta=None) -> RunRecord:
    """One parameter per layer, "<layer>.weight", so a layer's gradient norm is exactly its parameter's.

    grads: rows = steps, columns = layers (forward order). has_grad: same shape of bools (default all True).
    param_norm / update_norm: a number for every cell, or a steps x layers list. activations: (step, layer, kind,
    fraction) tuples. nonfinite: (step, where, layer, value) tuples. losses default to `falling`.
    types: the layers' module class names (default all "Linear"). meta: the record's meta dict.
    """
    grads = [list(row) for row in grads]
    n = len(grads)
    width = len(grads[0]) if n else len(names or [])
    names = names or [f"fc{i}" for i in range(width)]
    rows = []
    for s, row in enumerate(grads):
        for j, g in enumerate(row):
            rows.append(dict(step=s, layer=names[j], param=f"{names[j]}.weight", grad_norm=float(g),
                             param_norm=_cell(param_norm, s, j), update_norm=_cell(update_norm, s, j),
                             has_grad=bool(has_grad[s][j]) if has_grad is not None else True))
    return from_rows(rows, names, falling(n) if losses is None else losses, activations, nonfinite, types=types,
                     meta=meta)


def from_rows(rows, layers, losses, activations=(), nonfinite=(), types=None, meta=None) -> RunRecord:
    """A RunRecord from explicit param rows (dicts with PARAM_COLUMNS) and layer names in forward order."""
    params = pd.DataFrame(rows, columns=list(PARAM_COLUMNS)).astype(
        {"step": "int64", "grad_norm": "float64", "param_norm": "float64", "update_norm": "float64",
         "has_grad": "bool"})
    return RunRecord(
        variant="baseline",
        layers=[LayerInfo(name, kind) for name, kind in zip(layers, types or ["Linear"] * len(layers))],
        params=params,
        losses=[float(v) for v in losses],
        activations=pd.DataFrame(list(activations), columns=list(ACTIVATION_COLUMNS)),
        nonfinite=pd.DataFrame(list(nonfinite), columns=list(NONFINITE_COLUMNS)),
        meta=dict(meta or {}),
    )


def constant(steps: int, norms) -> list[list[float]]:
    """The same layer gradient norms at every step."""
    return [list(norms) for _ in range(steps)]


def _cell(value, s, j) -> float:
    return float(value[s][j]) if isinstance(value, list) else float(value)
