"""scriptwatch/lr_override.py in this process: the rates a script's optimizers and schedulers end up with, against
the same schedule computed by hand, and every patch undone afterwards."""

import math

import pytest
import torch
from torch import nn

from gradscope.errors import GradscopeError
from gradscope.scriptwatch.lr_override import LrPlan, overridden


def sgd(lr=0.1, bias_lr=None):
    """SGD over a small model; with bias_lr, the bias in a second param group at that rate."""
    model = nn.Linear(2, 1)
    if bias_lr is not None:
        groups = [{"params": [model.weight]}, {"params": [model.bias], "lr": bias_lr}]
        return torch.optim.SGD(groups, lr=lr), model
    return torch.optim.SGD(model.parameters(), lr=lr), model


def step(opt, model):
    opt.zero_grad()
    model(torch.ones(1, 2)).sum().backward()
    opt.step()


def test_a_rate_scales_every_group_and_the_defaults_keeping_their_ratios():
    with overridden(LrPlan(rate=0.5)) as log:
        opt, _ = sgd(0.1, bias_lr=0.02)
        second, _ = sgd(0.3)  # a second optimizer: scaled by the same factor (0.5 / 0.1)
        extra = nn.Linear(1, 1)
        opt.add_param_group({"params": [extra.weight]})  # takes the (scaled) default
        opt.add_param_group({"params": [extra.bias], "lr": 0.01})  # its own rate, scaled
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.5, 0.1, 0.5, 0.05])
    assert second.param_groups[0]["lr"] == pytest.approx(1.5) and opt.defaults["lr"] == pytest.approx(0.5)
    assert log.reference == 0.1 and log.constructed == [[0.1, 0.02], [0.3]]


def test_a_lambda_warmup_runs_scaled():
    rates = []
    with overridden(LrPlan(rate=0.4)) as log:
        opt, model = sgd(0.1)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 3))
        for _ in range(5):
            rates.append(opt.param_groups[0]["lr"])
            step(opt, model)
            sched.step()
    assert rates == pytest.approx([0.4 * min(1.0, (s + 1) / 3) for s in range(5)])
    assert log.per_step == pytest.approx(rates)


def test_one_cycle_max_lr_is_scaled_like_the_optimizer():
    def rates(plan):
        out = []
        with overridden(plan) if plan else _nothing():
            opt, model = sgd(0.1)
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[0.2], total_steps=10)
            for _ in range(10):
                out.append(opt.param_groups[0]["lr"])
                step(opt, model)
                sched.step()
        return out

    own, scaled = rates(None), rates(LrPlan(rate=0.3))  # 3x the script's 0.1
    assert max(own) == pytest.approx(0.2) and max(scaled) == pytest.approx(0.6)
    assert scaled == pytest.approx([3 * v for v in own])


def test_cosine_eta_min_is_scaled():
    with overridden(LrPlan(rate=1.0)):
        opt, model = sgd(0.1)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.01)
        for _ in range(4):
            step(opt, model)
            sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)  # eta_min 0.01 x 10


def test_a_ramp_sets_every_step_over_the_schedule_keeping_group_ratios():
    with overridden(LrPlan(ramp=(1e-3, 1e-1, 3))) as log:
        opt, model = sgd(0.1, bias_lr=0.05)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.1)
        seen = []
        for _ in range(4):
            step(opt, model)  # the pre-hook sets the rate for this step; record what the step used
            seen.append([g["lr"] for g in opt.param_groups])
            sched.step()
    expected = [1e-3, 1e-2, 1e-1, 1e-1]  # held at the top after n - 1
    assert [s[0] for s in seen] == pytest.approx(expected) and [s[1] for s in seen] == pytest.approx(
        [e / 2 for e in expected])
    assert log.per_step == pytest.approx(expected)


def test_everything_is_undone_even_on_error():
    init, add = torch.optim.Optimizer.__init__, torch.optim.Optimizer.add_param_group
    one_cycle = torch.optim.lr_scheduler.OneCycleLR.__init__
    with pytest.raises(RuntimeError):
        with overridden(LrPlan(rate=1.0)):
            raise RuntimeError("the script failed")
    assert torch.optim.Optimizer.__init__ is init and torch.optim.Optimizer.add_param_group is add
    assert torch.optim.lr_scheduler.OneCycleLR.__init__ is one_cycle
    opt, model = sgd(0.1)
    step(opt, model)
    assert opt.param_groups[0]["lr"] == 0.1  # no step hook left behind


def test_an_optimizer_without_a_positive_rate_is_refused():
    with pytest.raises(GradscopeError, match="no rate to scale from"):
        with overridden(LrPlan(rate=1.0)):
            sgd(0.0)


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def test_ramp_closed_form():
    plan = LrPlan(ramp=(1e-4, 1.0, 5))
    assert [plan.at(i) for i in range(6)] == pytest.approx([1e-4 * 1e4 ** (i / 4) for i in range(5)] + [1.0])
    assert math.isclose(plan.at(2), 1e-2)


def test_run_lr_trains_the_script_at_that_rate_with_its_schedule(tmp_path):
    import json
    from pathlib import Path

    from typer.testing import CliRunner

    from gradscope.cli import app

    script = Path(__file__).parent / "scripts" / "linreg_train.py"
    result = CliRunner().invoke(app, ["run", "--max-steps", "5", "--lr", "0.02", "--json", str(tmp_path / "r.json"),
                                      str(script), "--groups", "--log-dir", str(tmp_path)], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    log = json.loads((tmp_path / "0.02.json").read_text())  # named by the rate the script's optimizer has
    warm = [min(1.0, (s + 1) / 4) for s in range(5)]
    assert [g[0] for g in log["lrs"]] == pytest.approx([0.02 * w for w in warm])
    assert [g[1] for g in log["lrs"]] == pytest.approx([0.002 * w for w in warm])  # the script's 1:10 ratio kept
    settings = json.loads((tmp_path / "r.json").read_text())["settings"]
    assert settings["lr"] == 0.02 and settings["script_lr"] == 0.05


def test_run_lr_must_be_positive():
    from typer.testing import CliRunner

    from gradscope.cli import app

    result = CliRunner().invoke(app, ["run", "--lr", "-1", "train.py"])
    assert result.exit_code == 2 and "--lr must be a positive number" in result.output
