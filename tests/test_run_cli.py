"""`gradscope run` through the CLI: the script's arguments, exit codes, stopping, crashes and the report files.

Every script is written into tmp_path and trains a tiny model in a few milliseconds; it runs in this process, so
the tests also check that sys.argv, sys.path and sys.modules['__main__'] are put back.
"""

import json
import os
import sys
import textwrap

import pytest

from cli_helpers import gradscope_frames, invoke

TRAIN = """\
import json, os, sys
import torch
from torch import nn


def train(steps, lr=0.05, nan_at=None, on_step=None):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    for step in range(steps):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        if step == nan_at:
            loss = loss * float("nan")
        loss.backward()
        opt.step()
        if on_step:
            on_step(step)
"""


def _script(folder, body: str, name: str = "train.py"):
    path = folder / name
    path.write_text(TRAIN + textwrap.dedent(body))
    return path


def _report(path):
    return json.loads(path.read_text())


def test_arguments_after_the_script_reach_it_and_the_interpreter_state_is_put_back(tmp_path):
    script = _script(tmp_path, """
        with open(os.path.join(os.path.dirname(__file__), "seen.json"), "w") as f:
            json.dump({"argv": sys.argv, "name": __name__, "path0": sys.path[0]}, f)
        train(3)
    """)
    argv, path, main = list(sys.argv), list(sys.path), sys.modules["__main__"]
    result = invoke("run", "--max-steps", "2", script, "--lr", "3e-4", "-q", "--max-steps", "9", "--help")
    assert result.exit_code == 0, result.output
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen["argv"] == [str(script), "--lr", "3e-4", "-q", "--max-steps", "9", "--help"]
    assert seen["name"] == "__main__" and seen["path0"] == str(tmp_path.resolve())
    assert (sys.argv, sys.path, sys.modules["__main__"]) == (argv, path, main)


def test_a_module_runs_with_dash_m_and_gets_the_arguments_after_it(tmp_path, monkeypatch):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    _script(tmp_path / "pkg", """
        with open("seen.json", "w") as f:
            json.dump(sys.argv, f)
        if __name__ == "__main__":
            train(3)
    """)
    monkeypatch.chdir(tmp_path)
    result = invoke("run", "--max-steps", "2", "-m", "pkg.train", "--config", "cfg.yaml")
    assert result.exit_code == 0, result.output
    argv = json.loads((tmp_path / "seen.json").read_text())
    assert argv[0].endswith("train.py") and argv[1:] == ["--config", "cfg.yaml"]
    assert "stopped the script after 2 optimizer steps" in result.output


def test_healthy_script_passes_with_exit_0_and_shows_the_tables(tmp_path):
    result = invoke("run", _script(tmp_path, "train(5)\n"))
    assert result.exit_code == 0, result.output
    for line in ("gradscope run: Sequential", "gradient norms per layer", "the script finished after 5 optimizer "
                 "steps", "PASSED"):
        assert line in result.output


def test_error_finding_fails_with_exit_1(tmp_path):
    result = invoke("run", _script(tmp_path, "train(6, nan_at=3)\n"))
    assert result.exit_code == 1, result.output
    assert "nonfinite" in result.output and "FAILED" in result.output


def test_junit_and_github_annotations_report_the_failing_finding(tmp_path):
    import xml.etree.ElementTree as ET

    script = _script(tmp_path, "train(6, nan_at=3)\n")
    result = invoke("run", "--junit", tmp_path / "j.xml", "--format", "github", script)
    assert result.exit_code == 1, result.output
    suite = ET.parse(tmp_path / "j.xml").getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    assert int(suite.get("failures")) == 1 and len(suite.findall(".//failure")) == 1
    assert any(line.startswith("::error file=") and "nonfinite" in line for line in result.output.splitlines())


def test_fail_on_warning_turns_warnings_into_exit_1(tmp_path):
    script = _script(tmp_path, "train(12, lr=0.0)\n")  # the weights never move: update_ratio warns
    default, strict = invoke("run", script), invoke("run", "--fail-on", "warning", script)
    assert default.exit_code == 0, default.output
    assert strict.exit_code == 1 and "update_ratio" in strict.output


@pytest.mark.parametrize("args, message", [
    (["missing.py"], "script not found: missing.py"),
    (["--bogus", "train.py"], "unknown option --bogus"),
    (["--ignore", "no_such_rule", "train.py"], "unknown rule id"),
    (["--max-steps", "0", "train.py"], "--max-steps"),
    (["-m", "no_such_module_here"], "no module named"),
])
def test_usage_errors_exit_2_before_the_script_runs(tmp_path, monkeypatch, args, message):
    _script(tmp_path, "open('ran', 'w').close()\ntrain(2)\n")
    monkeypatch.chdir(tmp_path)
    result = invoke("run", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and not (tmp_path / "ran").exists()


def test_max_steps_stops_the_script_cleanly_and_its_finally_block_runs(tmp_path):
    script = _script(tmp_path, """
        try:
            train(1000)
        finally:
            open(os.path.join(os.path.dirname(__file__), "finally-ran"), "w").close()
    """)
    result = invoke("run", "--max-steps", "5", "--json", tmp_path / "r.json", script)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "finally-ran").exists()
    report = _report(tmp_path / "r.json")
    assert report["runs"][0]["steps_recorded"] == 5
    assert report["script"]["ended"] == "stopped" and report["script"]["stop_reason"] == "max_steps"


def test_a_crashing_script_keeps_the_steps_before_and_shows_its_own_traceback(tmp_path):
    script = _script(tmp_path, """
        def check(step):
            if step == 2:
                raise ValueError("bad batch at step 2")
        train(10, on_step=check)
    """)
    result = invoke("run", "--json", tmp_path / "r.json", "--csv", tmp_path / "r.csv", script)
    assert result.exit_code == 2, result.output
    assert f'File "{script}", line' in result.output and "in check" in result.output
    assert "ValueError: bad batch at step 2" in result.output
    assert gradscope_frames(result.output) == [] and "runpy" not in result.output
    report = _report(tmp_path / "r.json")
    assert report["runs"][0]["steps_recorded"] == 3  # steps 0-2 stepped before the error
    assert report["script"]["ended"] == "crashed" and "ValueError" in report["script"]["error"]
    assert (tmp_path / "r.csv").read_text().count("\n") == 1 + 3 * 4  # header + 3 steps x 4 parameters


@pytest.mark.parametrize("ending, code, line", [
    ("sys.exit(0)", 0, "the script finished"),
    ("sys.exit(3)", 2, "exited with status 3"),
    ("raise KeyboardInterrupt", 130, "interrupted after 4 optimizer steps"),
])
def test_how_the_script_ends_decides_the_exit_code(tmp_path, ending, code, line):
    result = invoke("run", "--json", tmp_path / "r.json", _script(tmp_path, f"train(4)\n{ending}\n"))
    assert result.exit_code == code, result.output
    assert line in result.output
    assert _report(tmp_path / "r.json")["runs"][0]["steps_recorded"] == 4


def test_ctrl_c_the_script_catches_still_exits_130(tmp_path):
    script = _script(tmp_path, """
        import signal
        try:
            train(2)
            os.kill(os.getpid(), signal.SIGINT)
            train(50)
        except KeyboardInterrupt:
            print("script: caught Ctrl-C, saving")
    """)
    result = invoke("run", script)
    assert result.exit_code == 130, result.output
    assert "caught Ctrl-C" in result.output


def test_a_script_that_never_steps_an_optimizer_is_an_input_error(tmp_path):
    result = invoke("run", _script(tmp_path, "print('no training here')\n"))
    assert result.exit_code == 2, result.output
    assert "without an optimizer step" in result.output


def test_a_script_that_changes_folder_does_not_move_the_report(tmp_path, monkeypatch):
    (tmp_path / "outputs").mkdir()
    script = _script(tmp_path, "os.chdir('outputs')\ntrain(2)\n")  # as Hydra does
    monkeypatch.chdir(tmp_path)
    result = invoke("run", "--json", "r.json", script.name)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.json").exists() and not (tmp_path / "outputs" / "r.json").exists()
    assert os.getcwd() == str(tmp_path)


def test_pyproject_settings_apply_and_keys_only_check_reads_are_ignored(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.gradscope]\nmodel = "model.py"\nfail_on = "warning"\n')
    script = _script(tmp_path, "train(12, lr=0.0)\n")  # update_ratio warns: fails only under fail_on = warning
    monkeypatch.chdir(tmp_path)
    result = invoke("run", script.name)
    assert result.exit_code == 1, result.output
    assert "update_ratio" in result.output


@pytest.mark.parametrize("flags, every", [((), 16), (("--stats-every", "1"), 1)])
def test_run_takes_statistics_every_sixteenth_step_unless_told(tmp_path, flags, every):
    script = _script(tmp_path, "train(20)\n")
    report = tmp_path / "r.json"
    result = invoke("run", *flags, "--json", report, "-q", script)
    assert result.exit_code == 0, result.output
    data = _report(report)
    assert data["settings"]["stats_every"] == every
    (run,) = data["runs"]
    measured = [step for step, value in enumerate(run["layers"][0]["param_norm"]) if value is not None]
    assert measured == list(range(0, 20, every))
    assert all(value is not None for value in run["layers"][0]["grad_norm"])  # gradients: every step


def test_a_config_file_overrides_run_s_default_stats_every(tmp_path):
    script = _script(tmp_path, "train(8)\n")
    config, report = tmp_path / "gs.yaml", tmp_path / "r.json"
    config.write_text("stats_every: 4\n")
    result = invoke("run", "--config", config, "--json", report, "-q", script)
    assert result.exit_code == 0, result.output
    (run,) = _report(report)["runs"]
    assert [s for s, v in enumerate(run["layers"][0]["param_norm"]) if v is not None] == [0, 4]


def test_max_steps_equal_to_the_script_s_length_lets_its_final_evaluation_and_save_run(tmp_path):
    script = _script(tmp_path, """
        train(5)
        with torch.no_grad():
            nn.Linear(4, 1)(torch.randn(2, 4))  # a final evaluation: a forward pass after the last step
        open(os.path.join(os.path.dirname(__file__), "saved"), "w").close()
    """)
    result = invoke("run", "--max-steps", "5", "--json", tmp_path / "r.json", script)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "saved").exists()
    assert _report(tmp_path / "r.json")["script"]["ended"] == "finished"


@pytest.mark.parametrize("first_line, code", [("raise ValueError('bad config')", 2), ("raise KeyboardInterrupt", 130)])
def test_a_script_that_ends_before_its_first_step_writes_a_csv_header_and_no_passed_gate(tmp_path, first_line, code):
    import pandas as pd

    result = invoke("run", "--json", tmp_path / "r.json", "--csv", tmp_path / "r.csv",
                    _script(tmp_path, first_line + "\ntrain(3)\n"))
    assert result.exit_code == code, result.output
    table = pd.read_csv(tmp_path / "r.csv")
    assert len(table) == 0 and {"variant", "step", "param", "grad_norm"} <= set(table.columns)
    report = _report(tmp_path / "r.json")
    assert report["gate"]["passed"] is False
    assert report["interrupted"] is (code == 130)


def test_run_s_csv_has_the_script_s_torch_seed_and_help_shows_the_real_stats_every_default(tmp_path):
    import pandas as pd

    result = invoke("run", "--csv", tmp_path / "r.csv", _script(tmp_path, "torch.manual_seed(7)\ntrain(2)\n"))
    assert result.exit_code == 0, result.output
    assert set(pd.read_csv(tmp_path / "r.csv")["seed"]) == {0}  # train() seeds with torch.manual_seed(0) last
    assert "[default: 16]" in invoke("run", "--help").output


def test_a_gpt_s_view_shows_its_tied_head_and_layer_names_also_at_80_columns(tmp_path):
    from rich.console import Console

    from gradscope.render.run_view import layer_table
    from test_run_patterns import GPT, HEADER

    script = tmp_path / "gpt.py"
    script.write_text(HEADER + textwrap.dedent(GPT))
    result = invoke("run", "--json", tmp_path / "r.json", script, tmp_path / "log.json")
    assert result.exit_code == 0, result.output
    assert "tied     transformer.wte.weight = lm_head.weight" in result.output
    assert "transformer.h.1.mlp" in result.output and "(model)" not in result.output
    console = Console(width=80, record=True, color_system=None, file=open(os.devnull, "w"))
    console.print(layer_table(_report(tmp_path / "r.json")["runs"][0]))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert text.count("│ transforme") == 5  # every layer's name, wrapped, where rich squeezed them to nothing
