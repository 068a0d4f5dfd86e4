"""Rule `nonfinite`: the first step at which the loss or any gradient became NaN or Inf.

One finding per run, because after the first NaN/Inf everything downstream of it is poisoned and later occurrences
add nothing. The step is the earliest step at which either the loss (``record.losses``) or a gradient that exists
(``has_grad`` True) is non-finite; ``record.nonfinite`` (the recorder's first occurrences) is merged in too, but the
rule derives everything from params and losses, so hand-built tables work without it.

Which layer: among the parameters with non-finite gradients at that step, the one whose layer is nearest the OUTPUT
(last in ``record.layers``). Backward starts at the output, and a NaN/Inf produced there reaches every layer
upstream of it within the same backward pass, so the output-most bad layer is the earliest place the problem can be
seen. When only the loss is non-finite (no gradient was), layer is None: the fault is in the loss or forward pass.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Mapping

from gradscope.rules.finding import Finding
from gradscope.rules._stats import bad_grads, plural
from gradscope.table.numbers import sci

if TYPE_CHECKING:
    from gradscope.table.record import RunRecord

ID = "nonfinite"
SEVERITY = "error"
DESCRIPTION = "the loss or a gradient became NaN/Inf (no threshold); every later update is garbage"
HINT = "lower the learning rate or clip gradients, and look for log(0), x/0 or sqrt(x<0) in the model and loss"
SHOWN = 3  # parameters named in the message; the evidence holds them all


def check(record: "RunRecord", thresholds: Mapping[str, float]) -> list[Finding]:
    events = _events(record)  # (step, where, layer, value); where is "loss" or a parameter name
    if not events:
        return []
    step = min(e[0] for e in events)
    loss = next((e[3] for e in events if e[0] == step and e[1] == "loss"), None)
    order = {layer.name: i for i, layer in enumerate(record.layers)}
    params = [e for e in events if e[0] == step and e[1] != "loss"]
    params.sort(key=lambda e: -order.get(e[2], -1))  # stable: output-most layer first, table order within it
    evidence = {"loss": loss} if loss is not None else {}
    evidence.update({e[1]: e[3] for e in params})
    return [Finding(rule=ID, severity=SEVERITY, message=_message(step, loss, params), step=step, hint=HINT,
                    layer=params[0][2] if params else None, evidence=evidence)]


def _events(record: "RunRecord") -> list[tuple[int, str, str | None, float]]:
    events = [(s, "loss", None, float(v)) for s, v in enumerate(record.losses) if v is not None and not math.isfinite(v)][:1]
    bad = bad_grads(record)
    events += [(int(s), str(p), str(lay), float(v))
               for s, p, lay, v in zip(bad["step"], bad["param"], bad["layer"], bad["grad_norm"])]
    seen = {(e[0], e[1]) for e in events}
    recorded = record.nonfinite if record.nonfinite is not None else ()
    for row in (recorded.itertuples(index=False) if len(recorded) else ()):
        key = (int(row.step), str(row.where))
        if key not in seen:
            layer = None if row.where == "loss" or not isinstance(row.layer, str) else row.layer
            events.append((*key, layer, float(row.value)))
            seen.add(key)
    return events


def _message(step: int, loss: float | None, params: list) -> str:
    names = ", ".join(f"{e[1]} ({sci(e[3])})" for e in params[:SHOWN]) + (", ..." if len(params) > SHOWN else "")
    grads = f"{plural(len(params), 'parameter', 'parameters')} had non-finite gradients, nearest the output {names}"
    if loss is not None and params:
        return f"at step {step} the loss was {sci(loss)} and {grads}"
    if loss is not None:
        return f"at step {step} the loss was {sci(loss)} while every gradient was still finite"
    return f"at step {step} the loss was finite but {grads}"
