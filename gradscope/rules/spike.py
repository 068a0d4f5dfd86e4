"""Rule `spike`: a step whose loss or total gradient norm jumps far above its recent history (mean + k sigma).

Large-model trainers watch for this: one bad batch or an unstable step shows as a sudden jump that the run may or
may not recover from. For each series (the loss, and the global gradient norm clip_grad_norm_ sees), value t is a
spike when, against the WINDOW finite values before it,

    value > mean + spike.sigmas x std   and   value > SPIKE_FACTOR x mean

(the second condition keeps a nearly constant series, whose std is ~0, from firing on noise). A run shorter than
WINDOW + 1 steps has no history to judge and gets nothing. The finding names the first spike step and the layer
that moved first: the earliest layer, in the few steps up to the spike, whose own gradient norm jumped the same way
against its own window. A warning when the jump is at least WARN_FACTOR x the window's mean; smaller ones are info:
near convergence minibatch noise alone makes a small gradient norm jump 3-5x (measured on a healthy 1000-step SGD
regression), and a spike the run does not recover from shows as `divergence` anyway.
Runs of several models (GAN) are skipped, as in `divergence`.
"""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING, Mapping

from gradscope.rules.finding import Finding
from gradscope.rules._stats import layer_grads, several_models, threshold, total_grad_norms
from gradscope.table.numbers import sci

if TYPE_CHECKING:
    from gradscope.table.record import RunRecord

ID = "spike"
SEVERITY = "warning"
# Defaults, overridable as thresholds '<rule>.<name>' (--threshold, config); the README documents each.
THRESHOLDS = {
    # A loss or total gradient norm this many standard deviations above the mean of its last 20 steps.
    "sigmas": 6.0,
}
WINDOW = 20
SPIKE_FACTOR = 3.0
WARN_FACTOR = 10.0
LOOKBACK = 3  # steps before the spike searched for the layer that moved first
DESCRIPTION = (f"the loss or the total gradient norm jumps above the mean + spike.sigmas "
               f"({THRESHOLDS['sigmas']:g}) x std of its last {WINDOW} steps (and {SPIKE_FACTOR:g}x "
               f"their mean; a warning from {WARN_FACTOR:g}x); an unstable step")
HINT = "lower the learning rate or add warm-up, clip gradients, and look at the batch of that step"


def check(record: "RunRecord", thresholds: Mapping[str, float]) -> list[Finding]:
    if several_models(record):
        return []
    sigmas = threshold(thresholds, "spike.sigmas")
    losses = [(s, float(v)) for s, v in enumerate(record.losses) if v is not None and math.isfinite(v)]
    found = [(s, "loss", v, mean) for s, v, mean in _spikes(losses, sigmas)[:1]]
    found += [(s, "total gradient norm", v, mean) for s, v, mean in _spikes(total_grad_norms(record), sigmas)[:1]]
    if not found:
        return []
    step, what, value, mean = min(found)
    layer = _first_mover(record, step, sigmas)
    where = f"; {layer}'s gradient moved first" if layer else ""
    message = (f"at step {step} the {what} jumped to {sci(value)}, {value / mean:.3g}x the mean of the previous "
               f"{WINDOW} steps ({sci(mean)}){where}")
    severity = SEVERITY if value >= WARN_FACTOR * mean else "info"
    return [Finding(rule=ID, severity=severity, message=message, layer=layer, step=step, hint=HINT,
                    evidence={"series": what, "value": value, "window_mean": mean, "spikes": len(found)})]


def _spikes(series: list[tuple[int, float]], sigmas: float) -> list[tuple[int, float, float]]:
    """(step, value, window mean) of every spike in a (step, value) series, in step order."""
    out = []
    for i in range(WINDOW, len(series)):
        window = [v for _, v in series[i - WINDOW:i]]
        mean, std = statistics.fmean(window), statistics.pstdev(window)
        step, value = series[i]
        if value > mean + sigmas * std and value > SPIKE_FACTOR * mean and mean > 0:
            out.append((step, value, mean))
    return out


def _first_mover(record: "RunRecord", step: int, sigmas: float) -> str | None:
    """The layer whose own gradient norm spiked earliest in the LOOKBACK steps up to `step` (the bigger jump first
    on a tie), or None when no layer spiked on its own."""
    table = layer_grads(record)
    candidates = []  # (step of the layer's spike, -its jump, layer)
    for layer in table.columns:
        col = [(s, float(v)) for s, v in table[layer].items() if math.isfinite(v) and s <= step]
        spikes = [(s, value, mean) for s, value, mean in _spikes(col[-(WINDOW + LOOKBACK + 1):], sigmas)
                  if s >= step - LOOKBACK]
        if spikes:
            s, value, mean = spikes[0]
            candidates.append((s, -value / mean, str(layer)))
    return min(candidates)[2] if candidates else None
