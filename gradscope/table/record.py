"""The central data structure: one run's recording as tidy tables, one row per (step, parameter).

Everything downstream (rules, reports, tables, compare, sweeps) reads a RunRecord; nothing downstream touches torch.
Steps are 0-based optimizer steps. A parameter with no gradient at a step has ``has_grad`` False and a NaN
``grad_norm``; a gradient that really is NaN has ``has_grad`` True. Statistics taken only every k-th step are NaN
on the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from gradscope.rules.finding import Finding

# Columns of RunRecord.params, the tidy per-(step, parameter) table (CSV adds `variant` in front).
PARAM_COLUMNS = ("step", "layer", "param", "grad_norm", "param_norm", "update_norm", "has_grad")
# Columns of RunRecord.activations: fraction of dead (ReLU family) or saturated (sigmoid/tanh) outputs.
ACTIVATION_COLUMNS = ("step", "layer", "kind", "fraction")
# Columns of RunRecord.nonfinite: the first step at which each place held a NaN/Inf ("loss" or a parameter name).
NONFINITE_COLUMNS = ("step", "where", "layer", "value")


@dataclass(frozen=True)
class LayerInfo:
    """A module that directly owns trainable parameters, e.g. ('encoder.0', 'Linear')."""

    name: str
    type: str


@dataclass
class RunRecord:
    """What one training run recorded. `layers` is in forward order (input to output)."""

    variant: str
    layers: list[LayerInfo]
    params: "pd.DataFrame"
    losses: list[float | None]  # per step; None where no loss was seen (watch() without a scalar backward)
    activations: "pd.DataFrame"
    nonfinite: "pd.DataFrame"
    meta: dict[str, Any] = field(default_factory=dict)  # model summary, data, loss, seconds, seed ...
    interrupted: bool = False
    error: str | None = None  # the user's error that ended the run early, if any
    findings: list["Finding"] = field(default_factory=list)

    @property
    def steps_recorded(self) -> int:
        return len(self.losses)

    def layer_grad_norms(self) -> "pd.DataFrame":
        """Step x layer table of layer gradient norms: sqrt of the sum of the layer's squared parameter norms.

        Columns are in forward order. A layer none of whose parameters had a gradient at a step is NaN there.
        """
        return _layer_norms(self, "grad_norm")

    def layer_param_norms(self) -> "pd.DataFrame":
        return _layer_norms(self, "param_norm")

    def layer_update_norms(self) -> "pd.DataFrame":
        return _layer_norms(self, "update_norm")

    def total_grad_norms(self) -> list[float]:
        """Per step: the global gradient norm over all parameters (the one clip_grad_norm_ would see)."""
        import numpy as np

        df = self.params[self.params["has_grad"]]
        sq = _sum_keeping_nan(df["grad_norm"].astype(float) ** 2, [df["step"]])
        return [float(np.sqrt(sq.get(s, math.nan))) for s in range(self.steps_recorded)]


def _layer_norms(record: RunRecord, column: str) -> "pd.DataFrame":
    import pandas as pd

    df = record.params
    if column == "grad_norm":
        df = df[df["has_grad"]]
    sq = _sum_keeping_nan(df[column].astype(float) ** 2, [df["step"], df["layer"]])
    table = sq.unstack("layer") ** 0.5 if len(sq) else pd.DataFrame()
    order = [layer.name for layer in record.layers]
    return table.reindex(index=range(record.steps_recorded), columns=order)


def empty_params() -> "pd.DataFrame":
    import pandas as pd

    return pd.DataFrame({c: pd.Series(dtype="float64") for c in PARAM_COLUMNS}).astype(
        {"step": "int64", "layer": "object", "param": "object", "has_grad": "bool"}
    )


def _sum_keeping_nan(values: "pd.Series", keys: list) -> "pd.Series":
    """Grouped sum in which one NaN makes the group NaN (pandas' sum skips NaN, which would hide a NaN gradient)."""
    grouped = values.groupby(keys)
    sums = grouped.sum(min_count=1)
    return sums.mask(values.isna().groupby(keys).any())
