"""Rule `vanishing`: layers whose gradient is tiny compared with the layers downstream of them (nearer the output).

Evidence is scale-free and compares like with like. Each weight layer is summarised by its relative gradient: the
median over steps of its finite gradient norms over the median of its weight norms (raw norms grow with a layer's
size, so a wide decoder would dwarf a narrow layer for no reason). Embeddings (only the rows a batch touches get a
gradient) and normalisation layers (a few scale/shift weights) are neither judged nor used as a reference.
Layer i's ratio is its summary over the LARGEST summary among itself and every layer downstream of it (j >= i).
The ratio must be below the threshold with raw gradient norms too (`_stats.raw_grad_summaries`: a layer whose
weights are scaled up is not a fair reference for relative gradients); the message shows the relative one.
Gradients flow backward from the output, so a layer far below the largest gradient that feeds it has had the signal
shrunk on the way down (sigmoid/tanh saturation, poor init, too much depth). Comparing with the largest downstream
layer, not just the next one, catches a slow decay spread over many layers; including the layer itself makes the
ratio at most 1, so a net whose gradients grow toward the input can never fire here. Multiplying every gradient by
a constant (a different loss scale or learning rate) changes no ratio.

Skipped: layers with no finite gradient (nothing to summarise), and layers whose gradient is exactly 0 at every step
(reported by `unused`, not twice). One finding per run, at the input-most vanishing layer; evidence maps every
vanishing layer to its ratio.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Mapping

from gradscope.rules.finding import Finding
from gradscope.rules._stats import (
    layer_grads,
    plural,
    raw_grad_summaries,
    relative_grad_summaries,
    threshold,
    zero_layers,
)
from gradscope.table.numbers import sci

if TYPE_CHECKING:
    from gradscope.table.record import RunRecord

ID = "vanishing"
SEVERITY = "error"
# Defaults, overridable as thresholds '<rule>.<name>' (--threshold, config); the README documents each.
THRESHOLDS = {
    # A layer whose gradient is this many times smaller than the largest gradient downstream of it (nearer the output).
    "ratio": 1e-3,
}
DESCRIPTION = (f"a layer's relative gradient (||grad|| / ||weights||) is below vanishing.ratio "
               f"({THRESHOLDS['ratio']:g}) x the largest one downstream of it; the early layers barely learn")
HINT = ("swap sigmoid/tanh for ReLU, use He/Xavier init, add normalisation or residual connections "
        "(try `gradscope compare`)")


def check(record: "RunRecord", thresholds: Mapping[str, float]) -> list[Finding]:
    limit = threshold(thresholds, "vanishing.ratio")
    zero = zero_layers(layer_grads(record))
    summary = {k: v for k, v in relative_grad_summaries(record).items() if math.isfinite(v) and k not in zero}
    raw = {k: v for k, v in raw_grad_summaries(record).items() if k in summary}
    in_raw_too = _vanishing(raw, limit)
    vanishing = {k: v for k, v in _vanishing(summary, limit).items() if k in in_raw_too}
    if not vanishing:
        return []
    first = next(iter(vanishing))
    ratio, ref = vanishing[first]
    worst = min(vanishing, key=lambda n: vanishing[n][0])
    message = (f"{plural(len(vanishing), 'layer has', 'layers have')} vanishing gradients: {first}'s relative "
               f"gradient (||grad|| / ||weights||) is {sci(summary[first])}, {sci(ratio)} x that of {ref} "
               f"({sci(summary[ref])}); worst ratio {sci(vanishing[worst][0])} at {worst} (threshold {sci(limit)})")
    return [Finding(rule=ID, severity=SEVERITY, message=message, layer=first, step=None, hint=HINT,
                    evidence={name: float(r) for name, (r, _) in vanishing.items()})]


def _vanishing(summary: dict[str, float], limit: float) -> dict[str, tuple[float, str]]:
    """Layer -> (ratio, reference layer) for every layer of `summary` (forward order) below `limit`."""
    names = list(summary)
    out = {}
    for i, name in enumerate(names):
        ref = max(names[i:], key=lambda n: summary[n])  # the first of the largest, itself included
        if summary[ref] > 0 and summary[name] / summary[ref] < limit:
            out[name] = (summary[name] / summary[ref], ref)
    return out
