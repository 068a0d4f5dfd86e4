"""Rule `spike`: a loss or total gradient norm far above the mean + k sigma of its last 20 steps."""

import pytest
from rules_tables import THRESHOLDS, constant, falling, record

from gradscope.rules import spike

NOISE = [1.0, 1.1, 0.9, 1.05, 0.95]


def wobbly(n):
    return [NOISE[s % 5] for s in range(n)]


def run(grads, losses=None, meta=None, **overrides):
    rec = record(grads, losses=losses, meta=meta)
    return spike.check(rec, {**THRESHOLDS, **overrides})


def test_a_loss_spike_names_its_step():
    losses = wobbly(40)
    losses[30] = 20.0
    [f] = run([[1.0, 1.0]] * 40, losses=losses)
    assert (f.step, f.severity, f.evidence["series"]) == (30, "warning", "loss")
    assert "at step 30 the loss jumped to 2.0e+01" in f.message


def test_a_gradient_spike_names_the_layer_that_moved_first():
    grads = [[w, w] for w in wobbly(40)]
    grads[29] = [1.0, 30.0]  # fc1 moves at step 29 ...
    grads[30] = [40.0, 30.0]  # ... and the total peaks at step 30 with fc0 the bigger one
    [f] = run(grads)
    assert f.step == 29 and f.layer == "fc1" and "fc1's gradient moved first" in f.message


@pytest.mark.parametrize("value, fires", [(3.2, True), (2.9, False)])
def test_both_sigma_and_factor_must_hold(value, fires):
    # the window wobbles by +-10% (std ~0.07): 2.9 is many sigmas away but under 3x the mean
    losses = wobbly(40)
    losses[30] = value
    assert bool(run(constant(40, [1.0]), losses=losses)) is fires


def test_sigmas_override():
    losses = [1.0, 3.0] * 20  # the window's mean is 2.0 and its std 1.0
    losses[30] = 7.5  # 5.5 sigma and 3.75x the mean
    assert run(constant(40, [1.0]), losses=losses) == []
    assert run(constant(40, [1.0]), losses=losses, **{"spike.sigmas": 5.0})


def test_healthy_noisy_descent_and_short_runs_have_no_spike():
    losses = [falling(200)[s] * NOISE[s % 5] for s in range(200)]
    assert run([[w, 2 * w] for w in wobbly(200)], losses=losses) == []
    short = [1.0] * 20 + [100.0]  # 20 steps of history before it: the first step that can be judged
    assert run(constant(21, [1.0]), losses=short)
    assert run(constant(20, [1.0]), losses=short[1:]) == []


def test_a_gan_is_skipped():
    losses = wobbly(40)
    losses[30] = 20.0
    assert run([[1.0]] * 40, losses=losses, meta={"models": 2}) == []


@pytest.mark.parametrize("value, severity", [(10.0, "warning"), (9.9, "info")])
def test_small_jumps_are_info_big_ones_a_warning(value, severity):
    # regression: a healthy 1000-step SGD regression was warned about a 4x jump of its (small) gradient norm
    losses = [1.0] * 40
    losses[30] = value
    [f] = run(constant(40, [1.0]), losses=losses)
    assert f.severity == severity
