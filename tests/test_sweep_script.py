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


def flat(output: str) -> str:
    """The output as one line, without the panels' side borders: the view wraps its sentences."""
    return " ".join(output.replace("│", " ").split())


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
    """One sweep shared by the tests below (each run of the script is a new Python process, seconds each): a plain
    loop with two param groups, a warm-up and gradient accumulation (two backward passes per step), its grid of 4
    rates bracketed by a range test of the script from --min-lr 0.01 (so 5 runs of the script)."""
    folder = tmp_path_factory.mktemp("plain")
    logs = folder / "logs"
    logs.mkdir()
    (folder / "model.pt").write_text("the user's own checkpoint")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        result = invoke("--max-steps", 10, "--num", 4, "--rungs", 1, "--min-lr", 0.01, "--json", "lr.json",
                        "--csv", "lr.csv", "--html", "lr.html", LINREG, "--groups", "--accum", 2, "--log-dir", logs,
                        "--save", "model.pt")
    assert result.exit_code == 0, result.output
    return folder, result, json.loads((folder / "lr.json").read_text())


def test_every_rate_trains_at_the_rate_asked_times_the_scripts_own_schedule_and_group_ratio(plain):
    folder, result, report = plain
    rates = [row["lr"] for row in report["sweep"]["table"]]
    assert len(rates) >= 4  # 4, or more when the grid was extended
    for rate in rates:
        log = json.loads((folder / "logs" / f"{rate:.6g}.json").read_text())
        assert len(log["lrs"]) == 10  # --max-steps 10: ten optimizer steps, not the 20 backward passes
        for step, (weight_lr, bias_lr) in enumerate(log["lrs"]):
            assert weight_lr == pytest.approx(rate * warmup(step), rel=1e-12)
            assert bias_lr == pytest.approx(rate / 10 * warmup(step), rel=1e-12)  # the script's ratio kept
    assert report["script"]["reference_lr"] == 0.05 and report["script"]["group_lrs"] == [[0.05, 0.005]]


def test_the_score_is_the_scripts_own_loss_over_its_last_steps(plain):
    folder, result, report = plain
    for row, run in zip(report["sweep"]["table"], report["runs"]):
        log = json.loads((folder / "logs" / f"{row['lr']:.6g}.json").read_text())
        assert run["steps_recorded"] == 10
        losses = [float(v) for v in run["losses"]]  # the report writes Infinity as a string
        assert losses == pytest.approx(log["losses"], rel=1e-5)  # each step: the sum of its two halves' losses
        if not row["diverged"]:
            assert row["eval_loss"] == pytest.approx(sum(log["losses"][-2:]) / 2, rel=1e-5)


def test_the_range_test_ramps_the_scripts_rate_and_brackets_the_grid(plain):
    folder, result, report = plain
    ramp, cost = report["sweep"]["range_test"], report["sweep"]["cost"]
    expected = [0.01 * (10 / 0.01) ** (i / 9) for i in range(10)]  # 10 steps: --max-steps, at least 10
    assert ramp["lrs"] == pytest.approx(expected[:len(ramp["lrs"])], rel=1e-9)
    # The ramp overrides the script's warm-up: the losses are those of plain gradient descent at the ramp's rates
    # (the bias at a tenth of them: the script's group ratio).
    losses = [float(v) for v in ramp["losses"]]
    assert len(losses) >= 3 and losses == pytest.approx(own_losses(expected, groups=True)[:len(losses)], rel=1e-4)
    rates = len(report["sweep"]["table"])
    assert report["sweep"]["bracket"][0] == pytest.approx(0.01) and cost["range_test_steps"] == 10
    assert cost["runs"] == 1 + rates and cost["steps"] == 10 + 10 * rates  # the ramp's 10 steps, --rungs 1
    assert "range test of the script" in result.output


def test_the_pick_is_below_the_stability_limit_and_near_the_best_of_a_dense_grid(plain):
    folder, result, report = plain
    pick = report["suggestion"]["lr"]
    # Full-batch gradient descent on this mean squared error diverges above 2 / L, L = 2 * 9 (feature scale 3).
    assert report["suggestion"]["status"] == "ok" and pick < 2 / 18
    rates = sorted(row["lr"] for row in report["sweep"]["table"])
    lo, hi = rates[0], rates[-1]
    dense = [lo * (hi / lo) ** (i / 60) for i in range(61)]
    scores = [own_score(lr, 10, groups=True) for lr in dense]
    best = dense[min(range(len(dense)), key=scores.__getitem__)]
    spacing = rates[1] / rates[0]
    assert best / spacing <= pick <= best * spacing
    assert "give the script lr" in result.output and f"{pick / 0.05:.3g}x its own" in result.output


def test_a_seeded_script_is_said_to_be_compared_on_the_same_weights_and_data(plain):
    folder, result, report = plain
    script = report["script"]
    assert script["deterministic"] is True and len(set(script["step0_losses"])) == 1
    assert len(script["step0_losses"]) == script["runs"] == report["sweep"]["cost"]["runs"]
    assert script["not_controlled"].startswith("the script seeds itself")
    text = flat(result.output)  # the view wraps lines
    assert "note: the script seeds itself: every run started from the same step-0 loss" in text
    assert "not comparable" not in text and "not deterministic" not in text


def test_a_scripts_score_and_pick_are_named_as_the_scripts_own(plain):
    folder, result, report = plain
    text = flat(result.output)
    assert "train loss" in text and "eval loss" not in text and "grid: training loss against learning rate" in text
    assert "evaluation" not in text  # the script has no evaluation set: its score is its training loss
    assert report["suggestion"]["chosen_by"]["how"].startswith("the best rate")
    assert "the script's own data order" in text and "sweep's" not in text  # robust.py speaks of a model sweep
    html = (folder / "lr.html").read_text()
    assert "<th>train loss</th>" in html and "eval loss" not in html and "the script seeds itself" in html


def test_the_users_files_and_the_scripts_outputs_are_left_alone(plain):
    folder, result, report = plain
    # every run saved model.pt in its own temporary folder, not over the user's
    assert (folder / "model.pt").read_text() == "the user's own checkpoint"
    assert sorted(p.name for p in folder.iterdir()) == ["logs", "lr.csv", "lr.html", "lr.json", "model.pt"]
    assert (folder / "lr.csv").read_text().startswith("variant,")
    assert report["script"]["workdir"] is None


def test_step0_losses_that_differ_warn_that_the_runs_are_not_comparable(tmp_path, monkeypatch):
    """Also --quiet, and --workdir: every run in that folder, where the script's relative outputs land (and -m still finds the
    module from the user's working directory)."""
    monkeypatch.chdir(SCRIPTS)  # -m finds the module from the working directory, as python -m does
    work = tmp_path / "work"
    work.mkdir()
    result = invoke("--max-steps", 4, "--num", 3, "--rungs", 1, "--min-lr", 0.01, "--max-lr", 0.05,
                    "--workdir", work, "--json", tmp_path / "lr.json", "--quiet", "-m", "linreg_train",
                    "--unseeded", "--save", "unseeded.pt")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "lr.json").read_text())
    assert report["script"]["deterministic"] is False and len(set(report["script"]["step0_losses"])) > 1
    text = flat(result.output)
    # even with --quiet (only the answer), the warning: it bears on the answer
    assert "warning: the runs are not comparable" in text and "not deterministic" in text
    assert "seed the script" in text and "seeds itself" not in text
    assert report["source"] == "-m linreg_train --unseeded --save unseeded.pt" and report["script"]["module"] is True
    assert (work / "unseeded.pt").exists() and not (SCRIPTS / "unseeded.pt").exists()
    assert report["script"]["workdir"] == str(work.resolve())


# -- DDP ------------------------------------------------------------------------------------------------------------
def test_a_two_process_ddp_script_is_swept_with_the_loss_averaged_over_ranks(tmp_path):
    """One run of the script under torch.distributed.run (range mode): the grid's runs start the same way."""
    pytest.importorskip("torch.distributed")
    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        pytest.skip("gloo is not available")
    script = str(SCRIPTS / "ddp_train.py")
    result = invoke("--max-steps", 10, "--mode", "range", "--num", 10, "--min-lr", 0.001, "--max-lr", 0.1,
                    "--nproc-per-node", 2, "--json", tmp_path / "lr.json", script, "--log-dir", tmp_path)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "lr.json").read_text())
    ramp = report["sweep"]["range_test"]
    expected = [0.001 * 100 ** (i / 9) for i in range(10)]
    assert ramp["lrs"] == pytest.approx(expected[:len(ramp["lrs"])], rel=1e-9) and len(ramp["losses"]) >= 5
    # Rank 0's log, named by the lr it read before its first step: its own 0.05. The ramp sets each step's rate in a
    # step pre-hook, so the script reads step k's rate after step k (lr_override's docstring).
    log = json.loads((tmp_path / "0.05.json").read_text())
    assert log["lrs"][1:] == pytest.approx(expected[:9], rel=1e-9)
    # rank 0's view: the mean over ranks (each rank its own batches)
    assert [float(v) for v in ramp["losses"]] == pytest.approx(log["losses"][:len(ramp["losses"])], rel=1e-5)
    assert report["script"]["nproc_per_node"] == 2 and report["script"]["runs"] == 1


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


def test_a_script_that_reads_a_relative_path_fails_with_the_fix_absolute_paths_or_workdir(tmp_path, monkeypatch):
    script = tmp_path / "nano.py"
    script.write_text("import torch\nprint('loading the data')\ndata = open('data/train.bin', 'rb').read()\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.bin").write_bytes(b"tokens")
    monkeypatch.chdir(tmp_path)  # the file exists here, relative to the user's folder: not to the run's
    result = invoke("--max-steps", 5, "--num", 3, "--min-lr", 0.01, "--max-lr", 0.1, script)
    assert result.exit_code == 2
    text = flat(result.output)
    assert "the script failed: FileNotFoundError" in text and "'data/train.bin'" in text
    assert "give the script its input files as absolute paths, or pass --workdir ." in text
    assert "--workdir . to run it in this folder, where data/train.bin exists (its own outputs" in text
    assert "Traceback" not in result.output.split("the script failed")[1]  # one line, no gradscope traceback


def test_workdir_must_be_a_folder_and_is_for_scripts(tmp_path):
    result = invoke("--max-steps", 5, "--workdir", tmp_path / "nowhere", LINREG)
    assert result.exit_code == 2 and "is not a folder" in result.output
    result = invoke("--workdir", tmp_path, "--steps", 3, str(SCRIPTS / "linreg_train.py"))
    assert result.exit_code == 2 and "needs --max-steps" in result.output


def test_two_models_playing_against_each_other_are_refused(tmp_path):
    script = tmp_path / "gan.py"
    script.write_text(
        "import torch\ng, d = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)\n"
        "og, od = torch.optim.SGD(g.parameters(), lr=0.1), torch.optim.SGD(d.parameters(), lr=0.1)\n"
        "for _ in range(20):\n"
        "    z = torch.randn(8, 2)\n"
        "    od.zero_grad(); d(g(z).detach()).mean().backward(); od.step()\n"
        "    og.zero_grad(); (-d(g(z))).mean().backward(); og.step()\n")
    # --rungs 1: the first run goes to step 4 and sees both models (a first rung of 1 step would see only D's)
    result = invoke("--max-steps", 4, "--num", 3, "--rungs", 1, "--min-lr", 0.01, "--max-lr", 0.1, script)
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
