"""Property tests: the depth/time/update verdicts are scale-free, and one inserted NaN gives one nonfinite finding."""

import math

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from rules_tables import NAN, THRESHOLDS, falling, record

from gradscope.rules import exploding, nonfinite, update_ratio, vanishing

SCALED_RULES = {"vanishing": vanishing, "exploding": exploding}
log_norm = st.floats(min_value=-10, max_value=6).map(lambda e: 10.0 ** e)


@st.composite
def tables(draw, min_steps=1):
    steps = draw(st.integers(min_steps, 12))
    layers = draw(st.integers(1, 5))
    grads = [[draw(log_norm) for _ in range(layers)] for _ in range(steps)]
    missing = draw(st.lists(st.tuples(st.integers(0, steps - 1), st.integers(0, layers - 1)), max_size=4))
    has_grad = [[True] * layers for _ in range(steps)]
    for s, j in missing:
        has_grad[s][j], grads[s][j] = False, NAN
    params = [[draw(log_norm) for _ in range(layers)] for _ in range(steps)]
    updates = [[p * draw(st.floats(-8, 1).map(lambda e: 10.0 ** e)) for p in row] for row in params]
    return grads, has_grad, params, updates


def build(table, scale_grads=1.0, scale_weights=1.0):
    grads, has_grad, params, updates = table
    return record([[g * scale_grads for g in row] for row in grads], has_grad=has_grad,
                  param_norm=[[p * scale_weights for p in row] for row in params],
                  update_norm=[[u * scale_weights for u in row] for row in updates])


def verdict(rule, rec, thresholds=THRESHOLDS):
    return [(f.rule, f.layer, f.step, sorted(f.evidence)) for f in rule.check(rec, thresholds)]


def nudged(factor):
    return {k: v * factor for k, v in THRESHOLDS.items()}


def off_the_edge(rule, rec):
    """The verdict does not flip when every threshold moves by 1e-9 relative: the table is not on an edge."""
    return verdict(rule, rec, nudged(1 - 1e-9)) == verdict(rule, rec) == verdict(rule, rec, nudged(1 + 1e-9))


@settings(max_examples=60, deadline=None)
@given(table=tables(), k=st.integers(-30, 30))
def test_power_of_two_scaling_is_exactly_invisible(table, k):
    # scaling by 2**k is exact in floating point, so every ratio (and so every verdict) must be identical
    base, scaled = build(table), build(table, 2.0 ** k, 2.0 ** k)
    for rule in (vanishing, exploding, update_ratio):
        a, b = rule.check(base, THRESHOLDS), rule.check(scaled, THRESHOLDS)
        assert [(f.layer, f.step) for f in a] == [(f.layer, f.step) for f in b]
        if rule is not exploding:  # exploding's evidence holds norms (peak, baseline) which scale
            assert [f.evidence for f in a] == [f.evidence for f in b]


@settings(max_examples=40, deadline=None)
@given(table=tables(), scale=st.floats(-6, 6).map(lambda e: 10.0 ** e))
def test_any_positive_scale_keeps_the_verdict(table, scale):
    base = build(table)
    for rule in (vanishing, exploding, update_ratio):
        assume(off_the_edge(rule, base))
    scaled = build(table, scale, scale)
    for rule in (vanishing, exploding, update_ratio):
        assert verdict(rule, scaled) == verdict(rule, base)


@settings(max_examples=40, deadline=None)
@given(table=tables(), scale=st.floats(-6, 6).map(lambda e: 10.0 ** e))
def test_update_ratio_ignores_gradient_scale(table, scale):
    # the update ratio reads updates and weights only; scaling the gradients alone changes nothing
    assert verdict(update_ratio, build(table, scale_grads=scale)) == verdict(update_ratio, build(table))


@settings(max_examples=60, deadline=None)
@given(data=st.data(), table=tables(), bad=st.sampled_from([math.nan, math.inf, -math.inf]))
def test_one_inserted_nan_gradient_gives_one_finding_at_its_step(data, table, bad):
    grads, has_grad, params, updates = table
    steps, layers = len(grads), len(grads[0])
    assert nonfinite.check(build(table), THRESHOLDS) == []
    s, j = data.draw(st.integers(0, steps - 1)), data.draw(st.integers(0, layers - 1))
    grads = [list(row) for row in grads]
    has_grad = [list(row) for row in has_grad]
    grads[s][j], has_grad[s][j] = bad, True
    rec = record(grads, has_grad=has_grad, param_norm=params, update_norm=updates, losses=falling(steps))
    [f] = nonfinite.check(rec, THRESHOLDS)
    assert (f.step, f.layer, list(f.evidence)) == (s, f"fc{j}", [f"fc{j}.weight"])
