"""Turn the Recorder's host rows into the tidy tables of a RunRecord (one row per step and parameter)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from gradscope.table.record import NONFINITE_COLUMNS, RunRecord
from gradscope.recording.layers import tied_names
from gradscope.recording.recorder import Recorder


def to_record(recorder: Recorder, variant: str = "watched", meta: dict | None = None) -> RunRecord:
    recorder.flush()
    n_params = len(recorder.params)
    width = 4 * n_params + 2 + len(recorder.act_names)
    rows = torch.cat(recorder.row_blocks).numpy() if recorder.row_blocks else np.zeros((0, width))
    n_steps = len(rows)
    grad, param, update, has = (rows[:, i * n_params:(i + 1) * n_params] for i in range(4))
    # A step whose loss was not seen (no Tensor.backward call on a scalar) has None, not NaN: NaN means a NaN loss.
    losses = [float(v) if seen else None for v, seen in zip(rows[:, 4 * n_params], rows[:, 4 * n_params + 1] > 0.5)]
    acts = rows[:, 4 * n_params + 2:]
    params = pd.DataFrame({
        "step": np.repeat(np.arange(n_steps), n_params),
        "layer": [p.layer for p in recorder.params] * n_steps,
        "param": [p.name for p in recorder.params] * n_steps,
        "grad_norm": grad.reshape(-1),
        "param_norm": param.reshape(-1),
        "update_norm": update.reshape(-1),
        "has_grad": has.reshape(-1) > 0.5,
    })
    return RunRecord(
        variant=variant,
        layers=recorder.layers(),
        params=params,
        losses=losses,
        activations=_activation_frame(recorder, acts),
        nonfinite=first_nonfinite(params, losses),
        meta=_with_tied(recorder, meta),
    )


ACTIVATIONS_OFF_UNDER_COMPILE = "off under torch.compile (they need eager forward hooks)"


def _with_tied(recorder: Recorder, meta: dict | None) -> dict:
    """The run's meta, plus the tied parameters' names when there are any (their rows carry the first name only),
    and a note when activation statistics were off."""
    tied = tied_names(recorder.params)
    off = {"activations": ACTIVATIONS_OFF_UNDER_COMPILE} if recorder.compiled else {}
    return {**(meta or {}), **({"tied": tied} if tied else {}), **off}


def _activation_frame(recorder: Recorder, acts: np.ndarray) -> pd.DataFrame:
    n_steps, n_acts = acts.shape
    frame = pd.DataFrame({
        "step": np.repeat(np.arange(n_steps), n_acts),
        "layer": recorder.act_names * n_steps,
        "kind": recorder.act_kinds * n_steps,
        "fraction": acts.reshape(-1),
    })
    return frame[frame["fraction"].notna()].reset_index(drop=True)


def first_nonfinite(params: pd.DataFrame, losses: list[float]) -> pd.DataFrame:
    """The first step at which the loss, and each parameter's gradient, held NaN or Inf."""
    rows = []
    bad_loss = [s for s, v in enumerate(losses) if v is not None and not math.isfinite(v)]
    if bad_loss:
        rows.append({"step": bad_loss[0], "where": "loss", "layer": None, "value": losses[bad_loss[0]]})
    grads = params[params["has_grad"] & ~np.isfinite(params["grad_norm"].astype(float))]
    for name, group in grads.groupby("param", sort=False):
        first = group.sort_values("step").iloc[0]
        rows.append({"step": int(first["step"]), "where": name, "layer": first["layer"], "value": first["grad_norm"]})
    # Object columns keep None for the loss's layer (pandas' string dtype would turn it into NaN).
    dtypes = {"step": "int64", "where": object, "layer": object, "value": "float64"}
    frame = pd.DataFrame({c: pd.Series([row[c] for row in rows], dtype=dtypes[c]) for c in NONFINITE_COLUMNS})
    return frame.sort_values("step", kind="stable").reset_index(drop=True)
