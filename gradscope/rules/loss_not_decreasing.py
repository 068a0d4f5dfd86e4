"""Rule `loss_not_decreasing`: the loss at the end of the run is not clearly below the loss at its start.

With n finite losses and k = max(1, n // 10), compare the mean of the first k with the
mean of the last k: averaging a tenth of the run at each end smooths minibatch noise, and a relative drop is
scale-free (the same for a loss multiplied by 1000). The rule fires when

    last > first - min_drop * |first|

which for a positive first loss (the usual case: MSE, cross-entropy) is last > first * (1 - min_drop), i.e. the
loss fell by less than min_drop of its starting value. For first <= 0 (a negative log-likelihood can be negative)
"x% of first" would flip sign, so the drop is measured against |first| instead; with first == 0 the loss already
sat at its floor and only a rise fires. If any loss is NaN/Inf the rule stays silent: `nonfinite` reports that, and
a trend through a NaN means nothing.

Enough evidence: with fewer than MIN_STEPS losses a flat stretch is as likely noise or warm-up as a fault, so a run
that short which did not fall gets an info finding ("too few steps to judge"), never a warning. A run of several
models or optimizers playing against each other (a GAN: the generator's loss is not meant to fall) gets nothing.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Mapping

from gradscope.rules.finding import Finding
from gradscope.rules._stats import several_models, tenth_means, threshold

if TYPE_CHECKING:
    from gradscope.table.record import RunRecord

ID = "loss_not_decreasing"
SEVERITY = "warning"
# Defaults, overridable as thresholds '<rule>.<name>' (--threshold, config); the README documents each.
THRESHOLDS = {
    # The loss must fall by at least this fraction from the first to the last tenth of the run.
    "min_drop": 0.01,
}
MIN_STEPS = 10
DESCRIPTION = (f"the mean loss over the last tenth of the run is not loss_not_decreasing.min_drop "
               f"({THRESHOLDS['min_drop']:g}) below that over the first tenth; "
               "the model is not learning")
HINT = ("raise the learning rate (try `gradscope sweep-lr`), check that targets and loss match the outputs, "
        "or train longer")


def check(record: "RunRecord", thresholds: Mapping[str, float]) -> list[Finding]:
    min_drop = threshold(thresholds, "loss_not_decreasing.min_drop")
    losses = [float(v) for v in record.losses if v is not None]  # None: no loss was seen at that step
    n = len(losses)
    if n < 2 or not all(math.isfinite(v) for v in losses) or several_models(record):
        return []
    first, last, k = tenth_means(losses)
    if not last > first - min_drop * abs(first):
        return []
    if n < MIN_STEPS:
        return [Finding(rule=ID, severity="info", layer=None, step=None, hint="run at least 10 steps (--steps)",
                        message=f"too few steps to judge the loss trend: {n} losses (at least {MIN_STEPS} needed)",
                        evidence={"steps": n, "min_steps": MIN_STEPS})]
    change = (last - first) / abs(first) if first != 0 else math.nan
    shown = f" ({change:+.1%})" if first != 0 else ""
    ends = "the first and last step" if k == 1 else f"means of the first and last {k} steps"
    message = (f"loss went from {first:.3g} to {last:.3g}{shown} over {n} steps ({ends}), "
               f"less than the {min_drop:.1%} drop expected")
    return [Finding(rule=ID, severity=SEVERITY, message=message, layer=None, step=None, hint=HINT,
                    evidence={"first": first, "last": last, "change": change, "window": k, "steps": n})]
