"""Rule `exploding`: depth ratio vs the smallest downstream gradient, and growth of the total norm over the run."""

import pytest
from rules_tables import INF, NAN, THRESHOLDS, constant, falling, from_rows, record

from gradscope.rules import exploding, vanishing


def run(rec, **overrides):
    return exploding.check(rec, {**THRESHOLDS, **overrides})


def test_healthy_layers_within_10x_do_not_explode():
    assert run(record(constant(20, [4.0, 2.0, 1.0, 0.5]))) == []


@pytest.mark.parametrize("first, fires", [(1010.0, True), (1000.0, False), (990.0, False)])
def test_depth_edge_of_the_default_ratio(first, fires):
    findings = run(record(constant(4, [first, 1.0])))
    assert bool(findings) is fires
    if fires:
        [f] = findings
        assert (f.rule, f.severity, f.layer, f.step) == ("exploding", "error", "fc0", None)
        assert f.evidence["depth_ratio"] == pytest.approx(first / 1.0)
        assert "growth" not in f.evidence


def test_depth_threshold_override():
    rec = record(constant(4, [500.0, 1.0]))
    assert run(rec) == []
    assert run(rec, **{"exploding.ratio": 499.0})


def test_depth_reference_is_the_smallest_downstream_not_the_next_layer():
    # fc0 / fc1 = 2 would pass; fc0 / fc2 = 2000 does not; fc1 / fc2 = 1000 sits on the threshold (no)
    [f] = run(record(constant(3, [2e3, 1e3, 1.0])))
    assert f.layer == "fc0"
    assert f.evidence == {"depth_ratio": pytest.approx(2000.0), "depth_worst": pytest.approx(2000.0), "depth_layers": 1}
    assert "fc2 (1.0e+00)" in f.message and "2.0e+03" in f.message


def test_vanishing_net_does_not_trigger_depth():
    rec = record(constant(5, [1e-8, 1e-6, 1e-4, 1e-2, 1.0]))
    assert run(rec) == []
    assert vanishing.check(rec, THRESHOLDS)  # the same table is a clear vanishing case


def test_downstream_zero_gradient_layer_is_not_a_reference():
    assert run(record(constant(3, [1.0, 0.0, 1.0]))) == []


def grown(n, peak_step, peak, head=(1.0, 3.0)):
    """A one-layer table (no depth evidence possible) whose total norm starts at `head` and peaks once."""
    norms = [[1.0] for _ in range(n)]
    for s, v in enumerate(head):
        norms[s][0] = v
    norms[peak_step][0] = peak
    return record(norms)


@pytest.mark.parametrize("peak, fires", [(1001.0, True), (1000.0, False), (999.0, False)])
def test_growth_edge_against_step_0(peak, fires):
    # the first two totals are 1 and 3: the baseline is step 0's 1, measured before any update
    findings = run(grown(20, 15, peak))
    assert bool(findings) is fires
    if fires:
        [f] = findings
        assert (f.step, f.layer) == (15, None)
        assert f.evidence["growth"] == pytest.approx(peak)
        assert f.evidence["baseline"] == pytest.approx(1.0) and f.evidence["peak_step"] == 15
        assert "from 1.0e+00 at step 0" in f.message and "at step 15" in f.message and "depth_ratio" not in f.evidence


def test_growth_baseline_already_blown_up_by_step_2_still_counts():
    # regression: the old baseline (median of the first tenth: 1, 100, 2e3 -> 100) hid a 1500x rise from step 0
    [f] = run(grown(30, 20, 1500.0, head=(1.0, 100.0, 2e3)))
    assert f.evidence["growth"] == pytest.approx(2e3)


def test_growth_threshold_override():
    assert run(grown(20, 15, 500.0), **{"exploding.growth": 200.0})


def test_growth_ignores_steps_with_a_non_finite_gradient():
    # at step 10 fc0.weight is NaN and fc0.bias 1e6: the total (pandas skips NaN) would read 1e6
    rows = []
    for s in range(20):
        for p, g in (("fc0.weight", 1.0), ("fc0.bias", 1.0)):
            rows.append(dict(step=s, layer="fc0", param=p, grad_norm=g, param_norm=1.0, update_norm=1e-3,
                             has_grad=True))
    rows[20]["grad_norm"], rows[21]["grad_norm"] = NAN, 1e6
    assert run(from_rows(rows, ["fc0"], falling(20))) == []
    rec = record([[1.0]] * 10 + [[INF]] + [[1.0]] * 9)
    assert run(rec) == []


def test_growth_with_zero_baseline_is_skipped():
    assert run(record([[0.0]] * 5 + [[1.0]] * 15)) == []


def test_depth_and_growth_together_one_finding():
    norms = [[2000.0, 1.0] for _ in range(20)]
    norms[12] = [4e6, 1e3]  # total 4e6 vs 2e3 at the start: 2000x
    [f] = run(record(norms))
    assert (f.layer, f.step) == ("fc0", 12)
    assert {"depth_ratio", "growth"} <= set(f.evidence)
    assert "; and the total gradient norm grew" in f.message


def test_zero_and_one_step_records():
    assert run(record([], names=["fc0", "fc1"])) == []
    assert run(record([[1.0, 1.0]])) == []
    [f] = run(record([[5e3, 1.0]]))
    assert f.evidence["depth_ratio"] == pytest.approx(5e3) and "growth" not in f.evidence


def test_missing_grad_steps_do_not_count():
    norms = [[1.0] for _ in range(20)]
    has_grad = [[True] for _ in range(20)]
    has_grad[5] = [False]
    norms[5] = [1e9]  # not a gradient: has_grad is False
    assert run(record(norms, has_grad=has_grad)) == []


def swelling(losses, norms):
    """One layer whose gradient norm per step is `norms`, with these losses (updates ordinary)."""
    return record([[g] for g in norms], losses=losses)


def test_gradients_that_swell_while_the_loss_holds_are_noted():
    # regression (bug_no_zero_grad): the summed gradients grow 4x by step 5 while the loss is still near its start
    norms = [1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.0, 9.0, 12.0, 50.0, 2e3]
    losses = [10.0, 6.0, 5.0, 5.5, 4.0, 30.0, 5.0, 6.0, 7.0, 40.0, 1e4]  # one noisy batch at step 5
    [f] = run(swelling(losses, norms))
    assert f.evidence["grew_before_loss"] == 5
    assert "4 x by step 5" in f.message and "zero_grad()" in f.message


def test_gradients_that_swell_while_the_loss_falls_are_noted_before_the_loss_turns():
    # regression (f2_bug_accum_no_zero_grad, SGD + momentum): the accumulated gradient quadruples by step 5 while
    # the loss falls 3x; the loss turns up by step 12, before the norm reaches 10x (then only divergence led)
    norms = [1.32, 2.58, 3.52, 4.43, 5.05, 5.34, 4.97, 5.0, 7.23, 11.34, 12.23, 7.69, 20.12, 41.1, 2e3]
    losses = [0.744, 0.714, 0.681, 0.54, 0.426, 0.241, 0.267, 0.592, 0.907, 1.038, 0.48, 2.102, 9.692, 11.5, 1e3]
    [f] = run(swelling(losses, norms))
    assert f.evidence["grew_before_loss"] == 5


@pytest.mark.parametrize("losses, norms", [
    ([3.5, 197.0, 3567.0, 4e3, 5e3, 6e3, 7e3], [1.0, 300.0, 2e4, 1e5, 1e5, 1e5, 1e5]),  # lr too high: at once
    ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 1e4], [1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 20.0, 2e3]),  # the loss rose first
])
def test_gradients_growing_with_the_loss_are_not_noted(losses, norms):
    [f] = run(swelling(losses, norms))
    assert "grew_before_loss" not in f.evidence
