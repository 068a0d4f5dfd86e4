"""The default remedies of `gradscope compare`: chosen from the baseline's root cause, so each one tests a cure.

The root cause is the baseline's first error or warning finding (the rules put it first, its symptoms under it as
info; see rules/causes.py). Remedies per root cause, in order (at most four; the baseline always runs first):
- divergence (the loss rose from step 0), or nonfinite alone: lr:x0.1, lr:x0.01, lr:x0.001, clip:1.0. A learning
  rate 1000x too high needs the 1000x cut; clipping bounds the gradient, not the step size, so it comes last;
- exploding: clip:1.0, lr:x0.1, init:xavier (too large a weight scale is its usual cause), lr:x0.01;
- vanishing or saturation, with sigmoid/tanh activations in the model: act:relu, init:he, act:relu+init:he
  (a ReLU alone still vanishes in a deep net under PyTorch's default init, which shrinks the signal per layer; the
  pair is the textbook cure), and norm:layer;
- vanishing otherwise: init:he, norm:layer, opt:adam (opt:sgd when the run already uses Adam);
- dead_units: init:he (it also zeroes the biases, which is what revives units killed by a large negative bias),
  act:leaky_relu, lr:x0.1;
- spike: lr:x0.1, clip:1.0;
- update_ratio with layers below the healthy ~1e-3 (frozen: a learning rate far too low, or clipping far too tight):
  lr:x10, lr:x100, the optimizer's customary learning rate (lr:0.001 for Adam/AdamW, lr:0.1 for SGD: a rate 1e4x
  too low is beyond any factor worth listing), and opt:adam (or opt:sgd); with layers above it: lr:x0.1, lr:x0.01,
  clip:1.0;
- initial_loss on the step-0 loss (outputs off their scale at init): init:xavier, init:he (both redraw every
  Linear/Conv weight at a variance-preserving scale), lr:x0.1;
- loss_not_decreasing: lr:x10, opt:adam (or opt:sgd), lr:x100;
- otherwise (healthy, or a root cause no remedy targets, such as `unused`): lr:x0.1, lr:x10, opt:adam (or opt:sgd).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from gradscope.remedies import parse_remedy
from gradscope.remedies.base import Remedy

if TYPE_CHECKING:
    from gradscope.findings import Finding

MAX_DEFAULTS = 4
SQUASHING = ("sigmoid", "tanh")
SHOWN = ("error", "warning")
HEALTHY_UPDATE_RATIO = 1e-3


def root_cause(findings: Iterable["Finding"]) -> str | None:
    """The rule id of the first error or warning finding (the diagnosis orders them root cause first), or None."""
    findings = list(findings)
    for severity in SHOWN:
        rule = next((f.rule for f in findings if f.severity == severity), None)
        if rule is not None:
            return rule
    return None


def default_remedies(findings: Iterable["Finding"], activations: set[str], optimizer: str) -> list[Remedy]:
    """The remedies to try for these baseline findings; `activations` are the kinds the model uses ("sigmoid" ...)."""
    findings = list(findings)
    root = root_cause(findings)
    other_optimizer = "opt:sgd" if optimizer in ("adam", "adamw") else "opt:adam"
    if root in ("divergence", "nonfinite"):
        ids = ["lr:x0.1", "lr:x0.01", "lr:x0.001", "clip:1.0"]
    elif root == "exploding":
        ids = ["clip:1.0", "lr:x0.1", "init:xavier", "lr:x0.01"]
    elif root in ("vanishing", "saturation") and activations & set(SQUASHING):
        ids = ["act:relu", "init:he", "act:relu+init:he", "norm:layer"]
    elif root == "vanishing":
        ids = ["init:he", "norm:layer", other_optimizer]
    elif root == "dead_units":
        ids = ["init:he", "act:leaky_relu", "lr:x0.1"]
    elif root == "update_ratio":
        customary = "lr:0.001" if optimizer in ("adam", "adamw") else "lr:0.1"
        ids = (["lr:x10", "lr:x100", customary, other_optimizer] if _frozen(findings)
               else ["lr:x0.1", "lr:x0.01", "clip:1.0"])
    elif root == "initial_loss" and _at_step_0(findings):
        ids = ["init:xavier", "init:he", "lr:x0.1"]
    elif root == "spike":
        ids = ["lr:x0.1", "clip:1.0"]
    elif root == "loss_not_decreasing":
        ids = ["lr:x10", other_optimizer, "lr:x100"]
    else:
        ids = ["lr:x0.1", "lr:x10", other_optimizer]
    return [parse_remedy(i) for i in ids[:MAX_DEFAULTS]]


def _frozen(findings: list["Finding"]) -> bool:
    """True when update_ratio's first finding names a layer below the healthy ~1e-3 (its evidence: layer -> ratio)."""
    ratios = next((f.evidence for f in findings if f.rule == "update_ratio"), {})
    return any(isinstance(v, float) and v < HEALTHY_UPDATE_RATIO for v in ratios.values())


def _at_step_0(findings: list["Finding"]) -> bool:
    """True when initial_loss's finding is about the step-0 loss (its evidence has no "end")."""
    return any(f.rule == "initial_loss" and "end" not in f.evidence for f in findings)
