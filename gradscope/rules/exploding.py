"""Rule `exploding`: gradients that grow toward the input (depth) or grow over the run (time).

Two scale-free pieces of evidence; one finding if either holds.

(a) Depth. Each layer is summarised by the median over steps of its finite gradient norms. Layer i's ratio is its
summary over the SMALLEST positive summary strictly downstream of it (j > i, nearer the output). Backward runs from
the output, so a layer thousands of times larger than something that feeds it has had its gradient amplified on the
way down (large weights, too high a gain, no normalisation). The mirror image of `vanishing`: a net whose gradients
only shrink toward the input has every ratio <= 1 and cannot fire here.

(b) Time. The global gradient norm (the one clip_grad_norm_ sees), over steps where every gradient was finite:
its peak over the run divided by the median of the first max(1, n // 10) such steps. A run that starts healthy and
then blows up shows here even when every layer grows together (which (a) cannot see). Skipped when the
baseline is 0 (a run that starts with no gradient at all has no scale to grow from).

Multiplying every gradient by a constant changes neither ratio. The finding's layer is the input-most exploding layer
from (a), or None; its step is the peak step from (b), or None.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Mapping

from gradscope.findings import Finding
from gradscope.rules._stats import fmt, layer_grads, layer_summaries, plural, threshold, total_grad_norms
from gradscope.settings import DEFAULT_THRESHOLDS

if TYPE_CHECKING:
    from gradscope.records import RunRecord

ID = "exploding"
SEVERITY = "error"
DESCRIPTION = (f"a layer's median gradient norm is above exploding.ratio ({DEFAULT_THRESHOLDS['exploding.ratio']:g}) "
               f"x the smallest downstream, or the total norm grows exploding.growth "
               f"({DEFAULT_THRESHOLDS['exploding.growth']:g}) x over the run; updates overshoot and training diverges")
HINT = "clip gradients (clip_grad_norm_), lower the learning rate, or add normalisation (try `gradscope compare`)"


def check(record: "RunRecord", thresholds: Mapping[str, float]) -> list[Finding]:
    depth = _depth(record, threshold(thresholds, "exploding.ratio"))
    time = _time(record, threshold(thresholds, "exploding.growth"))
    if not depth and not time:
        return []
    parts, evidence = [], {}
    if depth:
        parts.append(depth["text"])
        evidence.update(depth_ratio=depth["ratio"], depth_worst=depth["worst"], depth_layers=depth["count"])
    if time:
        parts.append(time["text"])
        evidence.update(growth=time["growth"], peak=time["peak"], baseline=time["baseline"], peak_step=time["step"])
    return [Finding(rule=ID, severity=SEVERITY, message="; and ".join(parts), hint=HINT, evidence=evidence,
                    layer=depth["layer"] if depth else None, step=time["step"] if time else None)]


def _depth(record: "RunRecord", limit: float) -> dict | None:
    summary = {k: v for k, v in layer_summaries(layer_grads(record)).items() if math.isfinite(v)}
    names = list(summary)
    exploding: dict[str, tuple[float, str]] = {}
    for i, name in enumerate(names):
        downstream = [n for n in names[i + 1:] if summary[n] > 0]
        if downstream:
            ref = min(downstream, key=lambda n: summary[n])
            if summary[name] / summary[ref] > limit:
                exploding[name] = (summary[name] / summary[ref], ref)
    if not exploding:
        return None
    first = next(iter(exploding))
    ratio, ref = exploding[first]
    worst = max(r for r, _ in exploding.values())
    text = (f"{plural(len(exploding), 'layer has', 'layers have')} exploding gradients: {first}'s median gradient norm "
            f"is {fmt(summary[first])}, {fmt(ratio)} x that of {ref} ({fmt(summary[ref])}) downstream; worst ratio "
            f"{fmt(worst)} (threshold {fmt(limit)})")
    return {"layer": first, "ratio": float(ratio), "worst": float(worst), "count": len(exploding), "text": text}


def _time(record: "RunRecord", limit: float) -> dict | None:
    totals = total_grad_norms(record)
    if not totals:
        return None
    k = max(1, len(totals) // 10)
    baseline = sorted(v for _, v in totals[:k])
    baseline = (baseline[(k - 1) // 2] + baseline[k // 2]) / 2  # the median of the first k
    step, peak = max(totals, key=lambda t: t[1])  # the first step reaching the peak
    if baseline <= 0 or peak / baseline <= limit:
        return None
    growth = peak / baseline
    text = (f"the total gradient norm grew {fmt(growth)} x, from a median of {fmt(baseline)} over the first "
            f"{plural(k, 'step', 'steps')} to {fmt(peak)} at step {step} (threshold {fmt(limit)})")
    return {"step": int(step), "growth": float(growth), "peak": float(peak), "baseline": float(baseline), "text": text}
