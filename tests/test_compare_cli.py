"""`gradscope compare` on the command line: exit codes, --list, outputs, and the expected verdicts on sample models."""

import json
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gradscope.cli import app

SAMPLES = Path(__file__).resolve().parent.parent / "sample_models"
TINY = '''
from torch import nn


def build_model():
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
'''


def invoke(*args: str):
    return CliRunner().invoke(app, ["compare", *args], env={"COLUMNS": "120"})


def sample(name: str) -> str:
    return str(SAMPLES / f"{name}.py")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "tiny.py"
    path.write_text(TINY)
    return str(path)


# --- usage errors -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("remedy", ["foo:1", "clip:abc", "lr:x-1", "act:swish"])
def test_a_bad_remedy_exits_2_with_the_list_of_valid_ones(remedy, tiny):
    result = invoke(tiny, "--remedy", remedy)
    assert result.exit_code == 2
    assert f"remedy '{remedy}'" in result.output and "valid remedies: act:relu|sigmoid|tanh" in result.output
    assert "Traceback" not in result.output


def test_seeds_below_one_exit_2(tiny):
    assert invoke(tiny, "--seeds", "0").exit_code == 2


def test_a_missing_model_exits_2():
    result = invoke("--remedy", "clip:1.0")
    assert result.exit_code == 2 and "missing MODEL" in result.output


def test_list_shows_every_family_and_needs_no_model():
    result = invoke("--list")
    assert result.exit_code == 0
    for text in ("act:relu|sigmoid|tanh|gelu|leaky_relu", "clip:MAX_NORM", "lr:xFACTOR", "init:he|xavier", "opt:",
                 "norm:layer"):
        assert text in result.output


def test_list_and_remedy_errors_import_no_torch():
    probe = ("import sys\nfrom typer.testing import CliRunner\nfrom gradscope.cli import app\n"
             "assert CliRunner().invoke(app, ['compare', '--list']).exit_code == 0\n"
             "assert CliRunner().invoke(app, ['compare', 'x.py', '--remedy', 'clip:abc']).exit_code == 2\n"
             "print(','.join(m for m in ('torch', 'pandas') if m in sys.modules) or 'none')")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "none"


# --- Ctrl-C -----------------------------------------------------------------------------------------------------------

def test_ctrl_c_writes_what_was_recorded_and_exits_130(tiny, tmp_path, monkeypatch):
    import gradscope.runs.interrupts

    polls = []

    @contextmanager
    def pressed_after_eight_steps(timeout=None):
        polls.clear()
        yield lambda: polls.append(1) or len(polls) > 8

    monkeypatch.setattr(gradscope.runs.interrupts, "stop_on_sigint", pressed_after_eight_steps)
    out = tmp_path / "r.json"
    result = invoke(tiny, "--steps", "6", "--remedy", "clip:1.0", "--remedy", "lr:x10", "--json", str(out))
    assert result.exit_code == 130
    report = json.loads(out.read_text())
    assert report["interrupted"] is True and [r["variant"] for r in report["runs"]] == ["baseline", "clip:1.0"]
    assert report["comparison"]["not_run"] == ["lr:x10"]
    assert "interrupted: the table covers the runs recorded before Ctrl-C" in result.output


# --- sample models (one short compare each, shared by the tests below) ------------------------------------------------

@pytest.fixture(scope="module")
def deep_sigmoid(tmp_path_factory):
    out = tmp_path_factory.mktemp("deep") / "r.json"
    result = invoke(sample("deep_sigmoid"), "--steps", "40", "--json", str(out))
    return result, json.loads(out.read_text())


@pytest.fixture(scope="module")
def exploding(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exploding")
    result = invoke(sample("exploding_deep_linear"), "--steps", "40", "--remedy", "clip:1.0", "--remedy", "lr:x0.1",
                    "--remedy", "act:relu", "--json", str(folder / "r.json"), "--csv", str(folder / "r.csv"))
    return result, json.loads((folder / "r.json").read_text()), (folder / "r.csv").read_text()


@pytest.fixture(scope="module")
def healthy(tmp_path_factory):
    out = tmp_path_factory.mktemp("healthy") / "r.json"
    result = invoke(sample("healthy_mlp"), "--steps", "40", "--json", str(out))
    return result, json.loads(out.read_text())


def rows(report) -> dict:
    return {row["variant"]: row for row in report["comparison"]["rows"]}


def test_deep_sigmoid_relu_or_an_init_change_wins_and_clears_vanishing(deep_sigmoid):
    result, report = deep_sigmoid
    assert result.exit_code == 0, result.output
    table = rows(report)
    assert list(table)[:4] == ["baseline", "act:relu", "init:he", "act:relu+init:he"]
    assert "vanishing" in table["baseline"]["findings"]
    best = report["comparison"]["best"]
    assert best.startswith(("act:relu", "init:"))
    assert not [r for r, f in table[best]["findings"].items() if f["severity"] == "error"]
    assert table[best]["first_grad"]["median"] > 1e3 * table["baseline"]["first_grad"]["median"]
    assert "raises the first layer's gradient norm" in report["comparison"]["recommendation"]
    assert f"★ {best}" in result.output and "recommendation" in result.output
    assert "time per variant: baseline" in result.output


def test_exploding_clip_and_a_lower_lr_both_remove_the_explosion(exploding):
    result, report, _ = exploding
    assert result.exit_code == 0, result.output
    table = rows(report)
    base = table["baseline"]
    assert base["status"] == "diverged" and base["nonfinite"] > 0 and "exploding" in base["findings"]
    for remedy in ("clip:1.0", "lr:x0.1"):
        row = table[remedy]
        assert row["status"] == "ok" and row["nonfinite"] == 0, row
        assert "exploding" not in row["findings"]
        assert row["max_total_grad"]["median"] < 1e-3 * base["max_total_grad"]["median"]
    assert report["comparison"]["best"] in ("clip:1.0", "lr:x0.1")
    assert "trains without NaN/Inf" in report["comparison"]["recommendation"]


def test_an_inapplicable_remedy_is_a_row_that_says_why(exploding):
    result, report, _ = exploding
    row = rows(report)["act:relu"]
    assert row["status"] == "not_applicable" and "no activation module" in row["reason"]
    assert "act:relu" not in {run["variant"] for run in report["runs"]}
    assert "not applicable: the model has no activation module" in result.output


def test_json_and_csv_carry_one_run_per_variant(exploding):
    _, report, csv = exploding
    assert report["schema"] == "gradscope.report/1" and report["command"] == "compare"
    assert [run["variant"] for run in report["runs"]] == ["baseline", "clip:1.0", "lr:x0.1"]
    assert csv.splitlines()[0].startswith("variant,seed,step,layer,param")
    assert {line.split(",")[0] for line in csv.splitlines()[1:]} == {"baseline", "clip:1.0", "lr:x0.1"}


def test_healthy_baseline_stays_fine(healthy):
    result, report = healthy
    assert result.exit_code == 0, result.output
    base = rows(report)["baseline"]
    assert base["status"] == "ok" and base["verdict"] == "healthy" and base["rank_class"] == 0
    assert not [r for r, f in base["findings"].items() if f["severity"] == "error"]
    assert list(rows(report)) == ["baseline", "lr:x0.1", "lr:x10", "opt:adam"]
    recommendation = report["comparison"]["recommendation"]
    assert recommendation.startswith(("The baseline is healthy;", "Keep the baseline"))


@pytest.mark.parametrize("width", [80, 120])
def test_the_view_fits_a_narrow_terminal_by_splitting_the_table(healthy, width):
    from rich.console import Console

    from gradscope.render.compare_view import compare_view

    _, report = healthy  # read back from JSON: NaN/Inf arrive as strings
    console = Console(width=width, record=True)
    console.print(compare_view(report))
    text = console.export_text()
    assert all(len(line) <= width for line in text.splitlines())
    assert ("gradient norms (median over steps" in text) == (width < 112)
    for variant in ("baseline", "lr:x0.1", "lr:x10", "opt:adam"):
        assert variant in text
    assert "healthy" in text and "…" not in text


# --- on an interactive terminal ---------------------------------------------------------------------------------------

def as_if_on_a_terminal(monkeypatch) -> None:
    """Every CLI module that asks `is_tty()` hears yes (CliRunner's streams are never terminals)."""
    for name, module in list(sys.modules.items()):
        if name.startswith("gradscope.cli") and hasattr(module, "is_tty"):
            monkeypatch.setattr(module, "is_tty", lambda: True)


def test_compare_on_a_terminal_shows_its_progress_bar_without_crashing(tiny, monkeypatch):
    """Regression: compare's own copy of the progress bar called rich with the console wrapper, not the console,
    and crashed with AttributeError ('get_time') on every interactive terminal."""
    as_if_on_a_terminal(monkeypatch)
    result = invoke(tiny, "--remedy", "clip:1.0", "--steps", "3")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "clip:1.0" in result.output


@pytest.mark.parametrize("command", ["inspect", "check", "sweep-lr"])
def test_every_progress_bar_runs_on_a_terminal(command, tiny, monkeypatch):
    as_if_on_a_terminal(monkeypatch)
    extra = {"sweep-lr": ["--mode", "range", "--num", "20"]}.get(command, ["--steps", "3"])
    result = CliRunner().invoke(app, [command, tiny, *extra], env={"COLUMNS": "120"})
    assert result.exit_code in (0, 1), result.output  # check may fail its gate on a 3-step run; it must not crash
    assert "Traceback" not in result.output


def test_a_progress_bar_whose_plan_grows_keeps_its_total_at_least_the_steps_done():
    """Regression: sweep-lr's bar showed 449/400 when the robust pick checked a second candidate."""
    from rich.progress import Progress

    from gradscope.cli.progress import StepProgress

    with Progress(disable=True) as progress:
        task = progress.add_task("sweeping", total=400, loss="-")
        bar = StepProgress(progress, task, 400)
        bar(399, 1.0)
        assert progress.tasks[0].total == 400
        bar(448, 0.5)
        assert progress.tasks[0].total == 449 and progress.tasks[0].completed == 449
