"""`gradscope run` on the training patterns people write beyond the plain loop: closures, hand-written updates,
alternating optimizers. Each script logs what it measures itself (p.grad.norm() where its step uses the gradient,
the parameters' change across the step, its loss) into a JSON file named on its command line, and the test compares
gradscope's table with that log, step by step."""

import json
import textwrap

import numpy as np

from gradscope.scriptwatch import ScriptTarget, watch_script
from gradscope.settings import Settings

HEADER = """\
import json, sys
import torch
from torch import nn
torch.manual_seed(0)
x, y = torch.randn(32, 4) * 3, torch.randn(32, 1)
log = {"grads": {}, "updates": {}, "losses": {}, "outputs": []}


def grads(key, model):
    log["grads"].setdefault(key, []).append({n: p.grad.norm().item() for n, p in model.named_parameters()})


def snapshot(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def updates(key, model, before):
    log["updates"].setdefault(key, []).append({n: (p.detach() - before[n]).norm().item()
                                              for n, p in model.named_parameters()})


def loss_of(key, value):
    log["losses"].setdefault(key, []).append(float(value.detach() if torch.is_tensor(value) else value))


def dump():
    with open(sys.argv[1], "w") as f:
        json.dump(log, f)
"""


def watch(tmp_path, body: str, max_steps=None, stats_every=1, prelude: str = ""):
    script = tmp_path / "train.py"
    script.write_text(HEADER + prelude + textwrap.dedent(body))
    target = ScriptTarget(str(script), (str(tmp_path / "log.json"),))
    outcome = watch_script(target, Settings(stats_every=stats_every), max_steps)
    log = json.loads((tmp_path / "log.json").read_text()) if (tmp_path / "log.json").exists() else None
    return outcome, log


def column(record, value: str, names: list[str]) -> np.ndarray:
    return record.params.pivot(index="step", columns="param", values=value)[names].to_numpy()


def logged(rows: list[dict], names: list[str]) -> np.ndarray:
    return np.array([[row[n] for n in names] for row in rows])


def assert_matches_log(record, log, key: str, names: list[str], updates: bool = True):
    """Step count, gradient norms, loss and (when logged) update norms of one model against the script's log."""
    expected = logged(log["grads"][key], names)
    assert record.steps_recorded == len(expected)
    assert sorted(record.params["param"].unique()) == sorted(names)
    np.testing.assert_allclose(column(record, "grad_norm", names), expected, rtol=1e-4)
    if key in log["losses"]:
        np.testing.assert_allclose(record.losses, log["losses"][key], rtol=1e-4)
    if updates:
        np.testing.assert_allclose(column(record, "update_norm", names), logged(log["updates"][key], names),
                                   rtol=1e-4)


NAMES = ["0.weight", "0.bias", "2.weight", "2.bias"]
MLP = "model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))\n"


def test_closure_steps_record_each_step_s_own_gradient_loss_and_update(tmp_path):
    # Lightning's automatic optimization: zero_grad, forward, backward and clipping all inside the closure.
    outcome, log = watch(tmp_path, prelude=MLP, body="""
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for step in range(5):
            batch = slice(step * 6, step * 6 + 6)
            def closure():
                opt.zero_grad()
                loss = nn.functional.mse_loss(model(x[batch]), y[batch])
                loss.backward()
                grads("m", model)
                loss_of("m", loss)
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1e-3)
                return loss
            before = snapshot(model)
            opt.step(closure)
            updates("m", model, before)
        dump()
    """)
    (record,) = outcome.records
    assert_matches_log(record, log, "m", NAMES)
    assert logged(log["updates"]["m"], NAMES).min() > 0  # the old code recorded 0 here: a false update_ratio


def test_closure_steps_with_accumulation_record_the_accumulated_gradient(tmp_path):
    # accumulate_grad_batches=2 as Lightning runs it: the first micro-batch's closure is called directly (with the
    # zero_grad), the second inside optimizer.step(closure) without one.
    outcome, log = watch(tmp_path, prelude=MLP, body="""
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for step in range(4):
            total = 0.0
            for micro in range(2):
                batch = slice(step * 8 + micro * 4, step * 8 + micro * 4 + 4)
                def closure(micro=micro, batch=batch):
                    global total
                    if micro == 0:
                        opt.zero_grad()
                    loss = nn.functional.mse_loss(model(x[batch]), y[batch]) / 2
                    loss.backward()
                    total += loss.item()
                    return loss
                if micro == 0:
                    closure()
                else:
                    before = snapshot(model)
                    def stepped():
                        loss = closure()
                        grads("m", model)
                        return loss
                    opt.step(stepped)
                    updates("m", model, before)
            loss_of("m", total)
        dump()
    """)
    (record,) = outcome.records
    assert_matches_log(record, log, "m", NAMES)


def test_lbfgs_records_the_gradient_and_loss_at_the_start_of_each_step(tmp_path):
    outcome, log = watch(tmp_path, prelude=MLP, body="""
        opt = torch.optim.LBFGS(model.parameters(), lr=0.5, max_iter=4)
        for step in range(3):
            calls = []
            def closure():
                opt.zero_grad()
                loss = nn.functional.mse_loss(model(x), y)
                loss.backward()
                if not calls:  # LBFGS evaluates the closure several times a step; the first is at the step's start
                    grads("m", model)
                calls.append(1)
                return loss
            before = snapshot(model)
            loss_of("m", opt.step(closure))  # LBFGS returns the first evaluation's loss
            updates("m", model, before)
            assert len(calls) > 1
        dump()
    """)
    (record,) = outcome.records
    assert_matches_log(record, log, "m", NAMES)


def test_a_closure_without_backward_keeps_the_gradient_of_the_backward_before_the_step(tmp_path):
    # Lightning's manual optimization: the user's backward, then optimizer.step(closure) with a do-nothing closure.
    outcome, log = watch(tmp_path, prelude=MLP, body="""
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        for step in range(4):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            grads("m", model)
            loss_of("m", loss)
            before = snapshot(model)
            opt.step(closure=lambda: None)
            updates("m", model, before)
        dump()
    """)
    (record,) = outcome.records
    assert_matches_log(record, log, "m", NAMES)
