"""Rule `loss_not_decreasing`: mean of the last tenth vs the first tenth of the losses."""

import pytest
from rules_tables import INF, NAN, THRESHOLDS, constant, falling, record

from gradscope.rules import loss_not_decreasing


def run(losses, **overrides):
    return loss_not_decreasing.check(record(constant(len(losses), [1.0]), losses=losses), {**THRESHOLDS, **overrides})


def ends(n, first, last, middle=5.0):
    """n losses: the first tenth at `first`, the last tenth at `last`, the rest at `middle` (which must not matter)."""
    k = max(1, n // 10)
    return [first] * k + [middle] * (n - 2 * k) + [last] * k


def test_falling_loss_gives_nothing():
    assert run(falling(50)) == []


@pytest.mark.parametrize("last, fires", [(0.9899, False), (0.9901, True)])
def test_edge_of_the_default_min_drop(last, fires):
    findings = run(ends(20, 1.0, last))
    assert bool(findings) is fires
    if fires:
        [f] = findings
        assert (f.rule, f.severity, f.layer, f.step) == ("loss_not_decreasing", "warning", None, None)
        assert f.evidence["first"] == pytest.approx(1.0) and f.evidence["last"] == pytest.approx(0.9901)
        assert f.evidence["change"] == pytest.approx(-0.0099) and f.evidence["window"] == 2


def test_message_shows_the_numbers():
    [f] = run(ends(100, 1.1, 1.09))
    assert f.message.startswith("loss went from 1.1 to 1.09 (-0.9%) over 100 steps")
    assert "first and last 10 steps" in f.message and "1.0% drop" in f.message


def test_window_is_a_mean_over_a_tenth():
    # n = 40 -> k = 4. first four [2, 0, 0, 0] mean 0.5; last four 0.6 each: a rise. Only the first loss (2.0)
    # against the last would look like a fall
    assert run([2.0, 0.0, 0.0, 0.0] + [1.0] * 32 + [0.6] * 4)
    assert run([2.0, 0.0, 0.0, 0.0] + [1.0] * 32 + [0.49] * 4) == []


def test_threshold_override():
    losses = ends(20, 1.0, 0.9)  # a 10% drop
    assert run(losses) == []
    assert run(losses, **{"loss_not_decreasing.min_drop": 0.11})
    assert run(losses, **{"loss_not_decreasing.min_drop": 0.09}) == []


def test_rising_loss_shows_a_plus():
    [f] = run(ends(10, 1.0, 1.5))
    assert "(+50.0%)" in f.message and "the first and last step" in f.message


def test_negative_loss_uses_the_magnitude():
    # first -2.0: a drop to -2.01 is 0.5% of |first| (fires); to -2.03 is 1.5% (does not).
    # first * (1 - min_drop) = -1.98 would wrongly pass -2.01
    assert run(ends(20, -2.0, -2.01))
    assert run(ends(20, -2.0, -2.03)) == []


def test_zero_first_loss_fires_only_on_a_rise():
    assert run(ends(20, 0.0, 0.0)) == []
    [f] = run(ends(20, 0.0, 0.1))
    assert "(" not in f.message.split(" over ")[0]


def test_short_run_is_too_few_steps_to_judge_as_info():
    # regression: a 4-step run was warned about as "not decreasing"
    [f] = run([1.0] * 9)
    assert f.severity == "info" and "too few steps to judge" in f.message and f.evidence["steps"] == 9
    assert run([1.0] * 10)[0].severity == "warning"
    assert run([1.0, 0.5, 0.2, 0.1]) == []  # a short run that clearly fell: nothing to say
    assert run([1.0]) == []


def test_a_gan_gets_no_loss_trend():
    # regression: a GAN generator's adversarial loss, which is not meant to fall, was "not decreasing"
    flat = [1.0] * 40
    for meta in ({"models": 2}, {"optimizers": 2}, {"optimizer": "Adam, SGD"}):
        assert loss_not_decreasing.check(record([[1.0]] * 40, losses=flat, meta=meta), THRESHOLDS) == []
    assert loss_not_decreasing.check(record([[1.0]] * 40, losses=flat, meta={"models": 1}), THRESHOLDS)


def test_any_non_finite_loss_silences_the_rule():
    assert run([1.0] * 10 + [NAN]) == []
    assert run([1.0, INF] + [1.0] * 10) == []
    assert run([NAN] * 10) == []


def test_scale_free():
    for scale in (1e-6, 1.0, 1e6):
        assert bool(run([scale * v for v in ends(20, 1.0, 0.9901)])) is True
        assert bool(run([scale * v for v in ends(20, 1.0, 0.9899)])) is False
