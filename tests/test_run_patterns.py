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


MANUAL_LOOP = """
    lr = 0.05
    for step in range(6):
        model.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        grads("m", model)
        loss_of("m", loss)
        before = snapshot(model)
        {update}
        updates("m", model, before)
        log["outputs"].append(step)
    dump()
"""


def test_a_loop_without_optimizer_is_watched_a_step_per_backward_pass(tmp_path):
    for update in ("[p.data.add_(p.grad, alpha=-lr) for p in model.parameters()]",
                   "with torch.no_grad():\n            for p in model.parameters(): p -= lr * p.grad"):
        outcome, log = watch(tmp_path, prelude=MLP, body=MANUAL_LOOP.format(update=update))
        (record,) = outcome.records
        assert_matches_log(record, log, "m", NAMES)
        assert record.meta["optimizer"] == "none (a step per backward pass)"
        assert outcome.report["script"]["steps"] == 6 and outcome.ending.how == "finished"


def test_max_steps_stops_a_loop_without_optimizer_at_its_next_backward_pass(tmp_path):
    outcome, log = watch(tmp_path, prelude=MLP, max_steps=3, body="""
        try:
            for step in range(6):
                model.zero_grad()
                loss = nn.functional.mse_loss(model(x), y)
                log["outputs"].append(step)  # the forward of step 3 runs; its backward is where the stop is
                loss.backward()
                grads("m", model)
                [p.data.add_(p.grad, alpha=-0.05) for p in model.parameters()]
        finally:
            dump()
    """)
    assert outcome.ending.how == "stopped" and log["outputs"] == [0, 1, 2, 3]
    (record,) = outcome.records
    assert_matches_log(record, log, "m", NAMES, updates=False)
    assert outcome.report["script"]["steps"] == 3


GAN = """
    gen = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 4))
    disc = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    opt_g = torch.optim.Adam(gen.parameters(), lr=1e-3)
    opt_d = torch.optim.SGD(disc.parameters(), lr=0.05)
    bce = nn.functional.binary_cross_entropy_with_logits
    try:
        for block in range(3):  # 4 discriminator steps, then 2 generator steps
            for _ in range(4):
                opt_d.zero_grad()
                fake = gen(torch.randn(8, 2)).detach()
                loss = bce(disc(x[:8]), torch.ones(8, 1)) + bce(disc(fake), torch.zeros(8, 1))
                loss.backward()
                grads("disc", disc)
                loss_of("disc", loss)
                opt_d.step()
            for _ in range(2):
                opt_g.zero_grad()
                loss = bce(disc(gen(torch.randn(8, 2))), torch.ones(8, 1))
                loss.backward()  # also writes the discriminator's .grad
                grads("gen", gen)
                loss_of("gen", loss)
                opt_g.step()
    finally:
        dump()
"""


def test_alternating_optimizers_give_each_model_its_own_optimizer_s_steps(tmp_path):
    outcome, log = watch(tmp_path, GAN)
    by_steps = {r.steps_recorded: r for r in outcome.records}
    assert set(by_steps) == {12, 6}
    assert_matches_log(by_steps[12], log, "disc", NAMES, updates=False)
    assert_matches_log(by_steps[6], log, "gen", NAMES, updates=False)
    assert outcome.report["script"]["steps"] == 18


def test_max_steps_counts_the_steps_of_all_models_together(tmp_path):
    outcome, log = watch(tmp_path, GAN, max_steps=7)  # 4 D steps, 2 G steps, 1 D step
    assert outcome.ending.how == "stopped" and outcome.report["script"]["steps"] == 7
    assert sorted(r.steps_recorded for r in outcome.records) == [2, 5]
    assert len(log["grads"]["disc"]) == 5 and len(log["grads"]["gen"]) == 2


GPT = """
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln, self.mlp = nn.LayerNorm(8), nn.Linear(8, 8)

        def forward(self, h):
            return h + self.mlp(self.ln(h))


    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn.ModuleDict(dict(wte=nn.Embedding(16, 8), h=nn.ModuleList([Block(), Block()])))
            self.lm_head = nn.Linear(8, 16, bias=False)
            self.lm_head.weight = self.transformer.wte.weight  # weight tying
            self.scale = nn.Parameter(torch.ones(()))  # a parameter of the root module itself

        def forward(self, idx):
            h = self.transformer.wte(idx) * self.scale
            for block in self.transformer.h:
                h = block(h)
            return self.lm_head(h)


    model = GPT()
    tokens = torch.randint(0, 16, (4, 6))
    for step in range(3):
        model.zero_grad(set_to_none=True)
        logits = model(tokens[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, 16), tokens[:, 1:].reshape(-1))
        loss.backward()
        grads("gpt", model)  # named_parameters() gives the tied tensor once, by its first name
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-0.1)
    dump()
"""


def test_a_gpt_keeps_its_own_names_and_its_tied_head_is_named(tmp_path):
    outcome, log = watch(tmp_path, GPT)
    (record,) = outcome.records
    names = list(log["grads"]["gpt"][0])
    assert "transformer.wte.weight" in names and "scale" in names and "lm_head.weight" not in names
    assert_matches_log(record, log, "gpt", names, updates=False)
    assert record.variant == "GPT"
    assert record.meta["tied"] == ["transformer.wte.weight = lm_head.weight"]
    assert [(layer.name, layer.type) for layer in record.layers if layer.name == "scale"] == [("scale", "Parameter")]
    # Forward order, learned from step 1's forward (the watch began inside step 0's backward); the model's own
    # parameter finishes with the model's forward, last.
    assert [layer.name for layer in record.layers] == ["transformer.wte", "transformer.h.0.ln", "transformer.h.0.mlp",
                                                      "transformer.h.1.ln", "transformer.h.1.mlp", "scale"]


def test_the_module_holding_the_model_gives_the_names_and_wrappers_are_peeled(tmp_path):
    # A LightningModule-like holder of self.model whose optimizer takes self.parameters(), wrapped in DataParallel.
    outcome, log = watch(tmp_path, prelude=MLP, body="""
        class Task(nn.Module):
            def __init__(self, model):
                super().__init__()
                self.model = model

            def forward(self, x):
                return self.model(x)


        task = Task(model)
        wrapped = nn.DataParallel(task)  # on the CPU it calls the module itself
        opt = torch.optim.SGD(wrapped.parameters(), lr=0.05)
        for step in range(2):
            opt.zero_grad()
            nn.functional.mse_loss(wrapped(x), y).backward()
            grads("task", task)
            opt.step()
        dump()
    """)
    (record,) = outcome.records
    assert record.variant == "Task"
    assert_matches_log(record, log, "task", ["model." + n for n in NAMES], updates=False)


def test_under_torch_compile_gradients_are_exact_and_activation_statistics_are_said_to_be_off(tmp_path):
    outcome, log = watch(tmp_path, prelude=MLP, stats_every=2, body="""
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        compiled = torch.compile(model, backend="eager")  # dynamo traces the hooks as inductor would; no compiler
        for step in range(4):
            opt.zero_grad()
            loss = nn.functional.mse_loss(compiled(x), y)
            loss.backward()
            grads("m", model)
            loss_of("m", loss)
            opt.step()
        dump()
    """)
    (record,) = outcome.records
    assert record.variant == "Sequential"  # the compile wrapper peeled
    assert_matches_log(record, log, "m", NAMES, updates=False)
    assert record.activations.empty and record.meta["activations"].startswith("off under torch.compile")


def test_a_gan_zeroing_gradients_in_place_keeps_each_model_s_own_loss(tmp_path):
    # zero_grad(set_to_none=False) leaves tensors behind, so the recorder cannot tell from None gradients that the
    # generator's passes (which also wrote the discriminator's .grad) are not part of the discriminator's next step.
    outcome, log = watch(tmp_path, GAN.replace(".zero_grad()", ".zero_grad(set_to_none=False)"))
    by_steps = {r.steps_recorded: r for r in outcome.records}
    assert_matches_log(by_steps[12], log, "disc", NAMES, updates=False)
    assert_matches_log(by_steps[6], log, "gen", NAMES, updates=False)


def test_a_loop_without_optimizer_is_found_after_a_backward_pass_that_trains_nothing(tmp_path):
    probe = textwrap.dedent("""
        probe = x.clone().requires_grad_()
        frozen = nn.Linear(4, 1).requires_grad_(False)
        frozen(probe).sum().backward()  # an input's gradient: no parameter of any model is reached
    """)
    body = MANUAL_LOOP.format(update="[p.data.add_(p.grad, alpha=-lr) for p in model.parameters()]")
    outcome, log = watch(tmp_path, prelude=MLP + probe, body=body)
    (record,) = outcome.records
    assert_matches_log(record, log, "m", NAMES)


def test_max_steps_equal_to_an_lbfgs_script_s_length_records_every_step_and_lets_it_finish(tmp_path):
    # LBFGS runs several backward passes inside each step: the stop must not count the step they belong to.
    outcome, log = watch(tmp_path, prelude=MLP, max_steps=3, body="""
        opt = torch.optim.LBFGS(model.parameters(), lr=0.5, max_iter=3)
        for step in range(3):
            def closure():
                opt.zero_grad()
                loss = nn.functional.mse_loss(model(x), y)
                loss.backward()
                return loss
            opt.step(closure)
        log["outputs"].append("saved")
        dump()
    """)
    assert outcome.ending.how == "finished" and log["outputs"] == ["saved"]
    assert outcome.records[0].steps_recorded == 3


def test_max_steps_stops_closure_steps_at_the_next_step_s_backward(tmp_path):
    outcome, log = watch(tmp_path, prelude=MLP, max_steps=2, body="""
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        try:
            for step in range(5):
                def closure():
                    opt.zero_grad()
                    loss = nn.functional.mse_loss(model(x), y)
                    loss.backward()
                    grads("m", model)
                    return loss
                opt.step(closure)
        finally:
            dump()
    """)
    assert outcome.ending.how == "stopped" and outcome.report["script"]["steps"] == 2
    assert_matches_log(outcome.records[0], log, "m", NAMES, updates=False)
