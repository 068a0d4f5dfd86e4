"""Causal ordering of findings: one root cause first, the symptoms it explains under it (as info).

Rules look at one signal each, so one fault fires several of them: a learning rate 1000x too high shows as a rising
loss, huge updates, saturated or dead activations and odd update ratios; a ReLU layer killed by a bias of -10 leaves
exactly-zero gradients in every layer below it and in the weight right after it. Reporting those as separate
errors sends the user the wrong way (the old headline was five `unused` errors). So:

- Instability explains the rest. When `divergence` or `exploding` fired, or `nonfinite` did in the first half of the
  run (after that, most of what the other rules measured came before it), the findings of `vanishing`,
  `saturation`, `dead_units`, `update_ratio`, `spike` and `loss_not_decreasing` are its symptoms.
- A dead layer explains zero gradients. When `dead_units` fired, `unused` findings of parameters that HAD a gradient,
  exactly 0 at every step, are its symptoms, and `dead_units` is promoted to error: a layer dead enough to cut the
  gradient of the layers around it is the root cause of a net that does not learn. (A parameter that never got a
  gradient at all is cut off from the loss: that is a detached branch, still `unused`.) The frozen layers'
  `update_ratio` and the flat loss's `loss_not_decreasing` are its symptoms too.

- Vanishing gradients explain frozen layers. When `vanishing` fired, an `update_ratio` finding whose layers are all
  vanishing ones (their updates are tiny because their gradients are) is its symptom. (A flat loss is not: the
  layers above still learn, and a flat loss has causes of its own.)

- Init before learning rate. `divergence` normally outranks `exploding` (a learning rate too high blows up the
  gradients it then reports); but when the run was already off its scale before any update (exploding's depth or
  step-0-loss evidence, or `initial_loss` on the step-0 loss), the weights' scale is the root and `exploding` leads.

A symptom keeps its message, prefixed with what explains it, and drops to info (shown, never counted by the gate).
Findings are then sorted by severity, then by CAUSE_RANK: the more fundamental cause first (`initial_loss` on the
end of the run, an outcome rather than a cause, ranks with `loss_not_decreasing`; on the step-0 loss it ranks before
`dead_units`: logits far off scale before any update come first in time, and their huge first gradients are what
kills units in the first steps).
"""

from __future__ import annotations

from dataclasses import replace

from gradscope.rules.finding import SEVERITY_ORDER, Finding

CAUSE_RANK = ("divergence", "exploding", "nonfinite", "unused", "dead_units", "vanishing", "initial_loss",
              "saturation", "spike", "update_ratio", "loss_not_decreasing")
INSTABILITY = ("divergence", "exploding", "nonfinite")
EXPLAINED_BY_INSTABILITY = ("vanishing", "saturation", "dead_units", "update_ratio", "spike", "loss_not_decreasing")
EXPLAINED_BY_DEAD_LAYER = ("update_ratio", "loss_not_decreasing")


def order_by_cause(findings: list[Finding], steps: int) -> list[Finding]:
    """The findings of a run of `steps` steps with symptoms demoted to info under their root cause, most severe and
    most causal first."""
    rules = {f.rule for f in findings if f.rule != "nonfinite" or (f.step is not None and f.step < steps / 2)}
    root = next((r for r in CAUSE_RANK if r in INSTABILITY and r in rules), None)
    if root == "divergence" and _off_scale_at_init(findings):
        root = "exploding"
    dead = [f for f in findings if f.rule == "dead_units"]
    dead_layer = bool(dead) and zero_gradient_unused(findings)  # dead enough to zero the gradients around it
    vanishing = next((f for f in findings if f.rule == "vanishing" and f.severity != "info"), None)
    out = []
    for f in findings:
        if root and f.rule in EXPLAINED_BY_INSTABILITY:
            f = _symptom(f, root)
        elif dead and f.rule == "unused" and f.evidence.get("steps_with_grad", 0) > 0:
            f = _symptom(f, f"dead units at {dead[0].layer}")
        elif dead_layer and f.rule in EXPLAINED_BY_DEAD_LAYER:
            f = _symptom(f, f"dead units at {dead[0].layer}")
        elif vanishing and _explained_by_vanishing(f, vanishing):
            f = _symptom(f, f"vanishing gradients at {vanishing.layer}")
        elif dead_layer and f.rule == "dead_units":
            f = replace(f, severity="error", message=f"{f.message}; the gradients around it are exactly 0")
        out.append(f)
    rank = {rule: i for i, rule in enumerate(CAUSE_RANK)}
    if _off_scale_at_init(findings):
        rank["exploding"] = -1
    return sorted(out, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), _rank(f, rank)))


def _rank(finding: Finding, rank: dict[str, int]) -> float:
    # initial_loss on the END of the run (a classifier worse than chance) is an outcome, not a cause: it comes after
    # the rules that say why (a frozen layer's update_ratio), next to loss_not_decreasing. On step 0 it is a cause.
    if finding.rule == "initial_loss" and "end" in finding.evidence:
        return rank["loss_not_decreasing"]
    if finding.rule == "initial_loss":
        return rank["dead_units"] - 0.5
    return rank.get(finding.rule, len(rank))


def _symptom(finding: Finding, cause: str) -> Finding:
    return replace(finding, severity="info", message=f"(a symptom of {cause}) {finding.message}",
                   evidence={**finding.evidence, "explained_by": cause})


def _explained_by_vanishing(finding: Finding, vanishing: Finding) -> bool:
    """Update ratios out of band only in layers whose gradients vanish (both findings' evidence keys are layers)."""
    return finding.rule == "update_ratio" and bool(finding.evidence) and set(finding.evidence) <= set(vanishing.evidence)


def zero_gradient_unused(findings: list[Finding]) -> bool:
    """An `unused` finding about a parameter that had a gradient, exactly 0 at every step (not a detached one)."""
    return any(f.rule == "unused" and f.evidence.get("steps_with_grad", 0) > 0 for f in findings)


def _off_scale_at_init(findings: list[Finding]) -> bool:
    """True when the findings show a net already off its scale at step 0 (see the module docstring)."""
    exploded = any(f.rule == "exploding" and {"depth_ratio", "start_loss"} & set(f.evidence) for f in findings)
    started_high = initial_loss_at_step_0(findings)
    return exploded or (started_high and any(f.rule == "exploding" for f in findings))


def initial_loss_at_step_0(findings: list[Finding]) -> bool:
    """An `initial_loss` finding about the step-0 loss (its evidence has no "end"), not about how the run ended."""
    return any(f.rule == "initial_loss" and "end" not in f.evidence for f in findings)
