"""The default remedies of `gradscope compare`: chosen from the baseline's root cause, so each one tests a cure.

The root cause is the baseline's first error or warning finding (the rules put it first, its symptoms under it as
info; see rules/causes.py). Remedies per root cause, in order (at most four; the baseline always runs first):
- divergence (the loss rose from step 0), or nonfinite alone: lr:x0.1, lr:x0.01, lr:x0.001, clip:1.0. A learning
  rate 1000x too high needs the 1000x cut; clipping bounds the gradient, not the step size, so it comes last;
- exploding: norm:input (raw features or 0-255 pixels: not applicable, so not run, when the inputs are already on a
  unit scale), init:he with ReLU activations in the model, else init:xavier (weights drawn too large: the
  variance-preserving scale for the model's activations; a linear chain has none), init:default, clip:1.0;
- vanishing or saturation, with sigmoid/tanh activations in the model: act:relu, init:he, act:relu+init:he
  (a ReLU alone still vanishes in a deep net under PyTorch's default init, which shrinks the signal per layer; the
  pair is the textbook cure), and norm:layer;
- vanishing otherwise: init:he, norm:layer, opt:adam (opt:sgd when the run already uses Adam);
- dead_units: init:he (it also zeroes the biases, which is what revives units killed by a large negative bias),
  act:leaky_relu, lr:x0.1;
- spike: lr:x0.1, clip:1.0;
- update_ratio with layers below the healthy ~1e-3 (frozen: a learning rate far too low, or clipping far too tight):
  lr:xF with F from the evidence (the factor that brings the median update/weight ratio of the frozen layers up to
  ~1e-3 under SGD, ~1e-2 under Adam/AdamW, since the ratio scales with the learning rate; at least 10, at most 1e5,
  one significant digit), then
  lr:x3F and lr:x10F (a bracket above it: ~1e-3 is a rule of thumb, and a short run needs the upper end), and
  opt:adam (or opt:sgd); with layers above it: lr:x0.1, lr:x0.01, clip:1.0;
- initial_loss on the step-0 loss (outputs off their scale at init): init:default (undoes a head scaled up after
  building), norm:input, init:default+lr:x10 (a head reset to its default still has to learn the task in the
  run's steps), init:xavier;
- unused with parameters whose gradient existed but was exactly 0 at every step (weights initialised to one value, so
  no unit can differ from another): init:default, init:he, init:xavier. (A parameter that never got a gradient is
  cut off from the loss: a code change, no remedy.)
- loss_not_decreasing: lr:x10, opt:adam (or opt:sgd), lr:x100;
- otherwise (healthy, or a root cause no remedy targets, such as a detached branch): lr:x0.1, lr:x10, opt:adam (or
  opt:sgd).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from gradscope.remedies import parse_remedy
from gradscope.remedies.base import Remedy
from gradscope.rules.causes import initial_loss_at_step_0, zero_gradient_unused

if TYPE_CHECKING:
    from gradscope.rules.finding import Finding

MAX_DEFAULTS = 4
SQUASHING = ("sigmoid", "tanh")
SHOWN = ("error", "warning")
HEALTHY_UPDATE_RATIO = 1e-3
LR_FACTOR_BOUNDS = (10.0, 1e5)
# Adam moves each weight by ~lr whatever its gradient, so at its customary lr 1e-3, on weights of rms ~0.05-0.1, its
# update/weight ratio sits near 1e-2; SGD's healthy ratio is the rule of thumb's ~1e-3.
TARGET_UPDATE_RATIO = {"sgd": 1e-3, "adam": 1e-2, "adamw": 1e-2}


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
        ids = ["norm:input", "init:he" if "relu" in activations else "init:xavier", "init:default", "clip:1.0"]
    elif root in ("vanishing", "saturation") and activations & set(SQUASHING):
        ids = ["act:relu", "init:he", "act:relu+init:he", "norm:layer"]
    elif root == "vanishing":
        ids = ["init:he", "norm:layer", other_optimizer]
    elif root == "dead_units":
        ids = ["init:he", "act:leaky_relu", "lr:x0.1"]
    elif root == "update_ratio":
        factor = lr_factor(findings, optimizer)
        # written without an exponent: the "+" of 1e+06 would join two remedies
        ids = ([f"lr:x{factor * k:.0f}" for k in (1, 3, 10)] + [other_optimizer] if factor is not None
               else ["lr:x0.1", "lr:x0.01", "clip:1.0"])
    elif root == "initial_loss" and initial_loss_at_step_0(findings):
        ids = ["init:default", "norm:input", "init:default+lr:x10", "init:xavier"]
    elif root == "unused" and zero_gradient_unused(findings):
        ids = ["init:default", "init:he", "init:xavier"]
    elif root == "spike":
        ids = ["lr:x0.1", "clip:1.0"]
    elif root == "loss_not_decreasing":
        ids = ["lr:x10", other_optimizer, "lr:x100"]
    else:
        ids = ["lr:x0.1", "lr:x10", other_optimizer]
    return [parse_remedy(i) for i in ids[:MAX_DEFAULTS]]


def lr_factor(findings: list["Finding"], optimizer: str = "sgd") -> float | None:
    """The learning-rate factor that brings the median update/weight ratio of the layers update_ratio found below the
    healthy ~1e-3 up to the optimizer's target (the ratio is proportional to the rate), bounded and rounded to one
    significant digit; None when no layer is below (evidence: layer -> ratio)."""
    ratios = next((f.evidence for f in findings if f.rule == "update_ratio"), {})
    low = sorted(v for v in ratios.values() if isinstance(v, float) and 0 <= v < HEALTHY_UPDATE_RATIO)
    if not low:
        return None
    median = low[len(low) // 2] if len(low) % 2 else (low[len(low) // 2 - 1] + low[len(low) // 2]) / 2
    target = TARGET_UPDATE_RATIO.get(optimizer, HEALTHY_UPDATE_RATIO)
    factor = target / median if median > 0 else LR_FACTOR_BOUNDS[1]
    factor = min(max(factor, LR_FACTOR_BOUNDS[0]), LR_FACTOR_BOUNDS[1])
    return float(f"{factor:.0e}")

