"""Rule `update_ratio`: layers whose optimizer step is too large or too small relative to their weights.

The ratio ||update|| / ||parameter|| per step says what fraction of a layer's weights one step changes; it is
scale-free (rescaling a layer's weights and updates together leaves it alone) and comparable across layers and
optimizers. The usual healthy band is around 1e-3 (a thousand steps to change a weight by its own size); far above,
the step overshoots and training is unstable; far below, the layer is effectively frozen.

Per layer: the median over steps where the layer had a gradient, its update norm was recorded and finite, and its
parameter norm was finite and > 0 (a zero-norm layer has no scale to compare with). Layers outside
[update_ratio.low, update_ratio.high] are reported in one finding per run, at the input-most offending layer, with
the layers too high and too low named separately; evidence maps every offending layer to its ratio.

A stalled run under an adaptive optimizer. Adam (and its kin: AdamW, RMSprop ...) moves each weight by about the
learning rate per step whatever the gradient's size, so its update/weight ratio is ~lr / rms(weights): ~1e-2 at its
customary lr 1e-3, and ~1e-5 at lr 1e-6, above the SGD-calibrated `low` yet frozen. So, under an adaptive optimizer,
when the loss did not fall (by loss_not_decreasing.min_drop over at least MIN_STEPS steps, the same test as that
rule's) and the median layer's ratio is below update_ratio.stalled, the learning rate is the cause: the layers
below `stalled` are reported as too low. The flat loss is required: healthy fine-tuning at AdamW 1e-5 moves a
LayerNorm's unit weights by ~1e-5 of their norm too, but its loss falls. Under SGD a small ratio can come from a
small gradient (a wrong loss, a saturated output), which is not the learning rate's doing, so only `low` applies.

Parameters no optimizer holds. `gradscope run` records the layers of a script's model that receive gradients but
that no optimizer holds (an optimizer built from `model.head.parameters()` only) with zero updates, and lists them in
meta "not_optimized". Those below `low` are reported first, as what they are ("backbone.* receive gradients but no
optimizer holds them"), with a code fix rather than a learning rate; a param group at lr 0 (an optimizer holds it)
keeps the band's wording. They are left out of the stall test: their zero ratio is not the learning rate's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from gradscope.rules.finding import Finding
from gradscope.rules._stats import loss_change, threshold
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
    # Under Adam and its kin, with a flat loss: a median layer moving less than this share of its weights per step
    # (Adam's customary ratio is ~1e-2; lr 1e-6 gives ~1e-5).
    "stalled": 1e-4,
}
ADAPTIVE = ("adam", "adamw", "adamax", "nadam", "radam", "rmsprop", "adagrad", "adadelta", "sparseadam")
MIN_STEPS = 10
DESCRIPTION = (f"a layer's median update/parameter norm ratio is outside [update_ratio.low, update_ratio.high] "
               f"([{THRESHOLDS['low']:g}, {THRESHOLDS['high']:g}]; "
               "healthy is ~1e-3); steps overshoot or the layer is frozen")
HINT = "too high: lower the learning rate or clip; too low: raise it or check the init scale (try `gradscope sweep-lr`)"
NOT_OPTIMIZED_HINT = ("build the optimizer from model.parameters() (or add the missing param group); freeze parts "
                      "you mean to keep fixed with requires_grad_(False)")
SHOWN = 3  # layers named per direction in the message


def check(record: "RunRecord", thresholds: Mapping[str, float]) -> list[Finding]:
    low, high = threshold(thresholds, "update_ratio.low"), threshold(thresholds, "update_ratio.high")
    ratios = layer_update_ratios(record)
    unheld = _not_optimized(record)
    stranded = {k: v for k, v in ratios.items() if k in unheld and v < low}
    held = {k: v for k, v in ratios.items() if k not in stranded}
    too_high = {k: v for k, v in held.items() if v > high}
    stall = _stalled(record, held, thresholds)
    if stall is not None:
        low = max(low, threshold(thresholds, "update_ratio.stalled"))
    too_low = {k: v for k, v in held.items() if v < low}
    if not too_high and not too_low and not stranded:
        return []
    parts = [f"too high (> {sci(high)}): {_names(too_high)}"] if too_high else []
    parts += [f"too low (< {sci(low)}): {_names(too_low)}"] if too_low else []
    count = len(too_high) + len(too_low)
    sentences = [_stranded_text(stranded, record, ratios)] if stranded else []
    if parts:
        sentences.append(f"the median update/parameter norm ratio of {count} of {len(ratios)} layers is outside the "
                         f"band (healthy is ~1e-3): " + "; ".join(parts))
    message = "; ".join(sentences)
    if stall is not None:
        message += (f"; under {stall[0]} (steps of ~lr per weight, ~1e-2 of the weights at its usual lr) the median "
                    f"layer moved {sci(stall[1])} of its weights per step while the loss changed {stall[2]:+.1%}: "
                    "the learning rate is far too low")
    offenders = [k for k in ratios if k in too_high or k in too_low or k in stranded]
    evidence: dict = {k: ratios[k] for k in offenders}
    if stall is not None:  # a string, so that the lr factor (remedies/defaults.py) reads only the layers' ratios
        evidence["stalled_under"] = stall[0]
    if stranded:  # a string too, for the same reason
        evidence["not_optimized"] = ", ".join(stranded)
    hint = NOT_OPTIMIZED_HINT if stranded and not parts else HINT
    return [Finding(rule=ID, severity=SEVERITY, message=message, layer=offenders[0], step=None, hint=hint,
                    evidence=evidence)]


def _not_optimized(record: "RunRecord") -> set[str]:
    meta = record.meta if isinstance(record.meta, dict) else {}
    names = meta.get("not_optimized")
    return {n for n in names if isinstance(n, str)} if isinstance(names, list) else set()


def _stranded_text(stranded: dict[str, float], record: "RunRecord", ratios: dict[str, float]) -> str:
    """'backbone.* receive gradients but no optimizer holds them: ...' (a subtree named once when all of it is)."""
    layers = list(dict.fromkeys([*ratios, *(layer.name for layer in record.layers)]))
    shown = collapsed(list(stranded), layers)
    names = ", ".join(shown[:SHOWN]) + (f" and {len(shown) - SHOWN} more" if len(shown) > SHOWN else "")
    verb, pronoun = ("receives", "it") if len(stranded) == 1 else ("receive", "them")
    return (f"{names} {verb} gradients but no optimizer holds {pronoun}: add {pronoun} to the optimizer, or set "
            f"requires_grad=False if {'it is' if pronoun == 'it' else 'they are'} meant to be frozen")


def collapsed(names: list[str], layers: list[str]) -> list[str]:
    """`names` (layers, in order) with each subtree whose layers are all among them, two at least, written once as
    'prefix.*' (its shortest such prefix): ['backbone.0', 'backbone.3'] of ['backbone.0', 'backbone.3', 'head'] ->
    ['backbone.*']."""
    chosen, out = set(names), []
    for name in names:
        parts, shown = name.split("."), name
        for cut in range(1, len(parts)):
            prefix = ".".join(parts[:cut]) + "."
            under = [layer for layer in layers if layer.startswith(prefix)]
            if len(under) > 1 and all(layer in chosen for layer in under):
                shown = prefix + "*"
                break
        if shown not in out:
            out.append(shown)
    return out


def _stalled(record: "RunRecord", ratios: dict[str, float], thresholds: Mapping[str, float]):
    """(optimizer, median ratio, loss change) when an adaptive optimizer's run stalled (see the module docstring)."""
    import statistics

    optimizer = _optimizer(record)
    if optimizer.lower() not in ADAPTIVE or not ratios:
        return None
    change = loss_change(record.losses, MIN_STEPS)
    median = statistics.median(ratios.values())
    if change is None or change < -threshold(thresholds, "loss_not_decreasing.min_drop"):
        return None
    return (optimizer, median, change) if median < threshold(thresholds, "update_ratio.stalled") else None


def _optimizer(record: "RunRecord") -> str:
    """The run's one optimizer kind ("adam", or a script's class name "AdamW"); "" when unknown or several."""
    meta = record.meta if isinstance(record.meta, dict) else {}
    name = meta.get("optimizer")
    return name if isinstance(name, str) and "," not in name else ""


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
