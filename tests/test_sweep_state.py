"""State hygiene: the user's model, optimizer, scheduler and RNG are bit-identical after a sweep; a resumed run is
bit for bit the run trained straight through; the ramp sets the closed-form lr and stops soon after a NaN."""

import copy
import math

import pytest
import torch
from torch import nn

from gradscope.commands.sweep.api import sweep_lr
from gradscope.commands.sweep.range_test import CHECK_EVERY, run_ramp
from gradscope.commands.sweep.runs import Context, GridRun, advance, split
from gradscope.runs.state import model_state


def _net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))


def _batches(n=40, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(16, 6, generator=g), torch.randint(0, 3, (16,), generator=g)) for _ in range(n)]


def _snapshot(model, optimizer, scheduler):
    return (copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict()), scheduler.state_dict(),
            {n: p.grad.clone() for n, p in model.named_parameters()}, torch.get_rng_state(),
            {n: m.training for n, m in model.named_modules()}, [id(p) for p in model.parameters()])


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), k


def test_the_users_model_optimizer_scheduler_and_rng_are_untouched():
    model, data = _net(), _batches()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    for x, y in data[:3]:  # prior training: momentum buffers, BN statistics, a scheduler that has stepped
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        scheduler.step()
    model.eval()  # a mode the sweep must give back
    before = _snapshot(model, optimizer, scheduler)
    result = sweep_lr(model, data, nn.functional.cross_entropy, optimizer=optimizer, steps=8, min_lr=1e-3,
                      max_lr=1.0, num=3, rungs=2)
    after = _snapshot(model, optimizer, scheduler)
    assert len(result.runs) >= 3 and all(r.steps > 0 for r in result.runs)  # it really trained
    _assert_same(before[0], after[0])
    assert before[1]["param_groups"] == after[1]["param_groups"]
    for key in before[1]["state"]:
        _assert_same(before[1]["state"][key], after[1]["state"][key])
    assert before[2] == after[2]
    _assert_same(before[3], after[3])
    assert torch.equal(before[4], after[4])
    assert before[5] == after[5] and before[6] == after[6]


def test_training_after_a_sweep_is_the_training_without_it():
    model, data = _net(), _batches()
    twin = copy.deepcopy(model)
    sweep_lr(model, data, nn.functional.cross_entropy, steps=6, min_lr=1e-3, max_lr=1.0, num=3, rungs=1)
    torch.manual_seed(7)
    for m in (model, twin):
        torch.manual_seed(7)  # the same dropout masks for both
        nn.functional.cross_entropy(m(data[0][0]), data[0][1]).backward()
    assert all(torch.equal(a.grad, b.grad) for a, b in zip(model.parameters(), twin.parameters()))


def _context(model, data, opt="adam"):
    make = (lambda params, lr: torch.optim.Adam(params, lr=lr)) if opt == "adam" else \
        (lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9))
    return Context(model, model_state(model), make, data, nn.functional.cross_entropy,
                   split((torch.cat([x for x, _ in data[:4]]), torch.cat([y for _, y in data[:4]]))),
                   torch.device("cpu"), seed=3)


@pytest.mark.parametrize("opt", ["adam", "sgd"])
def test_a_resumed_run_is_the_straight_run(opt):
    model, data = _net(), _batches()
    ctx = _context(model, data, opt)
    paused, straight = GridRun(0.01, "a"), GridRun(0.01, "b")
    advance(paused, ctx, 5)
    advance(straight, ctx, 12)  # another run in between: the paused one must not see its state
    advance(paused, ctx, 12)
    assert paused.steps == straight.steps == 12
    _assert_same(paused.state.model, straight.state.model)
    assert paused.chunks == straight.chunks and len(paused.chunks) == 8


def test_the_ramp_sets_the_closed_form_lr_each_step():
    model, data = _net(), _batches(30)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    seen = []
    handle = optimizer.register_step_pre_hook(lambda opt, args, kwargs: seen.append(opt.param_groups[0]["lr"]))
    try:
        done = run_ramp(model, optimizer, data, nn.functional.cross_entropy,
                        [1e-5 * (1e-1 / 1e-5) ** (i / 29) for i in range(30)], torch.device("cpu"))
    finally:
        handle.remove()
    assert seen == pytest.approx([1e-5 * 1e4 ** (i / 29) for i in range(30)], rel=1e-12)
    assert len(done.losses) == 30 and all(math.isfinite(v) for v in done.losses)


def test_the_ramp_stops_soon_after_a_nan():
    model, data = _net(), _batches(60)
    calls = []

    def loss_fn(out, y):
        calls.append(1)
        loss = nn.functional.cross_entropy(out, y)
        return loss * math.nan if len(calls) > 10 else loss

    done = run_ramp(model, torch.optim.SGD(model.parameters(), lr=1e-3), data, loss_fn, [1e-3] * 60,
                    torch.device("cpu"))
    assert math.isnan(done.losses[10]) and all(math.isfinite(v) for v in done.losses[:10])
    assert len(done.losses) <= 11 + CHECK_EVERY and not done.interrupted
