"""Causal ordering: one root cause first, its symptoms demoted to info under it (gradscope/rules/causes.py)."""

from rules_tables import THRESHOLDS, constant, falling, record

from gradscope.rules.finding import Finding
from gradscope.rules import diagnose
from gradscope.rules.causes import order_by_cause


def finding(rule, severity, layer=None, step=None, **evidence):
    return Finding(rule=rule, severity=severity, message=f"{rule} fired", layer=layer, step=step, evidence=evidence)


def test_relu_killed_by_a_bias_headlines_dead_units_not_unused():
    # regression: a ReLU layer killed by a -10 bias was five `unused` errors with a "something detaches" hint; the
    # real cause came sixth
    zero = [finding("unused", "error", layer=name, steps=20, steps_with_grad=20, steps_with_zero_grad=20)
            for name in ("0", "0", "2", "2", "4")]
    flat = [finding("update_ratio", "warning", layer="0"), finding("loss_not_decreasing", "warning")]
    out = order_by_cause(zero + flat + [finding("dead_units", "warning", layer="3")], steps=20)
    assert (out[0].rule, out[0].severity, out[0].layer) == ("dead_units", "error", "3")
    assert [f.severity for f in out[1:]] == ["info"] * 7
    assert all(f.message.startswith("(a symptom of dead units at 3)") for f in out[1:])


def test_a_detached_parameter_stays_unused_next_to_dead_units():
    never = finding("unused", "error", layer="head", steps=20, steps_with_grad=0, steps_with_zero_grad=0)
    out = order_by_cause([finding("dead_units", "warning", layer="3"), never], steps=20)
    assert [(f.rule, f.severity) for f in out] == [("unused", "error"), ("dead_units", "warning")]


def test_divergence_explains_saturation_vanishing_and_update_ratios():
    # regression: a learning rate 1000x too high was headlined `vanishing` with an activation remedy
    found = [finding(r, "error" if r == "vanishing" else "warning")
             for r in ("vanishing", "saturation", "update_ratio", "loss_not_decreasing")]
    out = order_by_cause(found + [finding("exploding", "error"), finding("divergence", "error", step=1)], steps=40)
    assert [(f.rule, f.severity) for f in out[:2]] == [("divergence", "error"), ("exploding", "error")]
    assert {f.severity for f in out[2:]} == {"info"}
    assert all(f.evidence["explained_by"] == "divergence" for f in out[2:])


def test_a_late_nan_explains_nothing_an_early_one_does():
    late = order_by_cause([finding("vanishing", "error"), finding("nonfinite", "error", step=30)], steps=40)
    assert [f.severity for f in late] == ["error", "error"]
    early = order_by_cause([finding("vanishing", "error"), finding("nonfinite", "error", step=3)], steps=40)
    assert [(f.rule, f.severity) for f in early] == [("nonfinite", "error"), ("vanishing", "info")]


def test_diagnose_orders_a_diverged_run_root_first():
    steps = 30
    losses = [3.5, 197.0, 3567.0] + [2000.0] * (steps - 3)
    activations = [(s, "act", "saturated", 0.9) for s in range(steps)]
    rec = record(constant(steps, [1.0, 1.0]), losses=losses, activations=activations)
    out = diagnose(rec, THRESHOLDS)
    assert out[0].rule == "divergence"
    assert [(f.rule, f.severity) for f in out if f.rule == "saturation"] == [("saturation", "info")]


def test_a_healthy_run_is_untouched():
    assert diagnose(record(constant(30, [1.0, 1.0]), losses=falling(30)), THRESHOLDS) == []


def test_a_net_off_its_scale_at_init_headlines_exploding_before_divergence():
    # the deep linear chain with gain 1.5 starts 66x above ln 3 and then diverges: the init is the root cause
    found = [finding("divergence", "error", step=5), finding("exploding", "error", step=7, growth=7e13),
             finding("initial_loss", "warning", start=72.9, scale=1.1), finding("update_ratio", "warning")]
    out = order_by_cause(found, steps=100)
    assert [f.rule for f in out[:2]] == ["exploding", "divergence"]
    assert out[-1].evidence["explained_by"] == "exploding"
    # the same without the step-0 evidence: a learning rate too high, divergence leads
    out = order_by_cause(found[:2] + found[3:], steps=100)
    assert [f.rule for f in out[:2]] == ["divergence", "exploding"]


def test_ending_worse_than_chance_comes_after_the_frozen_layers_that_explain_it():
    # tuning half: Adam at lr 1e-7 headlined "worse than chance" before the update ratios that say why
    end = Finding(rule="initial_loss", severity="warning", message="m", evidence={"start": 3.5, "scale": 3.4, "end": 3.5})
    start = Finding(rule="initial_loss", severity="warning", message="m", evidence={"start": 55.0, "scale": 3.4})
    frozen = finding("update_ratio", "warning", layer="0")
    assert [f is frozen for f in order_by_cause([end, frozen], steps=40)] == [True, False]
    assert [f is start for f in order_by_cause([frozen, start], steps=40)] == [True, False]


def test_logits_off_scale_at_step_0_come_before_the_units_they_kill():
    # benchmark held-out: a head scaled 270x (step-0 loss 55 against ln 32) was headlined dead_units, its symptom
    start = Finding(rule="initial_loss", severity="warning", message="m", evidence={"start": 55.0, "scale": 3.47})
    dead = finding("dead_units", "warning", layer="3")
    assert [f.rule for f in order_by_cause([dead, start], steps=40)] == ["initial_loss", "dead_units"]
    end = Finding(rule="initial_loss", severity="warning", message="m", evidence={"start": 3.5, "scale": 3.4, "end": 3.6})
    assert [f.rule for f in order_by_cause([end, dead], steps=40)] == ["dead_units", "initial_loss"]


def test_frozen_update_ratios_in_the_vanishing_layers_are_its_symptoms():
    # regression: deep_sigmoid warned `update_ratio` (0.0e+00 in layers 0, 2, 4, ...) beside `vanishing` in the same
    # layers, as if a learning rate too low were a second cause
    vanishing = Finding(rule="vanishing", severity="error", message="m", layer="0", evidence={"0": 1e-10, "2": 1e-8})
    frozen = Finding(rule="update_ratio", severity="warning", message="m", layer="0", evidence={"0": 0.0, "2": 1e-9})
    flat = finding("loss_not_decreasing", "warning")
    out = order_by_cause([frozen, flat, vanishing], steps=40)
    assert [(f.rule, f.severity) for f in out] == [("vanishing", "error"), ("loss_not_decreasing", "warning"),
                                                    ("update_ratio", "info")]
    elsewhere = Finding(rule="update_ratio", severity="warning", message="m", layer="5", evidence={"5": 2.0})
    assert order_by_cause([elsewhere, vanishing], steps=40)[1].severity == "warning"  # another layer: its own cause


def test_outputs_off_scale_at_init_lead_a_divergence_they_caused():
    # regression (fresh_bug_head_std1): a head drawn from N(0, 1), step-0 loss 4.5 x ln C, then 27x by step 1 under
    # SGD + momentum: `divergence` led and `initial_loss` came second with no `exploding` to tie them
    start = finding("initial_loss", "warning", start=10.4, scale=2.3)
    out = order_by_cause([finding("divergence", "error", step=1, start=10.4, rise=27.0), start,
                          finding("dead_units", "warning", layer="body.1")], steps=60)
    assert [(f.rule, f.severity) for f in out] == [("initial_loss", "error"), ("divergence", "info"),
                                                   ("dead_units", "info")]
    assert out[0].message.endswith("the run then diverged")
    assert out[1].evidence["explained_by"] == "the outputs off their scale at init"


def test_a_run_that_ends_above_chance_does_not_take_the_lead_from_divergence():
    # initial_loss on the END of the run is an outcome: divergence stays the root
    end = finding("initial_loss", "warning", start=2.3, scale=2.3, end=5.0)
    out = order_by_cause([finding("divergence", "error", step=1), end], steps=60)
    assert [(f.rule, f.severity) for f in out] == [("divergence", "error"), ("initial_loss", "warning")]


def test_gradients_that_grew_before_the_loss_rose_put_exploding_first():
    # regression (bug_no_zero_grad): the gradient norm was 10x by step 46 while the loss held, the loss passed 3x
    # at step 56; `divergence` led with "lower the learning rate"
    grew = finding("exploding", "error", step=71, growth=3.9e11, grew_before_loss=46)
    out = order_by_cause([finding("divergence", "error", step=56, start=10.8, tail=1e15), grew,
                          finding("spike", "warning", step=40)], steps=100)
    assert [(f.rule, f.severity) for f in out] == [("exploding", "error"), ("divergence", "error"), ("spike", "info")]
    # without that evidence (a learning rate too high: loss and gradient rise together) divergence leads
    plain = finding("exploding", "error", step=3, growth=1e6)
    out = order_by_cause([plain, finding("divergence", "error", step=1, start=3.5, tail=1e3)], steps=40)
    assert out[0].rule == "divergence"


def test_units_killed_by_an_overshoot_the_loss_recovered_from_lead_as_dead_units():
    # regression (bug_dying_relu_lr_high): Adam at 100x its lr, loss 7x by step 2 then back down, 95% of ReLU 3
    # dead for the rest of the run: headlined `divergence`, the dead layer demoted to info
    overshoot = finding("divergence", "error", step=2, start=302.0, rise=7.2, update_ratio=4.0, update_layer="2")
    step = finding("exploding", "error", layer="2", step=0, update_ratio=4.0, update_layer="2", update_step=0)
    out = order_by_cause([overshoot, step, finding("dead_units", "warning", layer="3"),
                          finding("update_ratio", "warning", layer="4")], steps=40)
    assert [(f.rule, f.severity) for f in out] == [("dead_units", "error"), ("divergence", "info"),
                                                   ("exploding", "info"), ("update_ratio", "info")]
    assert "lower the learning rate" in out[0].hint
    assert out[1].message.startswith("(what killed the units at 3)")


def test_a_lasting_divergence_keeps_the_lead_over_dead_units():
    # the loss rose and stayed up (no "update_layer": not the overshoot arm): the learning rate is the root
    lasting = finding("divergence", "error", step=1, start=3.5, first_above=197.0, tail=2000.0)
    out = order_by_cause([lasting, finding("dead_units", "warning", layer="3")], steps=40)
    assert [(f.rule, f.severity) for f in out] == [("divergence", "error"), ("dead_units", "info")]


def test_a_stalled_adaptive_optimizer_explains_the_flat_loss():
    stalled = finding("update_ratio", "warning", layer="0", stalled_under="adam", **{"0": 3e-6, "3": 9e-6})
    out = order_by_cause([finding("loss_not_decreasing", "warning"), stalled], steps=60)
    assert [(f.rule, f.severity) for f in out] == [("update_ratio", "warning"), ("loss_not_decreasing", "info")]
    assert out[1].evidence["explained_by"] == "a learning rate far too low"


def test_layers_no_optimizer_holds_are_no_symptom_of_a_divergence_or_dead_units():
    # A script's optimizer that leaves its backbone out: that update_ratio finding is a code bug, whatever else fired.
    stranded = finding("update_ratio", "warning", layer="backbone.0", not_optimized="backbone.0")
    for cause in (finding("divergence", "error", step=1), finding("dead_units", "warning", layer="3")):
        extra = [finding("unused", "error", layer="2", steps_with_grad=20)] if cause.rule == "dead_units" else []
        out = order_by_cause([stranded, cause, *extra], steps=20)
        assert [f for f in out if f.rule == "update_ratio"] == [stranded]
