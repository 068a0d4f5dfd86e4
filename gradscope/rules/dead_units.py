"""Rule `dead_units`: ReLU-family activations where most units output 0 for the whole batch ("dead" units).

A dead unit passes no gradient, so the weights feeding it stop learning, and it rarely comes back. The recorder
writes, per activation module and sampled step, the fraction of units that never fired on the batch
(``record.activations`` rows with kind "dead"). Per layer, the rule takes the median of that fraction over the last
half of the sampled steps: units die during training, a high learning rate kills them after a few steps, and early
transients should not count; the median ignores a single odd batch. A fraction is already scale-free.
Layer names are the activation modules (e.g. "net.3"), not the parameter layers. One finding per layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from gradscope.rules.finding import Finding
from gradscope.rules._stats import fraction_findings

if TYPE_CHECKING:
    from gradscope.table.record import RunRecord

ID = "dead_units"
SEVERITY = "warning"
# Defaults, overridable as thresholds '<rule>.<name>' (--threshold, config); the README documents each.
THRESHOLDS = {
    # Share of units after a ReLU-family activation that never fire on a batch.
    "fraction": 0.75,
}
KIND = "dead"
DESCRIPTION = (f"over the last half of the run, more than dead_units.fraction "
               f"({THRESHOLDS['fraction']:g}) of a ReLU's units never fire; they pass no gradient")
HINT = "use LeakyReLU/GELU, lower the learning rate, use He init, or normalise the inputs"


def check(record: "RunRecord", thresholds: Mapping[str, float]) -> list[Finding]:
    return fraction_findings(record, thresholds, rule=ID, severity=SEVERITY, kind=KIND, what="units were dead", hint=HINT)
