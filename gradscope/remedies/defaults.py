"""The default remedies of `gradscope compare`: chosen from what the baseline run found, so each one tests a cure.

Rules, in order (the first that matches decides; at most four remedies, the baseline always runs first):
- vanishing or saturation, with sigmoid/tanh activations in the model: act:relu, init:he, act:relu+init:he
  (a ReLU alone still vanishes in a deep net under PyTorch's default init, which shrinks the signal per layer; the
  pair is the textbook cure), and norm:layer;
- vanishing otherwise: init:he, norm:layer, opt:adam;
- exploding or nonfinite: clip:1.0, lr:x0.1, and init:xavier when `exploding` fired (too large a weight scale is
  its usual cause; a loss on badly scaled targets, which re-initialising cannot fix, shows as nonfinite alone);
- dead_units: act:leaky_relu, lr:x0.1, init:he;
- loss_not_decreasing: lr:x10, opt:adam (opt:sgd when the run already uses Adam);
- otherwise (healthy, or findings no remedy targets): lr:x0.1, lr:x10, opt:adam (or opt:sgd).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from gradscope.remedies import parse_remedy
from gradscope.remedies.base import Remedy

if TYPE_CHECKING:
    from gradscope.findings import Finding

MAX_DEFAULTS = 4
SQUASHING = ("sigmoid", "tanh")


def default_remedies(findings: Iterable["Finding"], activations: set[str], optimizer: str) -> list[Remedy]:
    """The remedies to try for these baseline findings; `activations` are the kinds the model uses ("sigmoid" ...)."""
    rules = {f.rule for f in findings}
    other_optimizer = "opt:sgd" if optimizer in ("adam", "adamw") else "opt:adam"
    if rules & {"vanishing", "saturation"} and activations & set(SQUASHING):
        ids = ["act:relu", "init:he", "act:relu+init:he", "norm:layer"]
    elif "vanishing" in rules:
        ids = ["init:he", "norm:layer", other_optimizer]
    elif rules & {"exploding", "nonfinite"}:
        ids = ["clip:1.0", "lr:x0.1"] + (["init:xavier"] if "exploding" in rules else [])
    elif "dead_units" in rules:
        ids = ["act:leaky_relu", "lr:x0.1", "init:he"]
    elif "loss_not_decreasing" in rules:
        ids = ["lr:x10", other_optimizer]
    else:
        ids = ["lr:x0.1", "lr:x10", other_optimizer]
    return [parse_remedy(i) for i in ids[:MAX_DEFAULTS]]
