"""Rule `divergence`: the loss went up, measured against step 0 and against its own running minimum.

Rules that read the first tenth of a run as its baseline miss a run that is already blown up by step 2 (a learning
rate 1000x too high: 3.5 -> 197 -> 3567). Step 0's loss is measured before any update, so it is the one reference
no update can have spoilt. With L0 the first finite loss (positive; a loss that can be negative, such as a
log-likelihood or a policy-gradient objective, has no scale to rise from, and the rule stays silent), two arms:

(a) Rise from step 0: some later loss is above divergence.rise x L0 and the run does not come back: the mean of its
    last k = max(1, n // 10) finite losses is still above that line, or the loss went NaN/Inf afterwards, or it
    exceeded divergence.rise ** 2 x L0 at some step (a blow-up that size is divergence even if it comes back).
(b) Rise from the running minimum: the run learned (its smoothed loss, a k-step rolling mean, reached a minimum m)
    and then gave more than half of it back, ending above divergence.rise x m (a run that diverged later).

(c) An early overshoot: in the first EARLY_STEPS steps the loss rose above divergence.early_rise x L0 while some
    layer's update was over exploding.update x its weights. Together they say the step size, not the gradient, is
    wrong (under Adam a step moves every weight by about the learning rate whatever the gradient): an LSTM at Adam
    lr 1.0 goes 6.2 -> 11.6 and recovers to a poor loss, below the 3x of (a).

Severity error: a rising loss is the root of most other symptoms (saturation, dead units, odd update ratios).
Runs of several models (a GAN's generator and discriminator, whose losses play against each other) are skipped:
their losses are not meant to fall. The step reported is the first step above the line in (a), the step of the
minimum in (b).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Mapping

from gradscope.rules.finding import Finding
from gradscope.rules._stats import early_update_ratios, several_models, threshold
from gradscope.table.numbers import sci

if TYPE_CHECKING:
    from gradscope.table.record import RunRecord

ID = "divergence"
SEVERITY = "error"
# Defaults, overridable as thresholds '<rule>.<name>' (--threshold, config); the README documents each.
THRESHOLDS = {
    # The loss rising this many times above its step-0 value (or its running minimum) and staying there.
    "rise": 3.0,
    # In the first 5 steps, a loss this many times its step-0 value while an update exceeds exploding.update.
    "early_rise": 1.5,
}
DESCRIPTION = (f"the loss rose above divergence.rise ({THRESHOLDS['rise']:g}) x its step-0 value "
               "and stayed there (or blew up), or gave back over half of what it learned; training diverged")
EARLY_STEPS = 5
HINT = "lower the learning rate (try `gradscope sweep-lr`), warm it up, or clip gradients"


def check(record: "RunRecord", thresholds: Mapping[str, float]) -> list[Finding]:
    rise = threshold(thresholds, "divergence.rise")
    steps = [(s, float(v)) for s, v in enumerate(record.losses) if v is not None]
    finite = [(s, v) for s, v in steps if math.isfinite(v)]
    if len(finite) < 2 or several_models(record) or finite[0][1] <= 0:
        return []
    early = (threshold(thresholds, "divergence.early_rise"), threshold(thresholds, "exploding.update"))
    found = _from_start(steps, finite, rise) or _from_minimum(finite, rise) or _overshoot(record, finite, *early)
    if found is None:
        return []
    message, step, evidence = found
    return [Finding(rule=ID, severity=SEVERITY, message=message, layer=None, step=step, hint=HINT, evidence=evidence)]


def _from_start(steps, finite, rise):
    start_step, start = finite[0]
    above = [(s, v) for s, v in finite[1:] if v > rise * start]
    if not above:
        return None
    k = max(1, len(finite) // 10)
    tail = sum(v for _, v in finite[-k:]) / k
    peak_step, peak = max(finite, key=lambda t: t[1])
    went_bad = any(not math.isfinite(v) for s, v in steps if s > above[0][0])
    if not (tail > rise * start or went_bad or peak > rise ** 2 * start):
        return None
    step, value = above[0]
    ending = ("then became NaN/Inf" if went_bad else f"ended at {tail:.3g}" + (f" (mean of the last {k} steps)" if k > 1 else ""))
    message = (f"the loss rose {value / start:.3g}x from step {start_step} by step {step} ({start:.3g} -> {value:.3g}), "
               f"peaked at {sci(peak)} at step {peak_step} and {ending}")
    return message, step, {"start": start, "first_above": value, "peak": peak, "peak_step": peak_step, "tail": tail,
                           "rise": value / start}


def _from_minimum(finite, rise):
    k = max(1, len(finite) // 10)
    values = [v for _, v in finite]
    smooth = [sum(values[i - k + 1:i + 1]) / k for i in range(k - 1, len(values))]
    low_at = min(range(len(smooth)), key=smooth.__getitem__)
    low, start, end = smooth[low_at], values[0], smooth[-1]
    if not (low > 0 and end > rise * low and end - low > 0.5 * (start - low)):
        return None
    step = finite[low_at + k - 1][0]
    message = (f"the loss fell to {low:.3g} (a {k}-step mean, at step {step}) and then rose {end / low:.3g}x to "
               f"{end:.3g} by the end, giving back {(end - low) / (start - low):.0%} of what it had learned")
    return message, step, {"start": start, "minimum": low, "minimum_step": step, "end": end, "rise": end / low}


def _overshoot(record, finite, early_rise, update_limit):
    start_step, start = finite[0]
    early = [(s, v) for s, v in finite[1:] if s < start_step + EARLY_STEPS and v > early_rise * start]
    updates = {k: v for k, v in early_update_ratios(record, EARLY_STEPS).items() if v[0] > update_limit}
    if not early or not updates:
        return None
    step, value = max(early, key=lambda t: t[1])
    layer, (ratio, at) = max(updates.items(), key=lambda kv: kv[1][0])
    message = (f"the loss rose {value / start:.3g}x from step {start_step} by step {step} ({start:.3g} -> {value:.3g}) "
               f"while the update of {layer} at step {at} was {sci(ratio)} x its weights: the steps overshoot")
    return message, step, {"start": start, "peak": value, "peak_step": step, "rise": value / start,
                           "update_ratio": ratio, "update_layer": layer}
