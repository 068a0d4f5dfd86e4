"""The baseline check on hand-built reports: per-layer median gradient norms against a saved report."""

import json
import statistics

import pytest

from gradscope.gate.baseline import baseline_check, layer_medians, load_baseline, profile_changes
from gradscope.errors import GradscopeError


def report(layers, **settings):
    """layers: {name: [grad norm per step]} -> a minimal gradscope.report/1 dict."""
    runs = [{"layers": [{"name": n, "type": "Linear", "grad_norm": g, "param_norm": [1.0] * len(g),
                         "update_norm": [1e-3] * len(g)} for n, g in layers.items()]}]
    return {"schema": "gradscope.report/1", "settings": {"lr": 0.01, "steps": 4, **settings}, "runs": runs}


BASE = {"fc0": [1e-2, 2e-2, 3e-2, 100.0], "fc1": [0.5, 0.4, 0.6, 0.5], "fc2": [1.0, 1.0, 1.0, 1.0]}


def test_layer_medians_are_the_median_of_the_finite_measured_norms():
    medians = layer_medians(report({"a": [1.0, "NaN", 3.0, None, 2.0], "b": [None, None]})["runs"][0])
    assert medians == {"a": statistics.median([1.0, 3.0, 2.0]), "b": None}


def test_the_same_profile_passes():
    check = baseline_check(report(BASE), report(BASE), factor=10)
    assert check.passed and check.message == "all 3 layers within 10x of the baseline" and check.details == ()


def test_a_move_inside_the_factor_passes_and_beyond_it_fails_either_way():
    inside = {**BASE, "fc1": [v * 9.9 for v in BASE["fc1"]]}
    assert baseline_check(report(inside), report(BASE), factor=10).passed
    up = {**BASE, "fc1": [v * 10.5 for v in BASE["fc1"]]}
    down = {**BASE, "fc2": [v / 10.5 for v in BASE["fc2"]]}
    failed_up = baseline_check(report(up), report(BASE), factor=10)
    assert not failed_up.passed and failed_up.details == ("layer fc1: median |g| 5.0e-01 → 5.2e+00 (10.5x, beyond 10x)",)
    failed_down = baseline_check(report(down), report(BASE), factor=10)
    assert not failed_down.passed and failed_down.details[0].startswith("layer fc2: median |g| 1.0e+00 → 9.5e-02")


def test_one_spiky_step_does_not_move_the_median():
    spiky = {**BASE, "fc2": [1.0, 1.0, 1e6, 1.0]}
    assert baseline_check(report(spiky), report(BASE), factor=10).passed


def test_a_configurable_factor():
    moved = {**BASE, "fc1": [v * 3 for v in BASE["fc1"]]}
    assert baseline_check(report(moved), report(BASE), factor=10).passed
    assert not baseline_check(report(moved), report(BASE), factor=2).passed


def test_layers_that_appear_disappear_or_lose_their_gradient_fail():
    now = {"fc0": BASE["fc0"], "fc1": [None] * 4, "proj": [1.0] * 4}
    changes = profile_changes(layer_medians(report(now)["runs"][0]), layer_medians(report(BASE)["runs"][0]), 10)
    assert changes == ["layer proj appeared (not in the baseline)",
                       "layer fc2 disappeared (in the baseline, not in this run)",
                       "layer fc1 lost its gradient (median |g| 5.0e-01 → none)"]
    zero = profile_changes({"fc0": 0.0}, {"fc0": 1e-3}, 10)
    assert zero == ["layer fc0: median |g| 1.0e-03 → 0.0e+00 (0x, beyond 10x)"]
    assert profile_changes({"fc0": 0.0}, {"fc0": 0.0}, 10) == []


def test_differing_settings_are_noted_without_failing():
    check = baseline_check(report(BASE, lr=0.1), report(BASE), factor=10)
    assert check.passed and check.details == ("note: lr differs: 0.01 in the baseline, 0.1 now",)


def test_load_baseline_accepts_a_report_and_rejects_anything_else(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(report(BASE)))
    assert load_baseline(good)["runs"][0]["layers"][0]["name"] == "fc0"
    for name, text in (("missing.json", None), ("bad.json", "{not json"), ("other.json", '{"schema": "x/1"}'),
                       ("list.json", "[1, 2]")):
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        with pytest.raises(GradscopeError) as exc:
            load_baseline(path)
        assert str(path) in exc.value.message and "--json" in exc.value.fix
