"""`gradscope sweep-lr --max-steps N train.py ARGS`: a training script swept unchanged, each rate a fresh process.

The scripts in tests/scripts log, by their own hand, the rate of each param group at each step and their loss; the
tests compare those logs with the rate asked for times the script's own schedule, and the pick with a dense grid of
the same loop run here, in the test, without gradscope. Few steps and few rates: each run is a new Python process.
"""

import json
import math
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from gradscope.cli import app

SCRIPTS = Path(__file__).parent / "scripts"
LINREG = str(SCRIPTS / "linreg_train.py")
ENV = {"COLUMNS": "120"}


def invoke(*args, env=None):
    return CliRunner().invoke(app, ["sweep-lr", *map(str, args)], env={**ENV, **(env or {})})


def warmup(step: int) -> float:
    return min(1.0, (step + 1) / 4)  # linreg_train.py's LambdaLR


def own_losses(rates: list[float], groups: bool = False) -> list[float]:
    """linreg_train.py's loop, run here without gradscope: full-batch gradient descent at rates[i] at step i (the
    bias at a tenth of it with `groups`); its loss at each step."""
    torch.manual_seed(0)
    x = torch.randn(256, 2) * torch.tensor([1.0, 3.0])
    y = x @ torch.tensor([[2.0], [-1.0]]) + 0.5
    model = torch.nn.Linear(2, 1)
    w, b = model.weight.detach().T.clone(), model.bias.detach().clone()
    losses = []
    for rate in rates:
        err = x @ w + b - y
        losses.append(float((err ** 2).mean()))
        w = w - rate * 2 * x.T @ err / len(x)
        b = b - (rate / 10 if groups else rate) * 2 * err.mean(0)
    return losses


def own_score(lr: float, steps: int, groups: bool = False) -> float:
    """The sweep's score by hand: the mean loss of the last steps // 5 steps, inf above the step-0 loss."""
    losses = own_losses([lr * warmup(step) for step in range(steps)], groups)
    tail = losses[-max(1, steps // 5):]
    mean = sum(tail) / len(tail)
    return mean if math.isfinite(mean) and mean <= losses[0] else math.inf


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """A plain loop with two param groups and a warm-up, swept over 4 rates across the stability limit."""
    folder = tmp_path_factory.mktemp("plain")
    logs = folder / "logs"
    logs.mkdir()
    (folder / "model.pt").write_text("the user's own checkpoint")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        result = invoke("--max-steps", 10, "--num", 4, "--rungs", 1, "--min-lr", 0.01, "--max-lr", 0.3,
                        "--json", "lr.json", "--csv", "lr.csv", LINREG, "--groups", "--log-dir", logs,
                        "--save", "model.pt")
    return folder, result


def test_every_rate_trains_at_the_rate_asked_times_the_scripts_own_schedule_and_group_ratio(plain):
    folder, result = plain
    assert result.exit_code == 0, result.output
    report = json.loads((folder / "lr.json").read_text())
    rates = [row["lr"] for row in report["sweep"]["table"]]
    assert len(rates) == 4
    for rate in rates:
        log = json.loads((folder / "logs" / f"{rate:.6g}.json").read_text())
        assert len(log["lrs"]) == 10  # --max-steps 10: ten optimizer steps
        for step, (weight_lr, bias_lr) in enumerate(log["lrs"]):
            assert weight_lr == pytest.approx(rate * warmup(step), rel=1e-12)
            assert bias_lr == pytest.approx(rate / 10 * warmup(step), rel=1e-12)  # the script's ratio kept
    assert report["script"]["reference_lr"] == 0.05 and report["script"]["group_lrs"] == [[0.05, 0.005]]


def test_the_score_is_the_scripts_own_loss_over_its_last_steps(plain):
    folder, result = plain
    report = json.loads((folder / "lr.json").read_text())
    for row, run in zip(report["sweep"]["table"], report["runs"]):
        log = json.loads((folder / "logs" / f"{row['lr']:.6g}.json").read_text())
        assert run["losses"] == pytest.approx(log["losses"], rel=1e-5)
        if not row["diverged"]:
            assert row["eval_loss"] == pytest.approx(sum(log["losses"][-2:]) / 2, rel=1e-5)


def test_the_pick_is_below_the_stability_limit_and_near_the_best_of_a_dense_grid(plain):
    folder, result = plain
    report = json.loads((folder / "lr.json").read_text())
    pick = report["suggestion"]["lr"]
    # Full-batch gradient descent on this mean squared error diverges above 2 / L, L = 2 * 9 (feature scale 3).
    assert report["suggestion"]["status"] == "ok" and pick < 2 / 18
    dense = [0.01 * (0.3 / 0.01) ** (i / 60) for i in range(61)]
    scores = [own_score(lr, 10, groups=True) for lr in dense]
    best = dense[min(range(len(dense)), key=scores.__getitem__)]
    spacing = (0.3 / 0.01) ** (1 / 3)
    assert best / spacing <= pick <= best * spacing
    assert "give the script lr" in result.output and f"{pick / 0.05:.3g}x its own" in result.output


def test_the_users_files_and_the_scripts_outputs_are_left_alone(plain):
    folder, result = plain
    assert result.exit_code == 0, result.output
    # every run saved model.pt in its own temporary folder, not over the user's
    assert (folder / "model.pt").read_text() == "the user's own checkpoint"
    assert sorted(p.name for p in folder.iterdir()) == ["logs", "lr.csv", "lr.json", "model.pt"]
    assert (folder / "lr.csv").read_text().startswith("variant,")


@pytest.fixture(scope="module")
def accumulated(tmp_path_factory):
    """Gradient accumulation (two backward passes per step), bracketed by a range test of the script."""
    folder = tmp_path_factory.mktemp("accum")
    result = invoke("--max-steps", 10, "--num", 3, "--rungs", 1, "--json", folder / "lr.json", LINREG,
                    "--accum", 2, "--log-dir", folder)
    return folder, result


def test_accumulation_counts_optimizer_steps_and_the_loss_of_both_micro_batches(accumulated):
    folder, result = accumulated
    assert result.exit_code == 0, result.output
    report = json.loads((folder / "lr.json").read_text())
    assert report["sweep"]["bracket"] is not None and report["sweep"]["range_test"] is not None
    cost, rates = report["sweep"]["cost"], len(report["sweep"]["table"])  # 3, or more when the grid was extended
    assert rates >= 3 and cost["runs"] == 1 + rates and cost["range_test_steps"] == 10
    assert cost["steps"] == 10 + 10 * rates  # the ramp's 10 steps (all run; the analysis cuts at divergence), --rungs 1
    for row, run in zip(report["sweep"]["table"], report["runs"]):
        log = json.loads((folder / f"{row['lr']:.6g}.json").read_text())
        assert len(log["lrs"]) == 10 and run["steps_recorded"] == 10  # steps, not the 20 backward passes
        losses = [float(v) for v in run["losses"]]  # the report writes Infinity as a string
        assert losses == pytest.approx(log["losses"], rel=1e-5)  # the sum of the two halves' losses


def test_the_range_test_ramps_the_scripts_rate(accumulated):
    folder, result = accumulated
    report = json.loads((folder / "lr.json").read_text())
    ramp = report["sweep"]["range_test"]
    expected = [1e-7 * (10 / 1e-7) ** (i / 9) for i in range(10)]  # 10 steps: --max-steps, at least 10
    assert ramp["lrs"] == pytest.approx(expected[:len(ramp["lrs"])], rel=1e-9)
    # The ramp overrides the script's warm-up: the losses are those of plain gradient descent at the ramp's rates.
    losses = [float(v) for v in ramp["losses"]]
    assert len(losses) >= 5 and losses == pytest.approx(own_losses(expected)[:len(losses)], rel=1e-4)
    assert "range test of the script" in result.output


def test_step0_losses_that_differ_say_the_script_is_not_seeded(tmp_path, monkeypatch):
    monkeypatch.chdir(SCRIPTS)  # -m finds the module from the working directory, as python -m does
    result = invoke("--max-steps", 4, "--num", 3, "--rungs", 1, "--min-lr", 0.01, "--max-lr", 0.05,
                    "--json", tmp_path / "lr.json", "-m", "linreg_train", "--unseeded")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "lr.json").read_text())
    assert report["script"]["deterministic"] is False and len(set(report["script"]["step0_losses"])) > 1
    assert "not deterministic" in result.output and "seed the script" in result.output
    assert report["source"] == "-m linreg_train --unseeded" and report["script"]["module"] is True


# -- DDP ------------------------------------------------------------------------------------------------------------
def test_a_two_process_ddp_script_is_swept_with_the_loss_averaged_over_ranks(tmp_path):
    pytest.importorskip("torch.distributed")
    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        pytest.skip("gloo is not available")
    script = str(SCRIPTS / "ddp_train.py")
    result = invoke("--max-steps", 4, "--num", 3, "--rungs", 1, "--min-lr", 0.005, "--max-lr", 0.05,
                    "--nproc-per-node", 2, "--json", tmp_path / "lr.json", script, "--log-dir", tmp_path)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "lr.json").read_text())
    for row, run in zip(report["sweep"]["table"], report["runs"]):
        log = json.loads((tmp_path / f"{row['lr']:.6g}.json").read_text())
        assert log["lrs"] == pytest.approx([row["lr"]] * 4, rel=1e-12)
        assert run["losses"] == pytest.approx(log["losses"], rel=1e-5)  # rank 0's view: the mean over ranks
    assert report["script"]["nproc_per_node"] == 2 and report["suggestion"]["status"] == "ok"


# -- user errors ----------------------------------------------------------------------------------------------------
def test_a_script_without_max_steps_gets_the_fix(tmp_path):
    script = tmp_path / "train.py"
    script.write_text("import torch\nif __name__ == '__main__':\n    pass\n")
    result = invoke(script)
    assert result.exit_code == 2
    assert "no model found" in result.output and "give --max-steps N" in result.output


def test_model_file_options_with_a_script_are_refused_by_name():
    result = invoke("--max-steps", 5, "--steps", 3, "--optimizer", "adam", "--seeds", 2, LINREG)
    assert result.exit_code == 2
    assert "--steps, --optimizer, --seeds are for model files" in result.output


def test_options_after_a_script_belong_to_the_script_and_max_steps_must_come_first():
    result = invoke(LINREG, "--max-steps", 5)
    assert result.exit_code == 2 and "go before the training script" in result.output


def test_under_torchrun_the_fix_is_nproc_per_node():
    result = invoke("--max-steps", 5, LINREG, env={"WORLD_SIZE": "2"})
    assert result.exit_code == 2 and "--nproc-per-node" in result.output


def test_a_script_that_crashes_at_every_rate_shows_its_error(tmp_path):
    script = tmp_path / "broken.py"
    script.write_text("import torch\nprint('loading the data')\nraise ValueError('no such dataset: imagenet')\n")
    result = invoke("--max-steps", 5, "--num", 3, "--min-lr", 0.01, "--max-lr", 0.1, script)
    assert result.exit_code == 2
    assert "the script failed" in result.output and "no such dataset: imagenet" in result.output
    assert "Traceback" not in result.output.split("the script failed")[1]  # one line, no gradscope traceback


def test_two_models_playing_against_each_other_are_refused(tmp_path):
    script = tmp_path / "gan.py"
    script.write_text(
        "import torch\ng, d = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)\n"
        "og, od = torch.optim.SGD(g.parameters(), lr=0.1), torch.optim.SGD(d.parameters(), lr=0.1)\n"
        "for _ in range(20):\n"
        "    z = torch.randn(8, 2)\n"
        "    od.zero_grad(); d(g(z).detach()).mean().backward(); od.step()\n"
        "    og.zero_grad(); (-d(g(z))).mean().backward(); og.step()\n")
    result = invoke("--max-steps", 4, "--num", 3, "--min-lr", 0.01, "--max-lr", 0.1, script)
    assert result.exit_code == 2 and "trains 2 models" in result.output


def test_ctrl_c_stops_the_running_script_and_reports_what_finished(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "slow.py"
    script.write_text(
        "import os, sys, time, torch\n"
        "model = torch.nn.Linear(2, 1)\n"
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "for step in range(100000):\n"
        "    opt.zero_grad(); model(torch.ones(4, 2)).pow(2).mean().backward(); opt.step(); time.sleep(0.01)\n"
        "    if step == 2:\n"
        "        with open(sys.argv[1] + '.tmp', 'w') as f:\n"
        "            f.write(f'{os.getpid()}\\n{os.getcwd()}')\n"
        "        os.replace(sys.argv[1] + '.tmp', sys.argv[1])\n")
    where = tmp_path / "where.txt"
    parent = subprocess.Popen([sys.executable, "-m", "gradscope", "sweep-lr", "--max-steps", "1000000", "--num", "3",
                               "--rungs", "1", "--min-lr", "0.01", "--max-lr", "0.1", "--json",
                               str(tmp_path / "lr.json"), str(script), str(where)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "120"})
    try:
        for _ in range(1200):  # until the first run of the script has taken its third step (2 minutes at most)
            if where.exists() or parent.poll() is not None:
                break
            time.sleep(0.1)
        parent.send_signal(signal.SIGINT)  # Ctrl-C
        out, err = parent.communicate(timeout=120)
    finally:
        if parent.poll() is None:
            parent.kill()
    assert parent.returncode == 130, out + err
    report = json.loads((tmp_path / "lr.json").read_text())
    assert report["interrupted"] and report["suggestion"]["status"] == "inconclusive"
    pid, cwd = where.read_text().splitlines()
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid), 0)  # the script's process is gone
    assert not os.path.exists(cwd)  # and its temporary working folder with it
