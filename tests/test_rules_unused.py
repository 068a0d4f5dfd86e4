"""Rule `unused`: parameters that never got a gradient, or only exact zeros."""

from rules_tables import NAN, THRESHOLDS, constant, falling, from_rows, record

from gradscope.rules import unused


def run(rec):
    return unused.check(rec, THRESHOLDS)


def row(step, layer, param, grad, has_grad=True):
    return dict(step=step, layer=layer, param=param, grad_norm=grad, param_norm=1.0, update_norm=1e-3,
                has_grad=has_grad)


def test_every_parameter_learning_gives_nothing():
    assert run(record(constant(4, [0.1, 1.0]))) == []


def test_never_received_a_gradient():
    grads = constant(4, [1.0, NAN])
    has_grad = [[True, False]] * 4
    [f] = run(record(grads, has_grad=has_grad))
    assert (f.rule, f.severity, f.layer, f.step) == ("unused", "error", "fc1", None)
    assert "fc1.weight never received a gradient in 4 recorded steps" in f.message
    assert f.evidence == {"steps": 4, "steps_with_grad": 0, "steps_with_zero_grad": 0}


def test_exactly_zero_at_every_step():
    [f] = run(record(constant(3, [0.0, 1.0])))
    assert f.layer == "fc0" and "exactly 0 at all 3 steps" in f.message
    assert f.evidence == {"steps": 3, "steps_with_grad": 3, "steps_with_zero_grad": 3}


def test_one_tiny_non_zero_step_is_not_unused():
    grads = constant(3, [0.0, 1.0])
    grads[1][0] = 1e-30
    assert run(record(grads)) == []


def test_zero_whenever_it_had_a_gradient_counts_as_zero():
    grads = [[0.0, 1.0], [NAN, 1.0], [0.0, 1.0]]
    has_grad = [[True, True], [False, True], [True, True]]
    [f] = run(record(grads, has_grad=has_grad))
    assert "exactly 0 at all 2 steps it had one (of 3 recorded)" in f.message


def test_gradient_at_a_single_step_is_used():
    grads = [[NAN], [0.5], [NAN]]
    has_grad = [[False], [True], [False]]
    assert run(record(grads, has_grad=has_grad)) == []


def test_nan_gradients_are_not_unused():
    assert run(record(constant(3, [NAN, 1.0]))) == []


def test_one_finding_per_parameter_in_forward_layer_order():
    rows = []
    for s in range(2):  # table order lists fc1 before fc0
        rows += [row(s, "fc1", "fc1.weight", 1.0), row(s, "fc1", "fc1.bias", NAN, has_grad=False),
                 row(s, "fc0", "fc0.weight", 0.0), row(s, "fc0", "fc0.bias", 0.5)]
    findings = run(from_rows(rows, ["fc0", "fc1"], falling(2)))
    assert [(f.layer, f.message.split()[0]) for f in findings] == [("fc0", "fc0.weight"), ("fc1", "fc1.bias")]


def test_zero_and_one_step_records():
    assert run(record([], names=["fc0"])) == []
    [f] = run(record([[NAN]], has_grad=[[False]]))
    assert f.message == "fc0.weight never received a gradient in 1 recorded step"
