"""Rule `vanishing`: a layer's median gradient vs the largest one downstream, at the edges of vanishing.ratio."""

import pytest
from rules_tables import INF, NAN, THRESHOLDS, constant, from_rows, record

from gradscope.rules import vanishing


def run(rec, **overrides):
    return vanishing.check(rec, {**THRESHOLDS, **overrides})


def test_healthy_layers_within_10x_do_not_vanish():
    assert run(record(constant(5, [0.5, 1.0, 2.0, 4.0]))) == []


@pytest.mark.parametrize("first, fires", [(0.99e-3, True), (1e-3, False), (1.01e-3, False)])
def test_edge_of_the_default_ratio(first, fires):
    findings = run(record(constant(4, [first, 1.0])))
    assert bool(findings) is fires
    if fires:
        assert findings[0].evidence == {"fc0": pytest.approx(first / 1.0)}


def test_threshold_override_is_used():
    rec = record(constant(4, [1e-4, 1.0]))
    assert run(rec)
    assert run(rec, **{"vanishing.ratio": 0.99e-4}) == []
    assert run(rec, **{"vanishing.ratio": 1.01e-4})


def test_reference_is_the_largest_downstream_not_the_next_layer():
    # fc0 / fc1 = 1e-2 would pass; fc0 / fc2 = 1e-4 does not
    [f] = run(record(constant(3, [1e-4, 1e-2, 1.0])))
    assert (f.rule, f.severity, f.layer, f.step) == ("vanishing", "error", "fc0", None)
    assert f.evidence == {"fc0": pytest.approx(1e-4)}
    assert "1 layer has" in f.message and "1.0e-04" in f.message and "fc2 (1.0e+00)" in f.message


def test_slow_decay_over_many_layers_is_caught():
    norms = [0.35 ** (7 - i) for i in range(8)]  # each layer 0.35x the next
    [f] = run(record(constant(3, norms)))
    assert f.evidence == {"fc0": pytest.approx(0.35 ** 7)}  # 6.4e-4; fc1 is 0.35**6 = 1.8e-3
    norms = [0.4 ** (7 - i) for i in range(8)]  # 0.4**7 = 1.6e-3: none vanish
    assert run(record(constant(3, norms))) == []


def test_several_vanishing_layers_one_finding_at_the_input_most():
    [f] = run(record(constant(3, [1e-5, 1e-6, 1e-1, 1.0])))
    assert f.layer == "fc0"
    assert f.evidence == {"fc0": pytest.approx(1e-5), "fc1": pytest.approx(1e-6)}
    assert "2 layers have" in f.message and "worst ratio 1.0e-06 at fc1" in f.message


def test_gradients_growing_toward_the_input_do_not_vanish():
    assert run(record(constant(3, [1e6, 1e3, 1.0]))) == []


def test_summary_is_the_median_over_steps():
    # fc0 is 1e-5 on 4 of 5 steps and 10 on one: median 1e-5, vanishes (a mean of 2.0 would not)
    grads = constant(5, [1e-5, 1.0])
    grads[2][0] = 10.0
    [f] = run(record(grads))
    assert f.evidence == {"fc0": pytest.approx(1e-5)}


def test_non_finite_steps_are_ignored_in_the_summary():
    grads = constant(5, [1e-5, 1.0])
    grads[0][1] = INF
    grads[1][1] = NAN
    grads[3][0] = NAN
    [f] = run(record(grads))
    assert f.evidence == {"fc0": pytest.approx(1e-5)}


def test_missing_grad_steps_are_ignored():
    grads = constant(6, [1e-5, 1.0])
    has_grad = [[s % 2 == 0, True] for s in range(6)]
    for s in range(1, 6, 2):
        grads[s][0] = NAN
    [f] = run(record(grads, has_grad=has_grad))
    assert f.evidence == {"fc0": pytest.approx(1e-5)}


def test_layer_without_any_finite_gradient_is_skipped():
    grads = constant(3, [NAN, 1e-5, 1.0])
    has_grad = [[False, True, True]] * 3
    [f] = run(record(grads, has_grad=has_grad))
    assert f.layer == "fc1" and set(f.evidence) == {"fc1"}


def test_all_zero_layer_is_left_to_unused_but_zero_median_vanishes():
    assert run(record(constant(4, [0.0, 1.0]))) == []
    grads = constant(5, [0.0, 1.0])
    grads[0][0] = 0.5  # one non-zero step: median 0 -> ratio 0
    [f] = run(record(grads))
    assert f.evidence == {"fc0": 0.0}


def test_every_layer_zero_has_no_reference_and_no_finding():
    assert run(record(constant(3, [0.0, 0.0]))) == []


def test_partly_nan_layer_step_is_not_evidence():
    # fc0's two parameters at the only step: weight NaN, bias 1e-6. The layer norm (pandas skips NaN) reads 1e-6;
    # the rule must not call that a vanishing gradient, it is a non-finite one
    cell = dict(step=0, param_norm=1.0, update_norm=1e-3, has_grad=True)
    rows = [dict(cell, layer="fc0", param="fc0.weight", grad_norm=NAN),
            dict(cell, layer="fc0", param="fc0.bias", grad_norm=1e-6),
            dict(cell, layer="fc1", param="fc1.weight", grad_norm=1.0)]
    assert run(from_rows(rows, ["fc0", "fc1"], [1.0])) == []


def test_zero_and_one_step_records():
    assert run(record([], names=["fc0", "fc1"])) == []
    assert run(record([[1.0, 2.0]])) == []
    [f] = run(record([[1e-9, 2.0]]))
    assert f.evidence == {"fc0": pytest.approx(5e-10)}


def test_single_layer_never_vanishes():
    assert run(record(constant(3, [1e-12]))) == []
