"""Rule `exploding`: gradients that grow toward the input (depth), grow over the run (time), or steps bigger than the weights.

Three scale-free pieces of evidence; one finding if any holds.

(a) Depth. Each weight layer is summarised by its relative gradient, median ||grad|| over median ||weights|| (raw
norms grow with size; embeddings and normalisation layers are left out, see `_stats.comparable_layers`, so a tiny
LayerNorm is never the reference). Layer i's ratio is its summary over the SMALLEST positive summary strictly
downstream of it (j > i, nearer the output): a layer thousands of times larger than something that feeds it has had
its gradient amplified on the way down. A net whose gradients only shrink toward the input cannot fire here. The
ratio must exceed the threshold with raw gradient norms too (`_stats.raw_grad_summaries`): an output layer scaled
up 50x has a tiny relative gradient and would make every layer below it look exploding.

(b) Time. The global gradient norm (the one clip_grad_norm_ sees), over steps where every gradient was finite: its
peak over the run divided by its value at the first such step, which is measured before any update (a run that is
already blown up by its second step would hide in a baseline taken over the first tenth). Skipped when that
baseline is 0. Also noted (evidence "grew_before_loss", the step): the norm passed GROWTH_FIRST x its baseline
at least EARLY_STEPS steps in, while the loss (the median of those last EARLY_STEPS steps) was still at or below
step 0's. A step size too large raises the loss at once; gradients that
swell while the loss holds are inflated by something else (a forgotten zero_grad()), and causes.py ranks this
evidence before `divergence`.

(c) Step size. In the first EARLY_STEPS steps, a layer whose update is exploding.update x larger than its own
weights: the optimizer throws the weights away each step. In a linear chain every layer's gradient is equal, so (a)
is blind there, and a run that overflows at step 1 leaves (b) nothing to compare; this is where it shows.

(d) Loss scale. A step-0 loss above exploding.loss x its natural scale (ln C for C classes, E[y^2] for MSE; read
from meta, see `initial_loss`): outputs thousands of times off their scale before any update are an exploding
forward pass, even where every gradient ratio is flat.

Multiplying every gradient by a constant changes no ratio. The finding's layer is the input-most exploding layer
from (a), else the layer of (c); its step is the peak step from (b), else the step of (c).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Mapping

from gradscope.rules.finding import Finding
from gradscope.rules._stats import (
    early_update_ratios,
    natural_scale,
    plural,
    raw_grad_summaries,
    relative_grad_summaries,
    threshold,
    total_grad_norms,
)
from gradscope.table.numbers import sci

if TYPE_CHECKING:
    from gradscope.table.record import RunRecord

ID = "exploding"
SEVERITY = "error"
# Defaults, overridable as thresholds '<rule>.<name>' (--threshold, config); the README documents each.
THRESHOLDS = {
    # A layer whose gradient is this many times larger than the smallest gradient downstream of it.
    "ratio": 1e3,
    # The total gradient norm growing by this factor from its first step to its peak.
    "growth": 1e3,
    # An update this many times larger than the layer's weights in the first steps.
    "update": 3.0,
    # A step-0 loss this many times its natural scale (ln C for C classes; E[y^2] for MSE).
    "loss": 1e3,
}
DESCRIPTION = (f"a layer's median gradient norm is above exploding.ratio ({THRESHOLDS['ratio']:g}) "
               f"x the smallest downstream, or the total norm grows exploding.growth "
               f"({THRESHOLDS['growth']:g}) x from step 0, or an early update is "
               f"exploding.update ({THRESHOLDS['update']:g}) x the weights, or the step-0 loss "
               f"exploding.loss ({THRESHOLDS['loss']:g}) x its natural scale; training diverges")
HINT = "clip gradients (clip_grad_norm_), lower the learning rate, or add normalisation (try `gradscope compare`)"
CLIPPED_HINT = ("the run already clips gradients (at {clip}), which does not bound this: lower the learning rate or "
                "the init scale, or add normalisation (try `gradscope compare`)")
EARLY_STEPS = 5
GROWTH_FIRST = 4.0  # (10 missed the accumulated gradient under momentum, whose loss turns up by then)
# the total gradient norm this many times its step-0 value, the loss not yet above step 0's


def check(record: "RunRecord", thresholds: Mapping[str, float]) -> list[Finding]:
    depth = _depth(record, threshold(thresholds, "exploding.ratio"))
    time = _time(record, threshold(thresholds, "exploding.growth"))
    step = _step_size(record, threshold(thresholds, "exploding.update"))
    loss = _loss_scale(record, threshold(thresholds, "exploding.loss"))
    if not depth and not time and not step and not loss:
        return []
    parts, evidence = [], {}
    if depth:
        parts.append(depth["text"])
        evidence.update(depth_ratio=depth["ratio"], depth_worst=depth["worst"], depth_layers=depth["count"])
    if time:
        parts.append(time["text"])
        evidence.update(growth=time["growth"], peak=time["peak"], baseline=time["baseline"], peak_step=time["step"])
        if time["grew_before_loss"] is not None:
            evidence.update(grew_before_loss=time["grew_before_loss"])
    if step:
        parts.append(step["text"])
        evidence.update(update_ratio=step["ratio"], update_layer=step["layer"], update_step=step["step"])
    if loss:
        parts.append(loss["text"])
        evidence.update(start_loss=loss["start"], loss_scale=loss["scale"])
    clip = record.meta.get("clip") if isinstance(record.meta, dict) else None
    hint = CLIPPED_HINT.format(clip=clip) if clip else HINT
    layer = depth["layer"] if depth else (step["layer"] if step else None)
    at = time["step"] if time else (step["step"] if step else (0 if loss else None))
    return [Finding(rule=ID, severity=SEVERITY, message="; and ".join(parts), hint=hint, evidence=evidence,
                    layer=layer, step=at)]


def _depth(record: "RunRecord", limit: float) -> dict | None:
    summary = {k: v for k, v in relative_grad_summaries(record).items() if math.isfinite(v)}
    raw = {k: v for k, v in raw_grad_summaries(record).items() if k in summary}
    in_raw_too = _exploding(raw, limit)
    exploding = {k: v for k, v in _exploding(summary, limit).items() if k in in_raw_too}
    if not exploding:
        return None
    first = next(iter(exploding))
    ratio, ref = exploding[first]
    worst = max(r for r, _ in exploding.values())
    text = (f"{plural(len(exploding), 'layer has', 'layers have')} exploding gradients: {first}'s relative gradient "
            f"(||grad|| / ||weights||) is {sci(summary[first])}, {sci(ratio)} x that of {ref} ({sci(summary[ref])}) "
            f"downstream; worst ratio {sci(worst)} (threshold {sci(limit)})")
    return {"layer": first, "ratio": float(ratio), "worst": float(worst), "count": len(exploding), "text": text}


def _exploding(summary: dict[str, float], limit: float) -> dict[str, tuple[float, str]]:
    """Layer -> (ratio, reference layer) for every layer of `summary` (forward order) above `limit`."""
    names = list(summary)
    out = {}
    for i, name in enumerate(names):
        downstream = [n for n in names[i + 1:] if summary[n] > 0]
        if downstream:
            ref = min(downstream, key=lambda n: summary[n])
            if summary[name] / summary[ref] > limit:
                out[name] = (summary[name] / summary[ref], ref)
    return out


def _time(record: "RunRecord", limit: float) -> dict | None:
    totals = total_grad_norms(record)
    if not totals:
        return None
    first_step, baseline = totals[0]
    step, peak = max(totals, key=lambda t: t[1])  # the first step reaching the peak
    if baseline <= 0 or peak / baseline <= limit:
        return None
    growth = peak / baseline
    text = (f"the total gradient norm grew {sci(growth)} x, from {sci(baseline)} at step {first_step} to {sci(peak)} "
            f"at step {step} (threshold {sci(limit)})")
    early = _grew_before_loss(record, totals)
    if early is not None:
        text += (f"; it was {GROWTH_FIRST:g} x by step {early}, while the loss was still at or below step "
                 f"{first_step}'s: the gradients swell on their own (are they cleared with zero_grad() every step?)")
    return {"step": int(step), "growth": float(growth), "peak": float(peak), "baseline": float(baseline), "text": text,
            "grew_before_loss": early}


def _grew_before_loss(record: "RunRecord", totals: list[tuple[int, float]]) -> int | None:
    """The first step whose total norm is GROWTH_FIRST x the first one's, if that is at least EARLY_STEPS steps in
    (a swelling, not one overshooting step) and the median loss of its last EARLY_STEPS steps (one noisy batch is no
    trend) is not above the first step's loss; else None."""
    import statistics

    losses = [math.nan if v is None else float(v) for v in record.losses]
    first_step, baseline = totals[0]
    start = losses[first_step] if first_step < len(losses) else math.nan
    crossing = next((step for step, total in totals if total > GROWTH_FIRST * baseline), None)
    if crossing is None or crossing < first_step + EARLY_STEPS or not math.isfinite(start):
        return None
    recent = [v for v in losses[crossing - EARLY_STEPS + 1:crossing + 1] if math.isfinite(v)]
    return crossing if recent and statistics.median(recent) <= start else None


def _step_size(record: "RunRecord", limit: float) -> dict | None:
    ratios = {k: v for k, v in early_update_ratios(record, EARLY_STEPS).items() if v[0] > limit}
    if not ratios:
        return None
    layer = next(iter(ratios))  # input-most
    ratio, step = ratios[layer]
    text = (f"at step {step} the update of {layer} was {sci(ratio)} x its weights' norm "
            f"({plural(len(ratios), 'layer', 'layers')} above {sci(limit)} in the first {EARLY_STEPS} steps)")
    return {"layer": layer, "ratio": float(ratio), "step": int(step), "text": text}


def _loss_scale(record: "RunRecord", limit: float) -> dict | None:
    scale = natural_scale(record.meta if isinstance(record.meta, dict) else {})
    first = next((float(v) for v in record.losses if v is not None), None)
    if scale is None or first is None or not math.isfinite(first) or first <= limit * scale[1]:
        return None
    text = (f"the step-0 loss is {sci(first)}, {sci(first / scale[1])} x its natural scale {scale[0]} "
            f"(threshold {sci(limit)})")
    return {"start": first, "scale": scale[1], "text": text}
