"""`gradscope check` end to end: exit codes on the sample models, the CI outputs, config, overfit and baseline."""

import json
import os
import xml.etree.ElementTree as ET
from contextlib import contextmanager

import pytest

from cli_helpers import SAMPLES, gradscope_frames, invoke

CHECKS = ["training", "loss", "gradients", "updates", "findings"]


@contextmanager
def cwd(path):
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def junit_counts(path):
    suite = ET.parse(path).getroot().find("testsuite")
    failed = [c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None]
    return int(suite.get("tests")), int(suite.get("failures")), failed


@pytest.fixture(scope="module")
def healthy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("healthy")
    result = invoke("check", SAMPLES / "healthy_mlp.py", "--steps", "30", "--overfit-steps", "20", "--format", "github",
                    "--json", folder / "r.json", "--junit", folder / "r.xml")
    return result, folder


@pytest.fixture(scope="module")
def sigmoid(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sigmoid")
    result = invoke("check", SAMPLES / "deep_sigmoid.py", "--steps", "30", "--json", folder / "r.json",
                    "--junit", folder / "r.xml", "--format", "github")
    return result, folder


def test_healthy_mlp_passes_every_check(healthy):
    result, _ = healthy
    assert result.exit_code == 0, result.output
    for name in CHECKS + ["overfit"]:
        assert f"✔ {name}" in result.output
    assert "PASSED: 6 checks" in result.output and "::error" not in result.output


def test_json_report_adds_the_checks_and_the_gate(healthy):
    _, folder = healthy
    report = json.loads((folder / "r.json").read_text())
    assert report["schema"] == "gradscope.report/1" and report["command"] == "check"
    assert [c["name"] for c in report["checks"]] == CHECKS + ["overfit"]
    assert all(c["passed"] for c in report["checks"]) and report["gate"]["passed"] is True
    assert report["gate"]["fail_on"] == "error" and report["settings"]["device"] == "cpu"  # check defaults to CPU


def test_junit_of_a_passing_run_has_one_testcase_per_check_and_no_failure(healthy):
    _, folder = healthy
    assert junit_counts(folder / "r.xml") == (6, 0, [])


def test_deep_sigmoid_fails_naming_the_rule_and_the_frozen_parameters(sigmoid):
    result, _ = sigmoid
    assert result.exit_code == 1, result.output
    assert "✖ findings" in result.output and "[error] vanishing (layer 0)" in result.output
    assert "✖ updates" in result.output and "0.weight (max |g|" in result.output
    assert "FAILED: 2 of 5 checks (updates, findings)" in result.output


def test_junit_counts_the_failed_checks(sigmoid):
    _, folder = sigmoid
    report = json.loads((folder / "r.json").read_text())
    failed_in_json = [c["name"] for c in report["checks"] if not c["passed"]]
    assert junit_counts(folder / "r.xml") == (5, 2, failed_in_json) and failed_in_json == ["updates", "findings"]


def test_github_format_prints_annotations_for_failed_checks_and_findings(sigmoid):
    result, _ = sigmoid
    lines = [line for line in result.output.splitlines() if line.startswith("::")]
    path = str(SAMPLES / "deep_sigmoid.py")
    assert f"::error file={path},title=gradscope check%3A updates::8 of 24 parameters never changed%0A" in lines[0]
    assert lines[1] == f"::error file={path},title=gradscope check%3A findings::1 finding(s) at --fail-on error"
    assert lines[2].startswith(f"::error file={path},title=gradscope vanishing (layer 0)::8 layers have vanishing")
    assert any(line.startswith("::warning ") for line in lines[3:])


def test_ignore_and_fail_on_from_pyproject_and_flags(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.gradscope]\nmodel = "{SAMPLES / "deep_sigmoid.py"}"\nsteps = 30\nfail_on = "warning"\n')
    with cwd(tmp_path):
        warned = invoke("check", "--ignore", "vanishing")
        muted = invoke("check", "--ignore", "vanishing", "--fail-on", "error")
    # Muting vanishing excuses the parameters its finding explains, so only the warnings fail, under fail_on=warning.
    assert warned.exit_code == 1, warned.output
    assert "FAILED: 1 of 5 checks (findings)" in warned.output and "[warning] update_ratio" in warned.output
    assert muted.exit_code == 0, muted.output
    assert "excused, explained by muted rule vanishing: 0.weight" in muted.output
    assert "no error findings (muted: vanishing)" in muted.output


def test_unused_layer_fails_naming_its_parameters_and_muting_unused_passes():
    failed = invoke("check", SAMPLES / "unused_layer.py", "--steps", "10")
    assert failed.exit_code == 1, failed.output
    assert "no gradient at any step: skip.weight, skip.bias" in failed.output
    assert "[error] unused (layer skip): skip.weight never received a gradient" in failed.output
    muted = invoke("check", SAMPLES / "unused_layer.py", "--steps", "10", "--ignore", "unused")
    assert muted.exit_code == 0, muted.output


def test_a_muted_check_is_shown_as_skipped():
    result = invoke("check", SAMPLES / "unused_layer.py", "--steps", "10", "--ignore", "updates")
    assert result.exit_code == 1 and "– updates   muted by --ignore" in result.output
    assert "FAILED: 2 of 5 checks (gradients, findings)" in result.output


def test_nan_loss_fails_the_loss_check():
    result = invoke("check", SAMPLES / "nan_loss.py", "--steps", "20")
    assert result.exit_code == 1 and "✖ loss      non-finite at step" in result.output


def test_overfit_fails_when_the_learning_rate_makes_learning_impossible(tmp_path):
    result = invoke("check", SAMPLES / "healthy_mlp.py", "--steps", "5", "--lr", "1e-9", "--overfit-steps", "10",
                    "--json", tmp_path / "r.json")
    assert result.exit_code == 1
    overfit = next(c for c in json.loads((tmp_path / "r.json").read_text())["checks"] if c["name"] == "overfit")
    assert not overfit["passed"] and "fell only 0.0% below the lr=0 control" in overfit["message"]


def test_baseline_passes_against_itself_and_fails_when_a_layer_moved(healthy, tmp_path):
    _, folder = healthy
    saved = json.loads((folder / "r.json").read_text())
    same = invoke("check", SAMPLES / "healthy_mlp.py", "--steps", "30", "--baseline", folder / "r.json",
                  "--json", tmp_path / "again.json")
    assert same.exit_code == 0, same.output
    assert "✔ baseline  all 6 layers within 10x of" in same.output
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["runs"][0]["losses"] == saved["runs"][0]["losses"]  # deterministic: bit-identical numbers
    assert again["runs"][0]["layers"] == saved["runs"][0]["layers"]
    first = saved["runs"][0]["layers"][0]
    first["grad_norm"] = [v * 100 for v in first["grad_norm"]]  # as if that layer's init had changed
    (tmp_path / "moved.json").write_text(json.dumps(saved))
    moved = invoke("check", SAMPLES / "healthy_mlp.py", "--steps", "30", "--baseline", tmp_path / "moved.json")
    assert moved.exit_code == 1 and "✖ baseline  1 of 6 layers changed" in moved.output
    assert "layer 0: median |g|" in moved.output and "(0.01x, beyond 10x)" in moved.output


@pytest.mark.parametrize("args, message", [
    (["--ignore", "vanishng"], "unknown rule or check 'vanishng'"),
    (["--format", "xml"], "unknown --format 'xml'"),
    (["--fail-on", "info"], "invalid value for fail_on"),
    (["--baseline", "missing.json"], "baseline report not found"),
    (["--baseline-factor", "1"], "invalid value for baseline_factor"),
    (["--overfit-steps", "0"], "invalid value for overfit_steps"),
])
def test_usage_errors_exit_2_without_a_traceback(args, message):
    result = invoke("check", SAMPLES / "healthy_mlp.py", "--steps", "2", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and not gradscope_frames(result.output) and "Traceback" not in result.output


def test_no_model_anywhere_is_a_usage_error(tmp_path):
    with cwd(tmp_path):
        result = invoke("check")
    assert result.exit_code == 2 and "no model file given" in result.output and "[tool.gradscope]" in result.output


def test_a_model_key_of_the_wrong_type_names_its_source(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.gradscope]\nmodel = 3\n")
    with cwd(tmp_path):
        result = invoke("check")
    assert result.exit_code == 2 and "model in [tool.gradscope] in pyproject.toml must be str" in result.output
