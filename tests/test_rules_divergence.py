"""Rule `divergence`: the loss against step 0 and against its running minimum."""

import pytest
from rules_tables import INF, NAN, THRESHOLDS, constant, falling, record

from gradscope.rules import divergence


def run(losses, meta=None, **overrides):
    rec = record(constant(len(losses), [1.0]), losses=losses, meta=meta)
    return divergence.check(rec, {**THRESHOLDS, **overrides})


def test_learning_rate_1000x_too_high_is_divergence_from_step_0():
    # regression: 3.5 -> 197 -> 3567 then saturation was headlined `vanishing`; nothing compared with step 0
    losses = [3.5, 197.0, 3567.0] + [2000.0] * 37
    [f] = run(losses)
    assert f.severity == "error" and f.step == 1
    assert "rose 56.3x from step 0 by step 1" in f.message
    assert f.evidence["peak"] == 3567.0 and f.evidence["peak_step"] == 2


@pytest.mark.parametrize("tail, fires", [(3.01, True), (3.0, False), (2.0, False)])
def test_edge_of_the_rise_when_the_loss_stays_up(tail, fires):
    # step 0 at 1.0, a first rise to 5 (above 3x), then the run sits at `tail` x step 0 for the rest
    losses = [1.0, 5.0] + [tail] * 38
    assert bool(run(losses)) is fires


def test_a_rise_that_comes_back_is_not_divergence_unless_it_blew_up():
    assert run([1.0, 5.0] + [0.5] * 38) == []  # 5x then recovered: `spike` territory
    [f] = run([1.0, 9.5] + [0.5] * 38)  # 9.5 > 3 ** 2 x step 0: a blow-up even though it came back
    assert f.step == 1


def test_a_rise_then_nan_is_divergence():
    [f] = run([1.0, 4.0, 40.0, NAN, NAN])
    assert "then became NaN/Inf" in f.message and f.step == 1


def test_rise_threshold_override():
    assert run([1.0, 2.5] + [2.5] * 18) == []
    assert run([1.0, 2.5] + [2.5] * 18, **{"divergence.rise": 2.0})


def test_gave_back_what_it_learned_is_divergence_from_the_minimum():
    # learned 2.0 -> 0.1, then climbed back to 1.5: below 3x step 0, but 15x the minimum
    losses = [2.0 * 0.7 ** s for s in range(9)] + [0.1] * 11 + [1.5] * 20
    [f] = run(losses)
    assert "giving back 74%" in f.message and f.evidence["minimum"] == pytest.approx(0.1)


def test_healthy_noisy_descent_is_not_divergence():
    noise = [1.0, 1.3, 0.8, 1.1, 0.9]
    assert run([falling(100)[s] * noise[s % 5] for s in range(100)]) == []
    assert run(falling(40, start=1e-3)) == []


def test_no_scale_to_rise_from_and_no_evidence():
    assert run([-1.0, 5.0, 5.0, 5.0]) == []  # a negative first loss (log-likelihood, policy gradient)
    assert run([0.0, 5.0, 5.0]) == []
    assert run([1.0]) == [] and run([]) == []
    assert run([NAN, 1.0]) == []  # one finite loss


def test_a_gan_is_skipped():
    assert run([1.0, 10.0] + [10.0] * 20, meta={"models": 2}) == []
    assert run([1.0, 10.0] + [10.0] * 20, meta={"models": 1})


def test_scale_free():
    for scale in (1e-6, 1e6):
        assert run([scale * v for v in [1.0, 5.0] + [3.01] * 38])
        assert run([scale * v for v in [1.0, 5.0] + [3.0] * 38]) == []
        assert run([scale, INF]) == []  # nothing finite after step 0 to compare


@pytest.mark.parametrize("peak, update, fires", [(1.51, 3.1, True), (1.5, 3.1, False), (1.9, 3.0, False)])
def test_early_overshoot_needs_both_a_rising_loss_and_a_step_bigger_than_the_weights(peak, update, fires):
    # an LSTM at Adam lr 1.0: 6.2 -> 11.6 (1.9x) and back down, its updates 14x its weights at step 0
    losses = [1.0, peak, 1.2, 0.9] + [0.5] * 16
    updates = [[update]] + [[1e-3]] * 19
    rec = record(constant(20, [1.0]), losses=losses, update_norm=updates)
    findings = divergence.check(rec, THRESHOLDS)
    assert bool(findings) is fires
    if fires:
        assert "the steps overshoot" in findings[0].message and findings[0].step == 1
