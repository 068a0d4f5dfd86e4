"""Rules `dead_units` and `saturation`: late-run median fraction of dead / saturated units per activation layer."""

import pytest
from rules_tables import NAN, THRESHOLDS, constant, record

from gradscope.rules import dead_units, saturation

RULES = [(dead_units, "dead", "dead_units.fraction"), (saturation, "saturated", "saturation.fraction")]


def acts(layer, kind, fractions, steps=None):
    steps = steps if steps is not None else range(len(fractions))
    return [(s, layer, kind, f) for s, f in zip(steps, fractions)]


# The tests below the edge test share one fraction threshold, 0.5, so their numbers read the same for both rules.
HALF = {"dead_units.fraction": 0.5, "saturation.fraction": 0.5}


def run(rule, activations, **overrides):
    return rule.check(record(constant(4, [1.0]), activations=activations), {**THRESHOLDS, **HALF, **overrides})


@pytest.mark.parametrize("rule, kind, key, default", [(*r, d) for r, d in zip(RULES, (0.75, 0.5))])
@pytest.mark.parametrize("offset, fires", [(0.01, True), (0.0, False), (-0.01, False)])
def test_edge_of_the_default_fraction(rule, kind, key, default, offset, fires):
    fraction = default + offset
    findings = rule.check(record(constant(4, [1.0]), activations=acts("net.3", kind, [fraction] * 4)), THRESHOLDS)
    assert bool(findings) is fires
    if fires:
        [f] = findings
        assert (f.rule, f.severity, f.layer, f.step) == (rule.ID, "warning", "net.3", None)
        assert f.evidence == {"fraction": pytest.approx(fraction), "samples": 2}
        assert f"{fraction:.1%}" in f.message and f"threshold {default:.1%}" in f.message


@pytest.mark.parametrize("rule, kind, key", RULES)
def test_threshold_override(rule, kind, key):
    assert run(rule, acts("net.1", kind, [0.3] * 4), **{key: 0.25})
    assert run(rule, acts("net.1", kind, [0.3] * 4), **{key: 0.3}) == []


@pytest.mark.parametrize("rule, kind, key", RULES)
def test_only_the_last_half_counts(rule, kind, key):
    assert run(rule, acts("net.1", kind, [1.0, 1.0, 0.1, 0.1])) == []
    [f] = run(rule, acts("net.1", kind, [0.0, 0.0, 0.9, 0.9]))
    assert f.evidence["fraction"] == pytest.approx(0.9)


@pytest.mark.parametrize("rule, kind, key", RULES)
def test_odd_count_uses_the_last_ceil_half(rule, kind, key):
    # 5 samples -> the last 3: [0.9, 0.0, 0.9], median 0.9 (the last 2 would give 0.45)
    [f] = run(rule, acts("net.1", kind, [0.0, 0.0, 0.9, 0.0, 0.9]))
    assert f.evidence == {"fraction": pytest.approx(0.9), "samples": 3}


@pytest.mark.parametrize("rule, kind, key", RULES)
def test_median_not_mean(rule, kind, key):
    # last half [0.6, 0.6, 0.0]: median 0.6 fires, mean 0.4 would not
    [f] = run(rule, acts("net.1", kind, [0.0, 0.0, 0.0, 0.6, 0.6, 0.0]))
    assert f.evidence["fraction"] == pytest.approx(0.6)


@pytest.mark.parametrize("rule, kind, key", RULES)
def test_sampled_every_k_steps(rule, kind, key):
    [f] = run(rule, acts("net.1", kind, [0.0, 0.0, 0.8, 0.7], steps=[0, 5, 10, 15]))
    assert f.evidence == {"fraction": pytest.approx(0.75), "samples": 2}


@pytest.mark.parametrize("rule, kind, key", RULES)
def test_nan_samples_are_ignored(rule, kind, key):
    [f] = run(rule, acts("net.1", kind, [0.0, 0.9, NAN, NAN]))
    assert f.evidence == {"fraction": pytest.approx(0.9), "samples": 1}


def test_one_finding_per_layer_and_kinds_do_not_mix():
    rows = acts("net.1", "dead", [0.9] * 4) + acts("net.3", "dead", [0.7] * 4) + acts("net.5", "saturated", [0.9] * 4)
    assert [f.layer for f in run(dead_units, rows)] == ["net.1", "net.3"]
    assert [f.layer for f in run(saturation, rows)] == ["net.5"]


@pytest.mark.parametrize("rule, kind, key", RULES)
def test_no_activation_rows(rule, kind, key):
    assert run(rule, []) == []
    assert rule.check(record([], names=["fc0"]), THRESHOLDS) == []


def test_output_sigmoid_of_an_autoencoder_is_not_saturation():
    # regression: a healthy conv autoencoder's final sigmoid (targets 0/1) was warned about as saturated
    from gradscope.rules import saturation

    acts = [(s, "7", "saturated", 0.995) for s in range(10)]
    names = ["0", "2", "4", "6"]
    assert saturation.check(record(constant(10, [1.0] * 4), names=names, activations=acts), THRESHOLDS) == []
    hidden = [(s, "5", "saturated", 0.995) for s in range(10)]  # between parameter layers 4 and 6: judged
    assert saturation.check(record(constant(10, [1.0] * 4), names=names, activations=hidden), THRESHOLDS)
