"""Rule `unused`: trainable parameters that never learn, because they never got a gradient or it was always 0.

Two cases, one finding per parameter: (1) ``has_grad`` was False at every recorded step: the parameter is not on the
path from the inputs to the loss (defined but not used in forward, or cut off by .detach() / torch.no_grad());
(2) it had a gradient but that gradient was exactly 0 at every step it had one: it is on the path but something
zeroes the signal (all units after it dead, a multiplication by 0, a constant branch). Exactly 0, not "small":
small is `vanishing`'s business, and exact zeros are the unambiguous signature of a cut graph. A NaN/Inf gradient is
neither case (it is `nonfinite`'s). Findings come in forward layer order, then table order within a layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from gradscope.rules.finding import Finding
from gradscope.rules._stats import plural

if TYPE_CHECKING:
    from gradscope.table.record import RunRecord

ID = "unused"
SEVERITY = "error"
DESCRIPTION = ("a trainable parameter never received a gradient, or it was exactly 0 at every step (no threshold); "
               "it never learns")
HINT = ("make sure forward uses the parameter and nothing detaches or zeroes its output; "
        "otherwise remove it or set requires_grad=False")


def check(record: "RunRecord", thresholds: Mapping[str, float]) -> list[Finding]:
    df = record.params
    if len(df) == 0:
        return []
    df = df.assign(has_grad=df["has_grad"].astype(bool), grad_norm=df["grad_norm"].astype(float))
    order = {layer.name: i for i, layer in enumerate(record.layers)}
    findings = []
    for (layer, param), rows in df.groupby(["layer", "param"], sort=False):
        steps, grads = rows["step"].nunique(), rows.loc[rows["has_grad"], "grad_norm"]
        if len(grads) == 0:
            text = f"{param} never received a gradient in {plural(steps, 'recorded step', 'recorded steps')}"
        elif (grads == 0).all():
            text = (f"{param} had a gradient of exactly 0 at all {plural(len(grads), 'step', 'steps')} it had one "
                    f"(of {steps} recorded)")
        else:
            continue
        findings.append((order.get(layer, len(order)), Finding(
            rule=ID, severity=SEVERITY, message=text, layer=str(layer), step=None, hint=HINT,
            evidence={"steps": int(steps), "steps_with_grad": int(rows["has_grad"].sum()),
                      "steps_with_zero_grad": int((grads == 0).sum())})))
    return [f for _, f in sorted(findings, key=lambda t: t[0])]
