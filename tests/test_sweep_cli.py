"""`gradscope sweep-lr` end to end on the sample models (short runs), its JSON/CSV, its errors and exit codes."""

import importlib.util
import json

import pytest
from typer.testing import CliRunner

from gradscope.cli import app

ENV = {"COLUMNS": "120"}
SHORT = ["--steps", "40", "--num", "4", "--rungs", "2"]


def invoke(*args):
    return CliRunner().invoke(app, ["sweep-lr", *map(str, args)], env=ENV)


@pytest.fixture(scope="module")
def healthy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("healthy")
    result = invoke("sample_models/healthy_mlp.py", *SHORT, "--json", folder / "lr.json", "--csv", folder / "lr.csv")
    return result, json.loads((folder / "lr.json").read_text()), (folder / "lr.csv").read_text()


def test_healthy_model_gets_a_finite_learning_rate(healthy):
    result, report, _ = healthy
    assert result.exit_code == 0, result.output
    suggestion = report["suggestion"]
    assert suggestion["status"] == "ok" and 0 < suggestion["lr"] < 10
    assert suggestion["candidates"]["best"] == suggestion["lr"] and suggestion["fast_lr"] >= suggestion["lr"]
    assert "learning rate:" in result.output and "successive halving" in result.output


def test_json_holds_one_run_per_lr_and_the_sweep_table(healthy):
    _, report, csv = healthy
    assert report["schema"] == "gradscope.report/1" and report["command"] == "sweep-lr"
    variants = [run["variant"] for run in report["runs"]]
    assert variants == [row["variant"] for row in report["sweep"]["table"]]
    assert all(v.startswith("lr=") for v in variants) and len(variants) >= 4
    assert [r["horizon"] for r in report["sweep"]["schedule"]] == [20, 40]
    for row, run in zip(report["sweep"]["table"], report["runs"]):
        assert float(row["lr"]) == pytest.approx(float(run["meta"]["lr"]))
        assert row["steps"] == run["steps_recorded"]
    assert csv.splitlines()[0].startswith("variant,seed,step,layer,param,grad_norm")
    assert {line.split(",")[0] for line in csv.splitlines()[1:]} == set(variants)


def test_the_pick_carries_how_it_was_chosen_its_data_orders_and_the_lr_sensitivity(healthy):
    result, report, _ = healthy
    s, table = report["suggestion"], report["sweep"]["table"]
    assert s["chosen_by"]["rule"] in ("best", "margin", "seeds") and s["best_lr"] >= s["lr"]
    assert s["seeds"]["orders"] == 2 and len(s["seeds"]["losses"]) == 2 and s["seeds"]["checked"][-1]["lr"] == s["lr"]
    picked = next(row for row in table if row["lr"] == s["lr"])
    assert s["seeds"]["losses"][0] == pytest.approx(picked["eval_loss"])  # order 1 is the sweep's own run
    # LR sensitivity by hand from the table: the mean over rates of min(L, L0) (a diverged rate: L0) minus the lowest
    l0 = report["sweep"]["initial_eval_loss"]
    capped = [l0 if row["diverged"] else min(row["eval_loss"], l0) for row in table]
    expected = sum(capped) / len(capped) - min(capped)
    assert s["lr_sensitivity"]["loss"] == pytest.approx(expected)
    assert s["lr_sensitivity"]["normalised"] == pytest.approx(expected / (l0 - min(capped)))
    for text in ("chosen: ", "on 2 data orders: eval loss", "LR sensitivity"):
        assert text in result.output


def test_deep_sigmoid_with_sgd_is_inconclusive(tmp_path):
    out = tmp_path / "lr.json"
    result = invoke("sample_models/deep_sigmoid.py", *SHORT, "--min-lr", "0.01", "--max-lr", "10", "--json", out)
    assert result.exit_code == 0, result.output
    suggestion = json.loads(out.read_text())["suggestion"]
    assert suggestion["status"] == "inconclusive" and suggestion["lr"] is None and suggestion["candidates"] == {}
    assert "no learning rate in [1.0e-02, 1.0e+01] trains this model in 40 steps" in suggestion["reason"]
    assert "gradscope compare" in result.output


def test_range_mode_draws_the_curve_and_offers_candidates(tmp_path):
    out, png = tmp_path / "lr.json", tmp_path / "lr.png"
    plot = ["--plot", png] if importlib.util.find_spec("matplotlib") else []
    result = invoke("sample_models/healthy_mlp.py", "--mode", "range", "--num", "60", "--min-lr", "1e-4",
                    "--max-lr", "30", "--json", out, *plot)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    ramp = report["sweep"]["range_test"]
    assert len(ramp["losses"]) == len(ramp["lrs"]) <= 60 and ramp["stop"] is not None
    assert report["suggestion"]["lr"] == ramp["candidates"]["valley"]
    assert {"valley", "min/10", "steepest", "divergence"} <= set(ramp["candidates"])
    assert "o smoothed" in result.output and "(log scale)" in result.output
    assert [run["variant"] for run in report["runs"]] == ["range"]
    if plot:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args, message", [
    (["--min-lr", "1", "--max-lr", "0.1"], "must be smaller than --max-lr"),
    (["--min-lr", "1e-3", "--max-lr", "1e-3"], "must be smaller than --max-lr"),
    (["--min-lr", "-1"], "--min-lr must be a positive number"),
    (["--max-lr", "0"], "--max-lr must be a positive number"),
    (["--num", "2"], "too few points"),
    (["--mode", "range", "--num", "5"], "too few points"),
    (["--mode", "bisect"], "unknown mode 'bisect'"),
    (["--rungs", "0"], "--rungs 0 must be at least 1"),
    (["--eta", "1"], "--eta 1 must be at least 2"),
    (["--seeds", "0"], "--seeds 0 must be at least 1"),
    (["--optimizer", "lion"], "invalid value for optimizer"),
])
def test_usage_errors_exit_2_with_a_message(args, message):
    result = invoke("sample_models/healthy_mlp.py", *args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_plot_without_matplotlib_exits_2_before_training(monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    result = invoke("sample_models/healthy_mlp.py", "--plot", tmp_path / "lr.png")
    assert result.exit_code == 2 and "--plot needs matplotlib" in result.output
    assert not (tmp_path / "lr.png").exists()


def test_ctrl_c_writes_a_partial_report_and_exits_130(monkeypatch, tmp_path):
    from contextlib import contextmanager

    import gradscope.runs.interrupts as interrupts

    @contextmanager
    def stop_after_some_checks(timeout=None):
        calls = []

        def stop():
            calls.append(1)
            return len(calls) > 30

        yield stop

    monkeypatch.setattr(interrupts, "stop_on_sigint", stop_after_some_checks)
    out = tmp_path / "lr.json"
    result = invoke("sample_models/healthy_mlp.py", *SHORT, "--min-lr", "0.01", "--max-lr", "1", "--json", out)
    assert result.exit_code == 130, result.output
    report = json.loads(out.read_text())
    assert report["interrupted"] is True and report["suggestion"]["lr"] is None
    recorded = sum(run["steps_recorded"] for run in report["runs"])
    assert 20 <= recorded <= 30 < 4 * 20 + 2 * 20  # stopped after about 30 polls, well before the planned 120 steps


def test_quiet_prints_only_the_answer():
    result = invoke("sample_models/deep_sigmoid.py", "--steps", "8", "--num", "3", "--rungs", "1",
                    "--min-lr", "0.01", "--max-lr", "1", "--quiet")
    assert result.exit_code == 0, result.output
    assert "learning rate: inconclusive" in result.output and "loss@8" not in result.output
