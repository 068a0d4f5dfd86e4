"""Rule `update_ratio`: layers whose optimizer step is too large or too small relative to their weights.

The ratio ||update|| / ||parameter|| per step says what fraction of a layer's weights one step changes; it is
scale-free (rescaling a layer's weights and updates together leaves it alone) and comparable across layers and
optimizers. The usual healthy band is around 1e-3 (a thousand steps to change a weight by its own size); far above,
the step overshoots and training is unstable; far below, the layer is effectively frozen.

Per layer: the median over steps where the layer had a gradient, its update norm was recorded and finite, and its
parameter norm was finite and > 0 (a zero-norm layer has no scale to compare with). Layers outside
[update_ratio.low, update_ratio.high] are reported in one finding per run, at the input-most offending layer, with
the layers too high and too low named separately; evidence maps every offending layer to its ratio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from gradscope.rules.finding import Finding
from gradscope.rules._stats import threshold
from gradscope.table.numbers import sci

if TYPE_CHECKING:
    from gradscope.table.record import RunRecord

ID = "update_ratio"
SEVERITY = "warning"
# Defaults, overridable as thresholds '<rule>.<name>' (--threshold, config); the README documents each.
THRESHOLDS = {
    # Update norm / parameter norm outside [low, high] (the usual band is around 1e-3 under SGD; Adam on a small-std
    # init, nanoGPT's, moves a layer by ~0.2 of its norm per step early on).
    "low": 1e-6,
    "high": 0.5,
}
DESCRIPTION = (f"a layer's median update/parameter norm ratio is outside [update_ratio.low, update_ratio.high] "
               f"([{THRESHOLDS['low']:g}, {THRESHOLDS['high']:g}]; "
               "healthy is ~1e-3); steps overshoot or the layer is frozen")
HINT = "too high: lower the learning rate or clip; too low: raise it or check the init scale (try `gradscope sweep-lr`)"
SHOWN = 3  # layers named per direction in the message


def check(record: "RunRecord", thresholds: Mapping[str, float]) -> list[Finding]:
    low, high = threshold(thresholds, "update_ratio.low"), threshold(thresholds, "update_ratio.high")
    ratios = layer_update_ratios(record)
    too_high = {k: v for k, v in ratios.items() if v > high}
    too_low = {k: v for k, v in ratios.items() if v < low}
    if not too_high and not too_low:
        return []
    parts = [f"too high (> {sci(high)}): {_names(too_high)}"] if too_high else []
    parts += [f"too low (< {sci(low)}): {_names(too_low)}"] if too_low else []
    count = len(too_high) + len(too_low)
    message = (f"the median update/parameter norm ratio of {count} of {len(ratios)} layers is outside the band "
               f"(healthy is ~1e-3): " + "; ".join(parts))
    offenders = [k for k in ratios if k in too_high or k in too_low]
    return [Finding(rule=ID, severity=SEVERITY, message=message, layer=offenders[0], step=None, hint=HINT,
                    evidence={k: ratios[k] for k in offenders})]


def layer_update_ratios(record: "RunRecord") -> dict[str, float]:
    """Per layer (forward order, layers without a usable step left out): median of update norm / param norm."""
    import numpy as np

    updates = record.layer_update_norms().astype(float)
    params = record.layer_param_norms().astype(float)
    if len(record.params):
        has_grad = record.params.assign(g=record.params["has_grad"].astype(bool)).groupby(["step", "layer"])["g"].any()
        mask = has_grad.unstack("layer").reindex(index=updates.index, columns=updates.columns).fillna(False)
    else:
        mask = updates.notna()
    ok = mask.to_numpy(dtype=bool) & np.isfinite(updates.to_numpy()) & np.isfinite(params.to_numpy())
    ok &= params.to_numpy() > 0
    ratio = (updates / params).where(ok)
    out = {}
    for name in ratio.columns:
        col = ratio[name].dropna()
        if len(col):
            out[name] = float(np.median(col.to_numpy()))
    return out


def _names(group: dict[str, float]) -> str:
    shown = [f"{k} ({sci(v)})" for k, v in list(group.items())[:SHOWN]]
    return ", ".join(shown) + (f" and {len(group) - SHOWN} more" if len(group) > SHOWN else "")
