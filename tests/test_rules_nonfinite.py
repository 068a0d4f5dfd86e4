"""Rule `nonfinite`: the first NaN/Inf in the loss or a gradient, one finding per run."""

import math

from rules_tables import INF, NAN, THRESHOLDS, constant, falling, from_rows, record

from gradscope.rules import nonfinite


def run(rec):
    return nonfinite.check(rec, THRESHOLDS)


def test_finite_table_has_no_finding():
    assert run(record(constant(5, [0.1, 1.0, 2.0]))) == []


def test_nan_gradient_reports_its_step_layer_and_parameter():
    grads = constant(6, [0.1, 1.0, 2.0])
    grads[3][1] = NAN
    grads[5][2] = NAN  # later occurrences do not add findings
    [f] = run(record(grads))
    assert (f.rule, f.severity, f.step, f.layer) == ("nonfinite", "error", 3, "fc1")
    assert "step 3" in f.message and "fc1.weight (NaN)" in f.message and "loss was finite" in f.message
    assert list(f.evidence) == ["fc1.weight"] and math.isnan(f.evidence["fc1.weight"])


def test_layer_is_the_bad_one_nearest_the_output():
    grads = constant(4, [0.1, 1.0, 2.0])
    grads[2][0] = INF
    grads[2][2] = NAN
    [f] = run(record(grads))
    assert (f.step, f.layer) == (2, "fc2")
    assert f.message.index("fc2.weight") < f.message.index("fc0.weight")
    assert "2 parameters" in f.message and "fc0.weight (Inf)" in f.message


def test_only_the_loss_bad_gives_no_layer_and_names_the_loss():
    losses = falling(6)
    losses[4] = INF
    [f] = run(record(constant(6, [1.0, 1.0]), losses=losses))
    assert (f.step, f.layer) == (4, None)
    assert "loss was Inf" in f.message and "every gradient was still finite" in f.message
    assert f.evidence == {"loss": INF}


def test_loss_and_gradients_bad_at_the_same_step_names_both():
    losses = falling(5)
    losses[2] = NAN
    grads = constant(5, [1.0, 1.0])
    grads[2] = [NAN, NAN]
    [f] = run(record(grads, losses=losses))
    assert (f.step, f.layer) == (2, "fc1")
    assert "loss was NaN" in f.message and "fc1.weight (NaN)" in f.message
    assert set(f.evidence) == {"loss", "fc0.weight", "fc1.weight"}


def test_the_earlier_of_loss_and_gradient_wins():
    losses = falling(8)
    losses[3] = NAN
    grads = constant(8, [1.0, 1.0])
    grads[5][0] = NAN
    [f] = run(record(grads, losses=losses))
    assert (f.step, f.layer) == (3, None)
    grads[1][0] = INF
    [f] = run(record(grads, losses=losses))
    assert (f.step, f.layer) == (1, "fc0")


def test_missing_gradient_is_not_a_nan_gradient():
    grads = constant(4, [1.0, 1.0])
    grads[1][0] = NAN
    has_grad = [[True, True], [False, True], [True, True], [True, True]]
    assert run(record(grads, has_grad=has_grad)) == []


def test_all_nan_losses_report_step_zero():
    [f] = run(record(constant(5, [1.0, 1.0]), losses=[NAN] * 5))
    assert (f.step, f.layer) == (0, None)


def test_zero_and_one_step_records():
    assert run(record([], names=["fc0"])) == []
    assert run(record([[1.0]])) == []
    [f] = run(record([[NAN]], losses=[1.0]))
    assert (f.step, f.layer) == (0, "fc0")


def test_message_names_at_most_three_parameters_evidence_all():
    grads = constant(3, [1.0] * 5)
    grads[1] = [NAN] * 5
    [f] = run(record(grads))
    assert "5 parameters" in f.message and f.message.endswith(", ...")
    assert f.message.count(".weight") == 3 and "fc4.weight" in f.message and "fc0.weight" not in f.message
    assert len(f.evidence) == 5


def test_one_nan_parameter_in_a_finite_layer_is_still_caught():
    # the layer norm of a layer with one NaN and one finite parameter comes out finite (pandas skips NaN in sums);
    # the rule reads the parameter rows, so it still sees the NaN
    rows = [dict(step=s, layer="fc0", param=p, grad_norm=1.0, param_norm=1.0, update_norm=1e-3, has_grad=True)
            for s in range(3) for p in ("fc0.weight", "fc0.bias")]
    rows[2]["grad_norm"] = NAN  # step 1, fc0.weight
    [f] = run(from_rows(rows, ["fc0"], falling(3)))
    assert (f.step, f.layer, list(f.evidence)) == (1, "fc0", ["fc0.weight"])


def test_recorder_nonfinite_table_is_merged():
    rec = record(constant(8, [1.0, 1.0]), nonfinite=[(6, "fc0.weight", "fc0", INF)])
    [f] = run(rec)
    assert (f.step, f.layer, f.evidence) == (6, "fc0", {"fc0.weight": INF})
    grads = constant(8, [1.0, 1.0])
    grads[2][1] = NAN
    [f] = run(record(grads, nonfinite=[(6, "fc0.weight", "fc0", INF)]))
    assert (f.step, f.layer) == (2, "fc1")
