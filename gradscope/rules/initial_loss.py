"""Rule `initial_loss`: the loss at step 0 and at the end, against the loss's natural scale (chance, target variance).

Before any update a classifier should be near chance: cross-entropy over C classes starts at about ln C when its
logits are small (uniform predictions). A step-0 loss far above that means the logits are far too large at init (a
last layer scaled up, a missing softmax temperature, unnormalised inputs): the first steps go to shrinking them.
For MSE, predicting 0 costs the targets' second moment E[y^2] and predicting their mean costs their variance; an
untrained net's outputs add their own variance, up to ~1, so a step-0 loss far above E[y^2] + 1 means the outputs
are far off the targets' scale.

Fires (warning, one finding per run, the numbers in the message):
- classification: step-0 loss above initial_loss.factor x ln C; or, with at least MIN_STEPS steps, the mean of the
  last k = max(1, n // 10) losses still above ln C (the model ends worse than guessing);
- regression: step-0 loss above initial_loss.factor x (E[y^2] + 1); or, with at least MIN_STEPS steps, the mean
  of the last k losses above initial_loss.end_factor x Var(y), the loss of predicting the mean target: the model
  ends far worse than a constant (a sigmoid output that cannot reach targets around 50 ends ~80x above it). The
  margin is wide on purpose: a healthy MSE run still converging sits just above Var(y) (a sigmoid autoencoder on
  sparse pixels ends at 0.1 against 0.07, 1.4x), and "above Var(y)" alone was a false alarm (commit 1afa66c).
  Only where Var(y) is meaningful: at least MEANINGFUL_VARIANCE x E[y^2] (near-constant targets make any small
  offset look many times worse than their mean).
The scale comes from record.meta ("classes", or "target_variance" and "target_second_moment"), which `inspect`
records for its built-in losses; a user's loss_fn or a watched script has none, and the rule stays silent.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Mapping

from gradscope.rules.finding import Finding
from gradscope.rules._stats import natural_scale, threshold

if TYPE_CHECKING:
    from gradscope.table.record import RunRecord

ID = "initial_loss"
SEVERITY = "warning"
# Defaults, overridable as thresholds '<rule>.<name>' (--threshold, config); the README documents each.
THRESHOLDS = {
    # A step-0 loss this many times its natural scale (ln C for C classes; E[y^2] for MSE).
    "factor": 3.0,
    # A regression ending above this many times Var(y) (what predicting the mean target would give).
    "end_factor": 10.0,
    # A classifier ending above this many times ln C: one that learned nothing sits at ln C give or take the batch
    # noise (a deep sigmoid net ends 1% above it), one whose logits are off scale sits well above.
    "chance_margin": 1.1,
}
MIN_STEPS = 10
MEANINGFUL_VARIANCE = 1e-3  # Var(y) / E[y^2] below this: the targets are a constant, their variance no yardstick
DESCRIPTION = (f"the step-0 loss is above initial_loss.factor ({THRESHOLDS['factor']:g}) x its "
               "natural scale (ln C for C classes, E[y^2] + 1 for MSE), or a classifier ends above "
               f"initial_loss.chance_margin ({THRESHOLDS['chance_margin']:g}) x ln C, or a "
               "regression above initial_loss.end_factor x Var(y)")
HINT_START = "scale down the last layer's init (or the logits), and normalise the inputs and targets"
HINT = HINT_START  # the start's; a run that ends worse than chance gets HINT_END
HINT_END = "check the labels against the outputs and the loss, then the learning rate (try `gradscope sweep-lr`)"
HINT_REGRESSION_END = ("check the output layer's range against the targets (a sigmoid/tanh output bounds it), "
                       "standardise the targets, then the learning rate")


def check(record: "RunRecord", thresholds: Mapping[str, float]) -> list[Finding]:
    scale = natural_scale(record.meta if isinstance(record.meta, dict) else {})
    losses = [float(v) for v in record.losses if v is not None]
    if scale is None or not losses or not math.isfinite(losses[0]):
        return []
    what, start_scale, end_scale, end_name = scale
    factor = threshold(thresholds, "initial_loss.factor")
    evidence = {"start": losses[0], "scale": start_scale}
    if losses[0] > factor * start_scale:
        message = (f"the step-0 loss is {losses[0]:.3g}, {losses[0] / start_scale:.3g}x its natural scale {what} "
                   f"(threshold {factor:g}x): the outputs are far off the targets' scale at init")
        return [Finding(rule=ID, severity=SEVERITY, message=message, hint=HINT_START, evidence=evidence)]
    k = max(1, len(losses) // 10)
    tail = losses[-k:]
    if len(losses) < MIN_STEPS or not all(map(math.isfinite, tail)):
        return []
    end = sum(tail) / k
    if end_name == "chance" and end > threshold(thresholds, "initial_loss.chance_margin") * end_scale:
        message = f"after {len(losses)} steps the loss is {end:.3g} (mean of the last {k}), worse than chance: {what}"
        return [Finding(rule=ID, severity=SEVERITY, message=message, hint=HINT_END, evidence={**evidence, "end": end})]
    end_factor = threshold(thresholds, "initial_loss.end_factor")
    if end_name != "chance" and _meaningful(record.meta) and end > end_factor * end_scale:
        message = (f"after {len(losses)} steps the loss is {end:.3g} (mean of the last {k}), {end / end_scale:.3g}x "
                   f"what {end_name} would give (threshold {end_factor:g}x): the outputs cannot reach the targets")
        return [Finding(rule=ID, severity=SEVERITY, message=message, hint=HINT_REGRESSION_END,
                        evidence={**evidence, "end": end, "end_scale": end_scale})]
    return []


def _meaningful(meta: dict) -> bool:
    return meta["target_variance"] >= MEANINGFUL_VARIANCE * meta["target_second_moment"]
