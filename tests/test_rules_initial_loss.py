"""Rule `initial_loss` (step 0 and the end against ln C or the target variance) and exploding's loss-scale arm."""

import math

import pytest
from rules_tables import THRESHOLDS, constant, falling, record

from gradscope.rules import exploding, initial_loss

C32 = {"classes": 32}  # ln 32 = 3.466
MSE = {"target_second_moment": 4.0, "target_variance": 1.0}


def run(losses, meta, rule=initial_loss, **overrides):
    return rule.check(record(constant(len(losses), [1.0]), losses=losses, meta=meta), {**THRESHOLDS, **overrides})


def test_logits_far_too_large_at_init_are_reported_with_ln_c():
    # regression: a 32-class classifier starting at 55 (ln 32 = 3.47) passed every check
    [f] = run([55.0] + falling(39, start=20.0), C32)
    assert f.severity == "warning" and "55" in f.message and "ln 32 = 3.47" in f.message
    assert f.evidence["scale"] == pytest.approx(math.log(32))


@pytest.mark.parametrize("start, fires", [(3.01 * math.log(32), True), (2.99 * math.log(32), False)])
def test_edge_of_the_start_factor(start, fires):
    assert bool(run([start] + [0.5] * 19, C32)) is fires


def test_ending_above_chance_is_reported_after_enough_steps():
    [f] = run([3.5] * 5 + [3.9] * 15, C32)  # 3.9 > 1.1 x ln 32 = 3.81
    assert "worse than chance" in f.message and f.evidence["end"] == pytest.approx(3.9)
    assert run([3.5] * 5 + [3.4] * 15, C32) == []
    assert run([3.5, 3.9, 3.9], C32) == []  # too few steps to say how it ends


@pytest.mark.parametrize("end, fires", [(1.101 * math.log(32), True), (1.099 * math.log(32), False)])
def test_edge_of_the_chance_margin(end, fires):
    assert bool(run([3.5] * 5 + [end] * 15, C32)) is fires


def test_a_classifier_that_learned_nothing_is_not_called_worse_than_chance():
    # regression: deep_sigmoid (3 classes) ended at 1.11 against ln 3 = 1.0986, and a warning said "worse than
    # chance, check the labels": batch noise around chance, which vanishing already explains
    assert run([1.10] * 20 + [1.11] * 20, {"classes": 3}) == []


def test_regression_against_the_target_moments():
    [f] = run([15.5] + [0.5] * 19, MSE)  # 15.5 > 3 x (E[y^2] + 1) = 15
    assert "E[y^2] + 1 = 5" in f.message
    assert run([14.5] + [0.5] * 19, MSE) == []
    # regression: ending above the target variance was reported, but a healthy MSE run still converging sits there
    assert run([4.0] + [1.2] * 19, MSE) == []


SIGMOID_REGRESSION = {"target_second_moment": 2525.0, "target_variance": 25.0}  # targets 50 +- 5


def test_a_regression_ending_far_above_predicting_the_mean_is_reported():
    # regression (benchmark held-out): a sigmoid output for targets ~50 ended ~80x Var(y) and nothing fired
    [f] = run([2500.0] + [2400.0] * 19, SIGMOID_REGRESSION)
    assert f.evidence["end"] == pytest.approx(2400.0) and "96x what predicting the mean (25)" in f.message


@pytest.mark.parametrize("end, fires", [(10.01, True), (9.99, False)])
def test_edge_of_the_end_factor(end, fires):
    # 10 x Var(y) = 10; the start (4.0) is under 3 x (E[y^2] + 1), so only the end is judged
    assert bool(run([4.0] + [end] * 19, MSE)) is fires


def test_the_end_is_not_judged_on_near_constant_targets_or_short_runs():
    constant_targets = {"target_second_moment": 2500.0, "target_variance": 2.49}  # Var/E[y^2] just under 1e-3
    assert run([2500.0] + [30.0] * 19, constant_targets) == []
    assert run([2500.0] + [30.0] * 19, {**constant_targets, "target_variance": 2.51})
    assert run([2500.0] + [2400.0] * 8, SIGMOID_REGRESSION) == []  # 9 steps: too few to say how it ends


def test_no_known_scale_no_finding():
    assert run([55.0] * 20, {}) == [] and run([55.0] * 20, {"classes": 1}) == []
    assert run([math.nan] * 3, C32) == []


def test_a_loss_astronomically_above_its_scale_is_exploding_even_with_flat_ratios():
    # the 10-layer linear chain with gain 2.5: loss 1.9e7 at step 0, every gradient ratio equal
    [f] = run([1.9e7, math.nan], MSE, rule=exploding)
    assert f.severity == "error" and f.step == 0 and "natural scale E[y^2] + 1 = 5" in f.message
    assert run([4.9e3, 1.0], MSE, rule=exploding) == []  # below 1e3 x 5
    assert run([5.1e3, 1.0], MSE, rule=exploding)


def test_a_sigmoid_autoencoder_on_sparse_pixels_starts_at_its_natural_scale():
    # regression: outputs ~0.5 against mostly-0 pixels (E[y^2] = 0.08) start at MSE 0.25, 3.1 x E[y^2]: not a bug
    assert run([0.25] + falling(19, start=0.2), {"target_second_moment": 0.08, "target_variance": 0.07}) == []
