"""`gradscope inspect` end to end through the CLI: exit codes, key lines, and the report files."""

import json
import math

import pandas as pd
import pytest

from cli_helpers import SAMPLES, gradscope_frames, invoke


def _strict_json(path):
    def reject(token):
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(path.read_text(), parse_constant=reject)


@pytest.fixture(scope="module")
def sigmoid_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sigmoid")
    result = invoke("inspect", SAMPLES / "deep_sigmoid.py", "--steps", "20",
                    "--json", folder / "r.json", "--csv", folder / "r.csv")
    return result, folder


def test_inspect_shows_summary_table_flow_and_diagnosis(sigmoid_run):
    result, _ = sigmoid_run
    assert result.exit_code == 0, result.output
    for line in ("gradient norms per layer", "gradient flow over steps", "diagnosis", "vanishing",
                 "synthetic classification", "cross_entropy", "sgd lr 0.01"):
        assert line in result.output


def test_json_report_follows_schema_and_agrees_with_the_csv(sigmoid_run):
    _, folder = sigmoid_run
    report = _strict_json(folder / "r.json")
    assert report["schema"] == "gradscope.report/1"
    assert {"steps", "lr", "optimizer", "batch_size", "seed", "data", "loss"} <= set(report["settings"])
    (run,) = report["runs"]
    assert run["variant"] == "baseline" and len(run["losses"]) == 20
    assert [layer["name"] for layer in run["layers"]] == [str(i) for i in range(0, 24, 2)]  # forward order
    assert any(f["rule"] == "vanishing" and f["severity"] == "error" for f in run["findings"])
    table = pd.read_csv(folder / "r.csv")
    assert list(table.columns)[:7] == ["variant", "seed", "step", "layer", "param", "grad_norm", "param_norm"]
    assert "update_norm" in table.columns
    # A layer's norm in the JSON is the root of the sum of its parameters' squared norms in the CSV.
    first = run["layers"][0]
    rows = table[(table["layer"].astype(str) == first["name"]) & (table["step"] == 5)]
    assert first["grad_norm"][5] == pytest.approx(math.sqrt((rows["grad_norm"] ** 2).sum()), rel=1e-6)


def test_nonfinite_values_stay_visible_in_json_and_csv(tmp_path):
    result = invoke("inspect", SAMPLES / "nan_loss.py", "--json", tmp_path / "r.json", "--csv", tmp_path / "r.csv")
    assert result.exit_code == 0, result.output
    run = _strict_json(tmp_path / "r.json")["runs"][0]
    assert run["losses"][-1] in ("NaN", "Infinity")
    assert run["nonfinite"][0]["where"] == "loss" and run["nonfinite"][0]["layer"] is None
    table = pd.read_csv(tmp_path / "r.csv")
    assert not table["grad_norm"].map(math.isfinite).all()


def test_quiet_prints_only_the_diagnosis():
    result = invoke("inspect", SAMPLES / "healthy_mlp.py", "--steps", "10", "--quiet")
    assert result.exit_code == 0
    assert "diagnosis" in result.output and "gradient norms per layer" not in result.output


def test_config_file_and_flags_follow_the_documented_precedence(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("steps: 7\nlr: 0.05\noptimizer: adam\n")
    result = invoke("inspect", SAMPLES / "healthy_mlp.py", "--config", config, "--lr", "0.002",
                    "--json", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    settings = _strict_json(tmp_path / "r.json")["settings"]
    assert (settings["steps"], settings["lr"], settings["optimizer"]) == (7, 0.002, "adam")


def test_threshold_flag_changes_a_verdict():
    strict = invoke("inspect", SAMPLES / "healthy_mlp.py", "--steps", "10", "--quiet",
                    "--threshold", "vanishing.ratio=0.99")
    assert "vanishing" in strict.output


def test_output_folder_missing_fails_before_training(tmp_path):
    result = invoke("inspect", SAMPLES / "healthy_mlp.py", "--json", tmp_path / "nope" / "r.json")
    assert result.exit_code == 2
    assert "does not exist" in result.output and "mkdir" in result.output
    assert not gradscope_frames(result.output)


def test_error_in_forward_at_step_k_keeps_the_steps_before(tmp_path):
    model = tmp_path / "flaky.py"
    model.write_text(
        "import torch\nfrom torch import nn\n\n"
        "class Flaky(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(4, 2)\n        self.calls = 0\n"
        "    def forward(self, x):\n        self.calls += 1\n"
        "        if self.calls > 3:  # each built model counts its own calls: training fails at step 3\n"
        "            raise ValueError('bad batch')\n"
        "        return self.fc(x)\n\n"
        "def build_model():\n    return Flaky()\n")
    result = invoke("inspect", model, "--json", tmp_path / "r.json")
    assert result.exit_code == 2
    assert "bad batch" in result.output and "flaky.py" in result.output
    assert not gradscope_frames(result.output)
    run = _strict_json(tmp_path / "r.json")["runs"][0]
    assert run["steps_recorded"] == 3 and "step 3" in run["error"]


def test_a_check_name_in_a_shared_config_ignore_does_not_break_inspect(tmp_path, monkeypatch):
    """Regression: `[tool.gradscope] ignore = ["overfit"]` is meant for `check`; every other command rejected it
    as an unknown rule id and exited 2."""
    (tmp_path / "pyproject.toml").write_text('[tool.gradscope]\nignore = ["overfit", "update_ratio"]\n')
    monkeypatch.chdir(tmp_path)
    result = invoke("inspect", SAMPLES / "healthy_mlp.py", "--steps", "3")
    assert result.exit_code == 0, result.output
    assert "diagnosis" in result.output and "unknown rule" not in result.output
