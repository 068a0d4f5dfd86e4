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

- A stalled optimizer explains a flat loss. When `update_ratio` found an adaptive optimizer's steps far too small
  for its weights while the loss stayed flat ("stalled_under" in its evidence), `loss_not_decreasing` is its symptom.

- Parameters no optimizer holds are nobody's symptom. An `update_ratio` finding naming layers that receive gradients
  but that no optimizer holds ("not_optimized" in its evidence) stays as it is whatever else fired: a bug in the
  script, which no instability or dead layer explains.

- Vanishing gradients explain frozen layers. When `vanishing` fired, an `update_ratio` finding whose layers are all
  vanishing ones (their updates are tiny because their gradients are) is its symptom. (A flat loss is not: the
  layers above still learn, and a flat loss has causes of its own.)

- Init before learning rate. `divergence` normally outranks `exploding` (a learning rate too high blows up the
  gradients it then reports); but when the run was already off its scale before any update (exploding's depth or
  step-0-loss evidence, or `initial_loss` on the step-0 loss), the weights' scale is the root and `exploding` leads.
  When `exploding` did not fire but `initial_loss` did on the step-0 loss, the outputs were off their scale before
  any update, and their huge first gradients are what threw the run off: `initial_loss` leads, promoted to error,
  and `divergence` and the instability's symptoms go under it (a head drawn from N(0, 1) under SGD + momentum: step
  0 at 4.5 x ln C, then 27 x by step 1).
- What a transient overshoot leaves behind. When `divergence` fired only on its early-overshoot arm (the loss
  jumped in the first steps while an update exceeded the weights, then came back) and `dead_units` fired, the dead
  layer is what the run is left with (dead ReLUs rarely recover; the loss did): `dead_units` leads as an error, with
  the hint to lower the learning rate, and the overshoot (`divergence`, `exploding`) goes under it as what killed
  the units (Adam at 100x its lr on a ReLU net: the loss rose 7x by step 2, then 95% of a layer never fired).
- Gradients that grew before the loss rose. `divergence` also yields to `exploding` when the total gradient norm
  had grown exploding's GROWTH_FIRST x while the loss was still at or below its step-0 value ("grew_before_loss" in
  its evidence): a step size too large raises the loss at once, while gradients that swell on a steady loss are
  inflated by something else (a forgotten `zero_grad()` summing every step's gradient), and the loss follows.

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
KILLED_HINT = "lower the learning rate (or warm it up) so the first steps do not kill the units; then leaky ReLU"


def order_by_cause(findings: list[Finding], steps: int) -> list[Finding]:
    """The findings of a run of `steps` steps with symptoms demoted to info under their root cause, most severe and
    most causal first."""
    rules = {f.rule for f in findings if f.rule != "nonfinite" or (f.step is not None and f.step < steps / 2)}
    root = next((r for r in CAUSE_RANK if r in INSTABILITY and r in rules), None)
    if root == "divergence" and (_off_scale_at_init(findings) or _grew_before_loss(findings)):
        root = "exploding"
    elif root == "divergence" and initial_loss_at_step_0(findings):
        root = "initial_loss"  # no exploding evidence, but the logits were off scale before any update
    killed = root == "divergence" and _overshoot_only(findings) and _shown(findings, "dead_units")
    if killed:
        root = "dead_units"
    dead = [f for f in findings if f.rule == "dead_units"]
    dead_layer = bool(dead) and zero_gradient_unused(findings)  # dead enough to zero the gradients around it
    vanishing = next((f for f in findings if f.rule == "vanishing" and f.severity != "info"), None)
    stalled = any(f.rule == "update_ratio" and "stalled_under" in f.evidence for f in findings)
    out = []
    for f in findings:
        if f.rule == "update_ratio" and "not_optimized" in f.evidence:
            out.append(f)  # parameters no optimizer holds: a bug in the script, not a symptom of anything
            continue
        if killed and f.rule in EXPLAINED_BY_INSTABILITY and f.rule != "dead_units":
            f = _symptom(f, f"dead units at {dead[0].layer}")
        elif killed and f.rule in ("divergence", "exploding"):
            f = replace(f, severity="info", message=f"(what killed the units at {dead[0].layer}) {f.message}",
                        evidence={**f.evidence, "explained_by": f"dead units at {dead[0].layer}"})
        elif killed and f.rule == "dead_units":
            f = replace(f, severity="error", hint=KILLED_HINT,
                        message=f"{f.message}; killed by the first steps, which overshot (see divergence)")
        elif root == "initial_loss" and f.rule in ("divergence", *EXPLAINED_BY_INSTABILITY):
            f = _symptom(f, "the outputs off their scale at init")
        elif root == "initial_loss" and f.rule == "initial_loss":
            f = replace(f, severity="error", message=f"{f.message}; the run then diverged")
        elif root and f.rule in EXPLAINED_BY_INSTABILITY:
            f = _symptom(f, root)
        elif dead and f.rule == "unused" and f.evidence.get("steps_with_grad", 0) > 0:
            f = _symptom(f, f"dead units at {dead[0].layer}")
        elif dead_layer and f.rule in EXPLAINED_BY_DEAD_LAYER:
            f = _symptom(f, f"dead units at {dead[0].layer}")
        elif stalled and f.rule == "loss_not_decreasing":
            f = _symptom(f, "a learning rate far too low")
        elif vanishing and _explained_by_vanishing(f, vanishing):
            f = _symptom(f, f"vanishing gradients at {vanishing.layer}")
        elif dead_layer and f.rule == "dead_units":
            f = replace(f, severity="error", message=f"{f.message}; the gradients around it are exactly 0")
        out.append(f)
    rank = {rule: i for i, rule in enumerate(CAUSE_RANK)}
    if _off_scale_at_init(findings) or _grew_before_loss(findings):
        rank["exploding"] = -1
    if root == "initial_loss":
        rank["initial_loss"] = -1
    if killed:
        rank["dead_units"] = -1
    return sorted(out, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), _rank(f, rank)))


def _rank(finding: Finding, rank: dict[str, int]) -> float:
    if rank["initial_loss"] < 0 and finding.rule == "initial_loss":
        return -1
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


def _grew_before_loss(findings: list[Finding]) -> bool:
    """True when `exploding` saw the total gradient norm grow while the loss had not yet risen (see the docstring)."""
    return any(f.rule == "exploding" and "grew_before_loss" in f.evidence for f in findings)


def _overshoot_only(findings: list[Finding]) -> bool:
    """`divergence` fired on its early-overshoot arm alone (evidence "update_layer"): the loss jumped in the first
    steps and came back, not a run that stayed up or blew up."""
    return any(f.rule == "divergence" and "update_layer" in f.evidence for f in findings)


def _shown(findings: list[Finding], rule: str) -> bool:
    return any(f.rule == rule and f.severity != "info" for f in findings)
