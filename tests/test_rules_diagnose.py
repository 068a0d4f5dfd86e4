"""`diagnose` and the RULES registry: ordering, ignore lists, defaults, healthy runs, degenerate records."""

import json
import subprocess
import sys

import pytest
from rules_tables import NAN, THRESHOLDS, constant, falling, record

from gradscope.errors import GradscopeError
from gradscope.rules.finding import SEVERITY_ORDER
from gradscope.rules import RULES, diagnose, validate_rule_ids

IDS = ["divergence", "nonfinite", "exploding", "vanishing", "unused", "dead_units", "saturation", "update_ratio",
       "spike", "initial_loss", "loss_not_decreasing"]


def healthy(steps=40):
    """Layer norms within 10x, falling loss, update ratios near 1e-3, few dead or saturated units."""
    grads = [[0.2 * (1 + 0.01 * s), 0.5, 1.0, 2.0] for s in range(steps)]
    activations = [(s, "net.1", "dead", 0.1) for s in range(steps)]
    activations += [(s, "net.3", "saturated", 0.05) for s in range(steps)]
    return record(grads, update_norm=2e-3, param_norm=1.5, activations=activations)


def sick():
    """A vanishing net (fc0 1e-6 x fc3), fc2.weight never used, a flat loss, a NaN gradient at step 12 (late: it
    explains none of the rest)."""
    steps = 20
    grads = constant(steps, [1e-6, 1e-2, NAN, 1.0])
    has_grad = [[True, True, False, True] for _ in range(steps)]
    grads[12][3] = NAN
    return record(grads, has_grad=has_grad, losses=[1.0] * steps)


def test_registry_order_and_attributes():
    assert list(RULES) == IDS
    for rule_id, rule in RULES.items():
        assert rule.ID == rule_id and rule.SEVERITY in SEVERITY_ORDER
        for text in (rule.DESCRIPTION, rule.HINT):
            assert text and "\n" not in text
        assert callable(rule.check)


def test_healthy_run_has_no_findings_at_all():
    assert diagnose(healthy(), THRESHOLDS) == []


def test_sick_run_findings_sorted_by_severity_then_cause():
    findings = diagnose(sick(), THRESHOLDS)
    assert [(f.rule, f.step) for f in findings] == [
        ("nonfinite", 12), ("unused", None), ("vanishing", None), ("loss_not_decreasing", None)]
    assert [f.severity for f in findings] == ["error", "error", "error", "warning"]


def test_findings_are_json_friendly():
    findings = diagnose(sick(), THRESHOLDS)
    text = json.dumps([f.to_dict() for f in findings])  # NaN stays visible as NaN
    assert json.loads(text)[0]["rule"] == "nonfinite"


def test_ignore_removes_rules():
    rules = {f.rule for f in diagnose(sick(), THRESHOLDS, ignore=["vanishing", "loss_not_decreasing"])}
    assert rules == {"unused", "nonfinite"}
    assert {f.rule for f in diagnose(sick(), THRESHOLDS, ignore="unused")} == {
        "vanishing", "nonfinite", "loss_not_decreasing"}
    assert diagnose(sick(), THRESHOLDS, ignore=IDS) == []


def test_unknown_rule_id_lists_the_valid_ones():
    with pytest.raises(GradscopeError) as err:
        diagnose(healthy(), THRESHOLDS, ignore=["vanishing", "vanshing"])
    assert "'vanshing'" in err.value.message and "'vanishing'" not in err.value.message
    assert all(rule_id in err.value.fix for rule_id in IDS)
    with pytest.raises(GradscopeError):
        validate_rule_ids(["nope", "also_nope"])
    assert validate_rule_ids(("unused",)) == ["unused"]


def test_missing_thresholds_take_their_defaults():
    assert [f.rule for f in diagnose(sick(), {})] == [f.rule for f in diagnose(sick(), THRESHOLDS)]
    assert "vanishing" not in {f.rule for f in diagnose(sick(), {"vanishing.ratio": 1e-7})}


def test_zero_steps():
    assert diagnose(record([], names=["fc0", "fc1"]), THRESHOLDS) == []


def test_one_step():
    assert diagnose(record([[0.5, 1.0]], update_norm=1e-3), THRESHOLDS) == []
    findings = diagnose(record([[NAN, 1.0]], has_grad=[[False, True]]), THRESHOLDS)
    assert [f.rule for f in findings] == ["unused"]


def test_all_nan_losses_give_one_nonfinite_and_no_loss_trend():
    findings = diagnose(record(constant(10, [0.5, 1.0]), losses=[NAN] * 10), THRESHOLDS)
    assert [(f.rule, f.step, f.layer) for f in findings] == [("nonfinite", 0, None)]


def test_missing_grad_steps_alone_are_not_a_problem():
    grads = [[0.5, 1.0] if s % 3 else [NAN, NAN] for s in range(30)]
    has_grad = [[bool(s % 3)] * 2 for s in range(30)]
    assert diagnose(record(grads, has_grad=has_grad, losses=falling(30)), THRESHOLDS) == []


def test_rules_import_neither_torch_nor_pandas():
    code = "import sys, gradscope.rules; print(sorted(m for m in ('torch', 'pandas') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
