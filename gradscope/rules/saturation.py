"""Rule `saturation`: sigmoid/tanh activations whose outputs sit at their bounds, where the derivative is ~0.

A saturated sigmoid or tanh passes almost no gradient (sigmoid' <= 0.25 everywhere and ~0 near 0 or 1), which is
the classic road to `vanishing`. The recorder writes, per activation module and sampled step, the fraction of outputs
within 1% of the bounds (``record.activations`` rows with kind "saturated"). Per layer, the rule takes the median over
the last half of the sampled steps (what training settled into, robust to an odd batch). One finding per layer.

The model's output activation is left out: a sigmoid that ends the net saturates because the targets are 0 and 1
(an autoencoder's pixels, a confident classifier), which is the fit, not a gradient problem. It is recognised as an
indexed child (e.g. "decoder.7") after the last indexed parameter layer of the same parent, that parameter layer
being the model's last (see `_stats.is_output_activation`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from gradscope.rules.finding import Finding
from gradscope.rules._stats import fraction_findings, is_output_activation

if TYPE_CHECKING:
    from gradscope.table.record import RunRecord

ID = "saturation"
SEVERITY = "warning"
# Defaults, overridable as thresholds '<rule>.<name>' (--threshold, config); the README documents each.
THRESHOLDS = {
    # Share of sigmoid/tanh outputs within 1% of their bounds.
    "fraction": 0.5,
}
KIND = "saturated"
DESCRIPTION = (f"over the last half of the run, more than saturation.fraction "
               f"({THRESHOLDS['fraction']:g}) of a sigmoid/tanh's outputs sit at its bounds, "
               "where its derivative is ~0")
HINT = "normalise the inputs, use Xavier init or a lower learning rate, add normalisation, or swap to ReLU"


def check(record: "RunRecord", thresholds: Mapping[str, float]) -> list[Finding]:
    findings = fraction_findings(record, thresholds, rule=ID, severity=SEVERITY, kind=KIND,
                                 what="outputs were saturated", hint=HINT)
    return [f for f in findings if not is_output_activation(record, f.layer)]
