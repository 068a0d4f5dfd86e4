"""The robust pick (margin below the cliff, the check on other data orders) and LR sensitivity, on hand-built
outcomes at their edges; and one reordered run against a plain training loop."""

import math

import pytest

from gradscope.commands.sweep import robust, scoring


def _out(lr, loss, finished=True, diverged=False):
    return scoring.Outcome(lr, loss, (loss,), diverged, finished)


# The LSTM case: 8 points over 3 decades (spacing 10**(3/7) = 2.68); 7.5e-2 wins on the sweep's seed and
# the next point, 0.2, failed.
SPACING = 10 ** (3 / 7)
G = [0.2 / SPACING ** k for k in (3, 2, 1, 0)]  # 1.0e-2, 2.8e-2, 7.5e-2, 0.2
CLIFF = [_out(G[0], 0.40, finished=False), _out(G[1], 0.25), _out(G[2], 0.20), _out(G[3], 1.5, False, True)]


def test_first_unstable_is_the_smallest_rate_above_the_best_that_diverged_or_did_not_train():
    assert robust.first_unstable(CLIFF, G[2], 1.4) == G[3]
    # no drop below the start counts as unstable, even without diverging; a rate below the best never does
    outs = [_out(1e-3, 2.0, diverged=True), _out(1e-2, 0.3), _out(0.1, 1.4, finished=False), _out(1.0, 9, False, True)]
    assert robust.first_unstable(outs, 1e-2, 1.4) == 0.1
    assert robust.first_unstable([_out(1e-2, 0.3), _out(0.1, 1.39)], 1e-2, 1.4) is None


def test_margin_is_4x_and_at_least_one_grid_step():
    assert robust.keeps_margin(0.1, 0.4, 3.0) and not robust.keeps_margin(0.11, 0.4, 3.0)  # 4x, inclusive
    assert robust.keeps_margin(0.1, 1.0, 10.0) and not robust.keeps_margin(0.1, 0.9, 10.0)  # a coarse grid: one step
    assert robust.keeps_margin(G[1], G[3], SPACING) and not robust.keeps_margin(G[2], G[3], SPACING)  # 2 steps here
    assert robust.keeps_margin(5.0, None, 3.0)


def test_margin_candidate_steps_off_the_cliff():
    assert robust.margin_candidate(CLIFF, G[3], SPACING) == G[1]  # 7.2x below 0.2; 7.5e-2 is only 2.7x
    # with no cliff, the best stays the candidate
    assert robust.margin_candidate(CLIFF[:3], None, SPACING) == G[2]
    # no finished rate keeps the margin: the largest rate that does (the orchestrator trains it to the end)
    assert robust.margin_candidate(CLIFF, G[2], SPACING) == G[0]
    assert robust.margin_candidate(CLIFF, G[1], SPACING) is None


def test_check_fails_an_order_that_keeps_less_than_half_the_best_drop():
    # L* 0.25, L0 1.25: regret of 0.83 is 0.58 / 1 > 0.5; 0.75 is exactly 0.5 (exact in floats), which passes
    c = robust.check(G[2], [0.25, 0.83, 0.75], best=0.25, initial=1.25)
    assert c.regrets == pytest.approx((0.0, 0.58, 0.5))
    assert c.failed == (1,) and c.spread == pytest.approx(0.58) and c.worst_regret == pytest.approx(0.58)
    bad = robust.check(0.1, [0.2, math.nan, 5.7], best=0.2, initial=1.4)  # NaN, and above 4 x L0: diverged
    assert bad.failed == (1, 2) and bad.regrets[1:] == (math.inf, math.inf) and bad.spread == math.inf


def test_next_below():
    assert robust.next_below([0.01, 0.03, 0.1], 0.1) == 0.03
    assert robust.next_below([0.01, 0.03, 0.1], 0.01) is None


def test_an_unstable_candidate_steps_down_and_a_slow_one_gives_way_to_the_best():
    unstable = robust.check(G[1], [0.25, 0.9], 0.2, 1.4)  # fails on another order only
    assert robust.next_candidate([unstable], G[2], G) == G[0]
    slow = robust.check(G[1], [0.9, 0.25], 0.2, 1.4)  # fails on the sweep's own order: the margin cost too much
    assert robust.next_candidate([slow], G[2], G) == G[2]
    # the best then fails on another order; one step down from it is G[1], already checked: stop
    best_fails = robust.check(G[2], [0.2, 1.0], 0.2, 1.4)
    assert robust.next_candidate([slow, best_fails], G[2], G) is None
    # none trains on every order: the best in the worst case (0.7 / 1.2 = 0.58 against 0.8 / 1.2 = 0.67)
    assert robust.chosen([slow, best_fails]) is slow
    ok = robust.check(G[0], [0.3, 0.3], 0.2, 1.4)
    assert robust.chosen([unstable, ok]) is ok and robust.next_candidate([unstable, ok], G[2], G) is None
    assert robust.next_candidate([unstable] * robust.MAX_CHECKS, G[2], G) is None


def test_a_rate_below_the_best_is_taken_only_within_a_tenth_of_the_drop_on_the_own_order():
    own = robust.own_tolerance(G[1], G[2])
    assert own == robust.MARGIN_TOLERANCE == 0.1 and robust.own_tolerance(G[2], G[2]) == robust.SEED_FAIL_REGRET
    # L* 0.2, L0 1.2: 0.3 is regret 0.0999... (taken), 0.31 is 0.11 (too slow)
    assert robust.check(G[1], [0.3, 0.6], 0.2, 1.2, own).failed == ()
    too_slow = robust.check(G[1], [0.31], 0.2, 1.2, own)
    assert too_slow.failed == (0,) and robust.next_candidate([too_slow], G[2], G) == G[2]
    best_ok = robust.check(G[2], [0.2, 0.25], 0.2, 1.2)
    rule, how = robust.explain(G[2], G[3], SPACING, [too_slow, best_ok])
    assert robust.chosen([too_slow, best_ok]) is best_ok and rule == "best"
    assert "2.8e-02 is too slow for the budget (regret 0.11" in how and "7.5e-02 trains on all 2 data orders" in how


def test_explain_names_what_moved_the_pick():
    ok = robust.check(G[1], [0.25, 0.26], 0.2, 1.4)
    failed = robust.check(G[1], [0.25, 0.9], 0.2, 1.4)
    lower = robust.check(G[0], [0.3, 0.31], 0.2, 1.4)
    rule, how = robust.explain(G[2], G[3], SPACING, [ok])
    assert rule == "margin" and "7.5e-02" in how and "2.0e-01" in how and "2.8e-02 trains on all 2 data orders" in how
    rule, how = robust.explain(G[1], None, SPACING, [failed, lower])
    assert rule == "seeds" and "2.8e-02 failed on data order 2 of 2" in how and "1.0e-02 trains on all 2" in how
    rule, how = robust.explain(G[1], G[3], SPACING, [ok])
    assert rule == "best" and "4x or more below" in how
    rule, how = robust.explain(G[1], G[2], SPACING, [failed])
    assert rule == "best" and "no rate keeps" in how and "none trains on all 2 orders" in how


def test_lr_sensitivity_against_a_hand_calculation():
    # capped at L0 = 1: [0.5, 0.2, 0.3, 1 (NaN), 1 (2.0)]: mean 3.0 / 5 = 0.6, minus L* 0.2 = 0.4; over 1 - 0.2: 0.5
    value, normalised = scoring.lr_sensitivity([0.5, 0.2, 0.3, math.nan, 2.0], 1.0)
    assert value == pytest.approx(0.4) and normalised == pytest.approx(0.5)
    assert scoring.lr_sensitivity([0.3, 0.3, 0.3], 1.0) == (0.0, 0.0)
    value, normalised = scoring.lr_sensitivity([1.2, math.inf], 1.0)  # nothing dropped: no share of a drop
    assert value == 0.0 and math.isnan(normalised)


def test_a_run_on_another_data_order_is_the_plain_loop_on_the_reordered_batches():
    import torch
    from torch import nn

    from gradscope.commands.sweep.orchestrate import _on_order
    from gradscope.commands.sweep.runs import Context, split
    from gradscope.runs.state import model_state

    torch.manual_seed(0)
    x, y = torch.randn(96, 4), torch.randn(96, 1)
    batches = [(x[i:i + 8], y[i:i + 8]) for i in range(0, 96, 8)]
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.3), nn.Linear(8, 1))  # dropout: the seed matters too
    initial = model_state(model)
    make = lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9)
    ctx = Context(model, initial, make, batches, nn.functional.mse_loss, split((x[:64], y[:64])), torch.device("cpu"),
                  seed=3)
    run = _on_order(ctx, 0.05, 1, 10)
    assert ctx.steps_done == 10
    # the same by hand: batches 0..9 in the order torch.randperm draws from seed 3 + 1, torch seeded with 4
    order = torch.randperm(10, generator=torch.Generator().manual_seed(4)).tolist()
    assert order != list(range(10))
    model.load_state_dict(initial)
    torch.manual_seed(4)
    opt = make(model.parameters(), 0.05)
    for i in order:
        opt.zero_grad()
        nn.functional.mse_loss(model(batches[i][0]), batches[i][1]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        expected = [float(nn.functional.mse_loss(model(x[j:j + 8]), y[j:j + 8])) for j in range(0, 64, 8)]
    assert run.chunks == pytest.approx(expected, rel=1e-6)


def test_a_best_rate_next_to_a_diverging_one_is_not_picked():
    """Issue 16: the pick sat on the stability cliff. Full-batch-like SGD on y = 2x with one weight: the Hessian of
    the MSE is 2 E[x^2] ~ 2, so a rate above ~1 diverges. Grid 0.1 * 2.5^k: 1.56 diverges, 0.625 is the best after
    4 steps (error x |1 - 1.25| per step), 0.25 is 6x below the cliff and within a tenth of the drop."""
    import torch
    from torch import nn

    from gradscope.commands.sweep.api import sweep_lr

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(512, 1, generator=gen)
    y = 2 * x + 0.01 * torch.randn(512, 1, generator=gen)
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 512, 32)]
    torch.manual_seed(0)
    result = sweep_lr(nn.Linear(1, 1, bias=False), batches, nn.functional.mse_loss, eval_data=(x, y), steps=4,
                      rungs=1, num=5, min_lr=0.1, max_lr=0.1 * 2.5 ** 4)
    losses = {round(run.lr, 4): run.loss for run in result.runs}
    assert min(losses, key=losses.get) == 0.625 and losses[1.5625] > 4 * result.initial_loss  # the cliff, as built
    assert result.decision.best_lr == pytest.approx(0.625) and result.decision.lr == pytest.approx(0.25)
    assert result.robust_pick.rule == "margin" and result.robust_pick.unstable_lr == pytest.approx(1.5625)
    assert result.robust_pick.checks[-1].failed == () and len(result.robust_pick.checks[-1].losses) == 2


def test_a_keyboard_interrupt_from_the_model_while_checking_another_data_order_stops_the_sweep(monkeypatch):
    """Regression: the check on another data order trains a copy of the sweep's context; a KeyboardInterrupt the
    model raised there set the copy's stop flag only, so the half-trained run counted as a full one, the report was
    not marked interrupted and the pick 'trained on all 2 data orders'."""
    import torch
    from torch import nn

    from gradscope.commands.sweep import orchestrate
    from gradscope.commands.sweep.api import sweep_lr

    class RaisesOnOrder2(nn.Linear):
        armed = False
        calls = 0

        def forward(self, x):
            if RaisesOnOrder2.armed and torch.is_grad_enabled():
                RaisesOnOrder2.calls += 1
                if RaisesOnOrder2.calls == 3:
                    raise KeyboardInterrupt
            return super().forward(x)

    original = orchestrate._on_order

    def armed(*args, **kwargs):
        RaisesOnOrder2.armed = True
        return original(*args, **kwargs)

    monkeypatch.setattr(orchestrate, "_on_order", armed)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(512, 1, generator=gen)
    y = 2 * x
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 512, 32)]
    torch.manual_seed(0)
    result = sweep_lr(RaisesOnOrder2(1, 1, bias=False), batches, nn.functional.mse_loss, eval_data=(x, y), steps=8,
                      rungs=1, num=4, min_lr=0.01, max_lr=0.3)
    assert RaisesOnOrder2.calls == 3  # the interrupt was raised inside the check on data order 2
    assert result.interrupted


def test_a_run_whose_training_loss_blows_up_stops_at_the_end_of_its_block():
    """Cost: a rate that blew up trained on to the rung's horizon while its loss stayed finite. Plain SGD on y = 2x
    with one weight: the error is multiplied by |1 - 2 lr E[x^2]| ~ |1 - 2 lr| per step. At lr 1.5625 that is 2.1:
    the loss passes 4 x L0 within the first block of 8 steps (2.1**16 ~ 1e5 on the squared error), but stays finite
    for hundreds of steps. 0.395 (factor 0.2) and 0.1 (0.8) converge."""
    import torch
    from torch import nn

    from gradscope.commands.sweep.api import sweep_lr

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(512, 1, generator=gen)
    y = 2 * x + 0.01 * torch.randn(512, 1, generator=gen)
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 512, 32)]
    torch.manual_seed(0)
    result = sweep_lr(nn.Linear(1, 1, bias=False), batches, nn.functional.mse_loss, eval_data=(x, y), steps=16,
                      rungs=1, num=3, min_lr=0.1, max_lr=1.5625, seeds=1)
    blown = next(r for r in result.runs if r.lr == pytest.approx(1.5625))
    assert (blown.diverged_step, blown.steps, blown.nonfinite_step) == (8, 8, None)
    assert result.steps_spent == 16 + 16 + 8
    row = next(r for r in result_rows(result) if r["lr"] == pytest.approx(1.5625))
    assert row["diverged"] and row["diverged_step"] == 8 and row["regret"] is None


def result_rows(result):
    from gradscope.commands.sweep.report import table_rows

    return table_rows(result)

