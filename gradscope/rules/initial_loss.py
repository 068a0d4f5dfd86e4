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
- regression: step-0 loss above initial_loss.factor x (E[y^2] + 1). Not the end against the target variance: a
  healthy MSE run still converging sits above it (a sigmoid autoencoder on sparse pixels halves its loss in 40
  steps and ends at 0.1 against a variance of 0.07), so "worse than predicting the mean" would be a false alarm.
The scale comes from record.meta ("classes", or "target_variance" and "target_second_moment"), which `inspect`
records for its built-in losses; a user's loss_fn or a watched script has none, and the rule stays silent.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Mapping

from gradscope.findings import Finding
from gradscope.rules._stats import natural_scale, threshold
from gradscope.settings import DEFAULT_THRESHOLDS

if TYPE_CHECKING:
    from gradscope.records import RunRecord

ID = "initial_loss"
SEVERITY = "warning"
MIN_STEPS = 10
DESCRIPTION = (f"the step-0 loss is above initial_loss.factor ({DEFAULT_THRESHOLDS['initial_loss.factor']:g}) x its "
               "natural scale (ln C for C classes, E[y^2] + 1 for MSE), or a classifier ends worse than chance")
HINT_START = "scale down the last layer's init (or the logits), and normalise the inputs and targets"
HINT = HINT_START  # the start's; a run that ends worse than chance gets HINT_END
HINT_END = "check the labels against the outputs and the loss, then the learning rate (try `gradscope sweep-lr`)"


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
    if end_name == "chance" and len(losses) >= MIN_STEPS and all(map(math.isfinite, tail)) and sum(tail) / k > end_scale:
        end = sum(tail) / k
        message = f"after {len(losses)} steps the loss is {end:.3g} (mean of the last {k}), worse than chance: {what}"
        return [Finding(rule=ID, severity=SEVERITY, message=message, hint=HINT_END, evidence={**evidence, "end": end})]
    return []
