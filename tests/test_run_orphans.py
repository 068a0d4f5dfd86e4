"""`gradscope run` on parameters that get gradients but that no optimizer steps (an optimizer built from
`model.head.parameters()` only, a module left out of the param groups): the watch moves to the enclosing model, and
update_ratio names them. And what must not look like that: a GAN's discriminator reached by the generator's pass, a
part frozen with requires_grad=False, a separate network the loss runs through. Each script logs its own gradient
norms, update norms and losses (test_run_patterns.HEADER), and the table is compared with that log step by step."""

import numpy as np

from test_run_patterns import GAN, assert_matches_log, logged, watch

from gradscope.render.run_view import model_notes
from gradscope.rules import update_ratio
from gradscope.scriptwatch import session as session_module

NET = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh())
        self.head = nn.Linear(8, 1)

    def forward(self, x):
        return self.head(self.backbone(x))


model = Net()
"""
NET_NAMES = ["backbone.0.weight", "backbone.0.bias", "backbone.2.weight", "backbone.2.bias", "head.weight",
             "head.bias"]
LOOP = """
for step in range(6):
    batch = slice(step * 5, step * 5 + 5)
    opt.zero_grad()
    model.zero_grad()
    loss = nn.functional.mse_loss(model(x[batch]), y[batch])
    loss.backward()
    grads("m", model)
    loss_of("m", loss)
    before = snapshot(model)
    opt.step()
    updates("m", model, before)
dump()
"""


def no_optimizer_findings(outcome):
    return [f for r in outcome.records for f in r.findings if "no optimizer holds" in f.message]


def test_an_optimizer_of_the_head_only_watches_the_whole_net_from_step_0(tmp_path):
    # The old code watched `head` alone (an nn.Linear: "weight", "bias") and reported nothing.
    outcome, log = watch(tmp_path, prelude=NET, body="opt = torch.optim.Adam(model.head.parameters(), lr=1e-2)" + LOOP)
    (record,) = outcome.records
    assert record.variant == "Net"
    assert_matches_log(record, log, "m", NET_NAMES)  # step 0 included: 6 steps, their gradients, losses, updates
    moved = logged(log["updates"]["m"], NET_NAMES)
    assert (moved[:, :4] == 0).all() and (moved[:, 4:] > 0).all()  # the backbone never moves, the head does
    assert record.meta["not_optimized"] == ["backbone.0", "backbone.2"]
    assert ("unstepped", "backbone.0, backbone.2: no optimizer holds their parameters") in model_notes(record.meta)
    [f] = no_optimizer_findings(outcome)
    assert (f.rule, f.layer) == ("update_ratio", "backbone.0")
    assert f.message.startswith("backbone.* receive gradients but no optimizer holds them: add them to the optimizer")
    assert f.hint == update_ratio.NOT_OPTIMIZED_HINT


def test_a_module_left_out_of_the_param_groups_makes_the_two_watched_parts_one_net(tmp_path):
    # backbone.2 and head are two separate models to the optimizer; backbone.0, forgotten, joins them into Net.
    groups = '[{"params": model.backbone[2].parameters()}, {"params": model.head.parameters()}]'
    outcome, log = watch(tmp_path, prelude=NET, body=f"opt = torch.optim.SGD({groups}, lr=0.05)" + LOOP)
    (record,) = outcome.records
    assert record.variant == "Net"
    assert_matches_log(record, log, "m", NET_NAMES)
    assert record.meta["not_optimized"] == ["backbone.0"]
    [f] = no_optimizer_findings(outcome)
    assert f.layer == "backbone.0" and f.message.startswith("backbone.0 receives gradients but no optimizer holds it")


def test_the_graph_is_walked_once_not_every_step(tmp_path, monkeypatch):
    calls = []

    def counting(roots):
        calls.append(1)
        return original(roots)

    original = session_module.graph_leaves
    monkeypatch.setattr(session_module, "graph_leaves", counting)
    outcome, _ = watch(tmp_path, prelude=NET, body="opt = torch.optim.Adam(model.head.parameters(), lr=1e-2)" + LOOP)
    assert outcome.records[0].steps_recorded == 6 and len(calls) == 1


def test_a_gan_s_discriminator_reached_by_the_generator_s_pass_is_not_a_parameter_without_optimizer(tmp_path):
    # The generator steps first, so the first backward pass (the one searched) reaches D's parameters too; D's own
    # optimizer holds them.
    generator_first = GAN.replace("for block in range(3):", "for block in range(3):\n            g_steps()") \
        .replace("    try:\n", "    def g_steps():\n" + _G_STEP + "    try:\n")
    outcome, log = watch(tmp_path, generator_first)
    by_steps = {r.steps_recorded: r for r in outcome.records}
    assert set(by_steps) == {12, 9}
    assert [r.variant for r in outcome.records] == ["Sequential", "Sequential#2"]
    assert not any("not_optimized" in r.meta for r in outcome.records) and not no_optimizer_findings(outcome)
    assert_matches_log(by_steps[9], log, "gen", ["0.weight", "0.bias", "2.weight", "2.bias"], updates=False)


_G_STEP = """\
        opt_g.zero_grad()
        loss = bce(disc(gen(torch.randn(8, 2))), torch.ones(8, 1))
        loss.backward()
        grads("gen", gen)
        loss_of("gen", loss)
        opt_g.step()
"""


def test_a_backbone_frozen_with_requires_grad_false_is_not_a_parameter_without_optimizer(tmp_path):
    outcome, log = watch(tmp_path, prelude=NET, body="""
        model.backbone.requires_grad_(False)
        opt = torch.optim.Adam(model.head.parameters(), lr=1e-2)
        for step in range(4):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            log["grads"].setdefault("m", []).append({n: model.get_parameter(n).grad.norm().item()
                                                     for n in ["head.weight", "head.bias"]})
            opt.step()
        dump()
    """)
    (record,) = outcome.records
    assert record.variant == "Net"  # its trainable parameters are the head's: the outermost holder, as before
    assert_matches_log(record, log, "m", ["head.weight", "head.bias"], updates=False)
    assert "not_optimized" not in record.meta and not no_optimizer_findings(outcome)


def test_a_separate_network_the_loss_runs_through_is_not_adopted(tmp_path):
    # A perceptual-loss network left trainable: it gets gradients and no optimizer, but it is not part of the model.
    outcome, log = watch(tmp_path, prelude=NET, body="""
        critic = nn.Sequential(nn.Linear(1, 4), nn.Tanh(), nn.Linear(4, 1))
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        for step in range(3):
            opt.zero_grad()
            loss = critic(model(x)).pow(2).mean()
            loss.backward()
            grads("m", model)
            opt.step()
        dump()
    """)
    (record,) = outcome.records
    assert record.variant == "Net"
    assert_matches_log(record, log, "m", NET_NAMES, updates=False)
    assert "not_optimized" not in record.meta and np.isfinite(record.losses).all()
