"""The gate's policy and the sanity checks, on hand-built findings and RunRecords (no torch, no training)."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradscope.errors import GradscopeError
from gradscope.gate.checks import (CHECK_NAMES, Check, Excuses, GateResult, evidence_text, excuses_from, findings_check,
                            split_ignore)
from gradscope.gate.sanity import gradient_check, loss_check, overfit_check, param_statuses, sanity_checks, update_check
from rules_tables import from_rows

NAN, INF = math.nan, math.inf


def finding(rule, severity, layer=None, evidence=None):
    return {"rule": rule, "severity": severity, "message": f"{rule} says so", "layer": layer, "step": None,
            "hint": "do something", "evidence": evidence or {}}


def rows(spec, steps=3):
    """spec: {param: (grads per step, updates per step)}; the layer is the part before the first dot."""
    out = []
    for step in range(steps):
        for param, (grads, updates) in spec.items():
            g = grads[step]
            out.append(dict(step=step, layer=param.split(".")[0], param=param, grad_norm=NAN if g is None else g,
                            param_norm=1.0, update_norm=updates[step], has_grad=g is not None))
    return out


def record(spec, steps=3, losses=None, stats_every=1):
    layers = list(dict.fromkeys(p.split(".")[0] for p in spec))
    rec = from_rows(rows(spec, steps), layers, losses if losses is not None else [1.0 - 0.1 * s for s in range(steps)])
    rec.meta["stats_every"] = stats_every
    return rec


# The policy ---------------------------------------------------------------------------------------------------------

def test_fail_on_error_ignores_warnings_and_fail_on_warning_does_not():
    found = [finding("update_ratio", "warning"), finding("dead_units", "info")]
    assert findings_check(found, "error").passed
    failed = findings_check(found, "warning")
    assert not failed.passed and "update_ratio" in failed.details[0] and "dead_units" not in "".join(failed.details)


def test_failing_findings_carry_their_evidence_and_hint():
    check = findings_check([finding("vanishing", "error", "fc0", {"fc0": 2.5e-10, "fc1": 3e-7})], "error")
    assert check.details == ("[error] vanishing (layer fc0): vanishing says so",
                             "    evidence: fc0=2.5e-10, fc1=3e-07", "    hint: do something")


def test_muted_rules_are_named_in_the_passing_message():
    assert "muted: vanishing" in findings_check([], "error", muted=["vanishing"]).message


def test_evidence_text_shows_the_first_entries_and_counts_the_rest():
    text = evidence_text({f"l{i}": float(i) + 0.5 for i in range(8)}, shown=3)
    assert text == "l0=0.5, l1=1.5, l2=2.5 (+5 more)"
    assert evidence_text({"steps": 30, "loss": INF, "x": NAN}) == "steps=30, loss=inf, x=nan"


def test_ignore_splits_rules_from_checks_and_rejects_unknown_ids():
    assert split_ignore(["vanishing", "updates", "unused"]) == (["vanishing", "unused"], ["updates"])
    with pytest.raises(GradscopeError) as exc:
        split_ignore(["vanishing", "vanishng"])
    assert "'vanishng'" in exc.value.message and "updates" in exc.value.fix and "vanishing" in exc.value.fix


def test_a_muted_finding_excuses_its_layer_and_the_layers_its_evidence_names():
    muted = [finding("vanishing", "error", "fc0", {"fc0": 1e-9, "fc1": 1e-8, "ratio": 3.0}),
             finding("unused", "error", "skip", {"steps": 3})]
    excuses = excuses_from(muted, ["fc0", "fc1", "fc2", "skip"])
    assert dict(excuses.layers) == {"fc0": "vanishing", "fc1": "vanishing", "skip": "unused"}
    assert not excuses.nonfinite and excuses_from([finding("nonfinite", "error")], []).nonfinite


def test_gate_result_passes_only_when_every_check_passes_and_skipped_ones_count_as_passed():
    ok, skipped, bad = Check("a", True, "fine"), Check("b", True, "muted", skipped=True), Check("c", False, "no")
    assert GateResult([ok, skipped]).passed
    result = GateResult([ok, skipped, bad])
    assert not result.passed and result.failures == [bad]
    assert result.to_dicts()[2] == {"name": "c", "passed": False, "message": "no", "details": [], "skipped": False}
    assert set(CHECK_NAMES) >= {"training", "loss", "gradients", "updates", "findings", "overfit", "baseline"}


# The sanity checks --------------------------------------------------------------------------------------------------

def test_a_healthy_record_passes_every_sanity_check():
    rec = record({"fc0.weight": ([1.0, 0.5, 0.2], [1e-3] * 3), "fc0.bias": ([0.1] * 3, [1e-4] * 3)})
    checks = sanity_checks(rec, planned_steps=3)
    assert [c.name for c in checks] == ["training", "loss", "gradients", "updates"]
    assert all(c.passed and not c.skipped for c in checks), checks
    assert checks[0].message == "3/3 steps"


def test_a_parameter_that_never_got_a_gradient_is_named_by_gradients_and_updates():
    rec = record({"fc0.weight": ([1.0] * 3, [1e-3] * 3), "skip.weight": ([None] * 3, [0.0] * 3)})
    statuses = param_statuses(rec)
    grads, updates = gradient_check(statuses), update_check(statuses)
    assert not grads.passed and grads.details == ("no gradient at any step: skip.weight",)
    assert not updates.passed and updates.details == ("no gradient: skip.weight",)
    assert updates.message == "1 of 2 parameters never changed"


def test_a_gradient_that_is_used_only_sometimes_still_counts_as_received():
    rec = record({"fc0.weight": ([None, 2.0, None], [0.0, 1e-3, 0.0])})
    assert gradient_check(param_statuses(rec)).passed and update_check(param_statuses(rec)).passed


def test_non_finite_gradients_are_named_with_their_first_step():
    rec = record({"a.weight": ([1.0, NAN, INF], [1e-3] * 3), "b.weight": ([1.0, 1.0, INF], [1e-3] * 3)})
    check = gradient_check(param_statuses(rec))
    assert not check.passed and check.message == "2 of 2 parameters did not receive finite gradients"
    assert check.details == ("non-finite gradient: a.weight (step 1: nan), b.weight (step 2: inf)",)


def test_unchanged_parameters_are_grouped_by_reason():
    rec = record({"a.weight": ([0.0] * 3, [0.0] * 3),  # zero gradient: on the graph, but no signal
                  "b.weight": ([1e-12, 3e-12, 2e-12], [0.0] * 3),  # the update underflowed
                  "c.weight": ([1.0] * 3, [0.0, 0.0, 1e-6])})  # changed once: fine
    check = update_check(param_statuses(rec))
    assert check.message == "2 of 3 parameters never changed"
    assert check.details[0] == "gradient exactly 0 at every step: a.weight"
    assert check.details[1].startswith("a non-zero gradient, but the weights did not move")
    assert check.details[1].endswith("b.weight (max |g| 3.0e-12)")


def test_updates_are_read_only_at_measured_steps():
    # stats_every 2: steps 1 and 3 are not measured (NaN), which must not count as a change.
    rec = record({"a.weight": ([1.0] * 4, [0.0, NAN, 0.0, NAN])}, steps=4, stats_every=2)
    assert not update_check(param_statuses(rec)).passed


def test_muted_findings_excuse_the_parameters_of_their_layers_but_not_others():
    rec = record({"fc0.weight": ([1e-12] * 3, [0.0] * 3), "fc1.weight": ([1e-12] * 3, [0.0] * 3),
                  "fc2.weight": ([1.0] * 3, [1e-3] * 3)})
    statuses = param_statuses(rec)
    partly = update_check(statuses, Excuses({"fc0": "vanishing"}))
    assert not partly.passed and "fc1.weight" in partly.details[0] and "fc0.weight" not in partly.details[0]
    fully = update_check(statuses, Excuses({"fc0": "vanishing", "fc1": "vanishing"}))
    assert fully.passed and fully.message == "all 1 parameters changed (2 unchanged, excused)"
    assert fully.details == ("excused, explained by muted rule vanishing: fc0.weight, fc1.weight",)


def test_a_muted_nonfinite_excuses_the_loss_and_non_finite_gradients():
    losses = [1.0, INF, NAN]
    assert not loss_check(losses).passed and loss_check(losses).message == "non-finite at step 1 (inf)"
    assert loss_check(losses, Excuses(nonfinite=True)).passed
    rec = record({"a.weight": ([1.0, NAN, NAN], [1e-3] * 3)}, losses=losses)
    assert gradient_check(param_statuses(rec), Excuses(nonfinite=True)).passed


def test_a_run_without_any_loss_skips_the_loss_check():
    check = loss_check([None, None])
    assert check.passed and check.skipped


def test_an_error_in_the_models_code_fails_training():
    rec = record({"a.weight": ([1.0], [1e-3])}, steps=1, losses=[1.0])
    rec.error = "ValueError: shapes do not match\n  File model.py, line 3"
    check = sanity_checks(rec, planned_steps=10)[0]
    assert not check.passed and check.message == "the model's code raised after 1/10 steps: ValueError: shapes do not match"
    assert check.details == ("  File model.py, line 3",)


def test_an_interrupted_run_does_not_pass_training():
    rec = record({"a.weight": ([1.0] * 2, [1e-3] * 2)}, steps=2)
    rec.interrupted = True
    check = sanity_checks(rec, planned_steps=10)[0]
    assert not check.passed and check.message.startswith("interrupted after 2/10 steps")


def test_a_run_cut_short_without_a_nonfinite_loss_does_not_pass_training():
    # issue 14 item 10: a model that swapped its layers was recorded for 3 of 6 steps and passed as
    # "stopped at a non-finite loss" beside "loss finite at all steps"
    rec = record({"a.weight": ([1.0] * 3, [1e-3] * 3)}, steps=3, losses=[1.0, 0.9, 0.8])
    check = sanity_checks(rec, planned_steps=6)[0]
    assert not check.passed and "no non-finite loss" in check.message


def test_a_run_stopped_at_a_nonfinite_loss_passes_training_with_that_reason():
    rec = record({"a.weight": ([1.0] * 3, [1e-3] * 3)}, steps=3, losses=[1.0, 2.0, float("inf")])
    check = sanity_checks(rec, planned_steps=6)[0]
    assert check.passed and "stopped at a non-finite loss" in check.message


# The overfit comparison ---------------------------------------------------------------------------------------------

def test_overfit_passes_when_the_trained_loss_ends_below_the_control_by_the_margin():
    control = [2.0] * 11
    trained = [2.0 - 0.1 * i for i in range(11)]  # last window (1 loss): 1.0, 50% below the control
    check = overfit_check(trained, control, steps=10, batch=32, min_drop=0.01)
    assert check.passed and "fell 50.0% below" in check.message


def test_overfit_fails_when_training_does_no_better_than_the_lr0_control():
    control = [2.0, 2.1, 1.9, 2.0] * 5  # dropout-like noise, shared by both runs at the same steps
    check = overfit_check(list(control), control, steps=19, batch=32, min_drop=0.01)
    assert not check.passed and "fell only 0.0%" in check.message and "needs 1.0%" in check.message


def test_overfit_fails_when_the_loss_becomes_non_finite_or_the_run_stops_early():
    assert "non-finite at step 2" in overfit_check([1.0, 0.5, NAN], [1.0] * 3, 2, 32, 0.01).message
    assert not overfit_check([1.0, 0.5], [1.0] * 3, 2, 32, 0.01).passed


@given(st.lists(st.floats(0.01, 100), min_size=3, max_size=30), st.floats(0.0, 0.99))
def test_overfit_verdict_follows_the_relative_drop_of_the_window_means(control, min_drop):
    # The trained losses are the control's scaled by (1 - d) for a known d: the verdict must be d >= min_drop.
    for d, expected in ((min_drop + 0.005, True), (min_drop - 0.005, False)):
        if 0 <= d < 1:
            trained = [c * (1 - d) for c in control]
            check = overfit_check(trained, control, steps=len(control) - 1, batch=8, min_drop=min_drop)
            assert check.passed == expected, (d, check.message)
