"""The recorder on a CUDA device: the same numbers as by hand, no host sync between flushes, AMP on CUDA.

Skipped where CUDA is missing (CI has no GPU); run on a GPU machine with `python -m pytest tests/test_cuda.py`.
"""

import json
import math
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from gradscope.recording.watch import watch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _model_and_batch(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32), nn.Sigmoid(), nn.Linear(32, 1)).cuda()
    return model, torch.randn(64, 16, device="cuda"), torch.randn(64, 1, device="cuda")


def _pivot(frame, column, names):
    return frame.pivot(index="step", columns="param", values=column)[names].to_numpy()


def test_norms_on_cuda_match_plain_autograd():
    model, x, y = _model_and_batch()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    names = [n for n, _ in model.named_parameters()]
    grads, params, updates = [], [], []
    with watch(model, stats_every=1) as rec:
        for _ in range(4):
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            before = [p.detach().clone() for p in model.parameters()]
            grads.append([p.grad.norm().item() for p in model.parameters()])
            params.append([p.norm().item() for p in model.parameters()])
            opt.step()
            updates.append([(p.detach() - b).norm().item() for p, b in zip(model.parameters(), before)])
    frame = rec.frame()
    np.testing.assert_allclose(_pivot(frame, "grad_norm", names), grads, rtol=1e-5)
    np.testing.assert_allclose(_pivot(frame, "param_norm", names), params, rtol=1e-5)
    np.testing.assert_allclose(_pivot(frame, "update_norm", names), updates, rtol=1e-4, atol=1e-9)


def test_no_host_sync_between_flushes():
    """torch's sync debug mode raises on any synchronising call: none may happen in the steps between two flushes."""
    model, x, y = _model_and_batch()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def step():
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()

    with watch(model, stats_every=4, flush_every=32) as rec:
        step()  # step 0 learns the layer order and makes the cached constants
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            for _ in range(30):  # steps 1-30: statistics steps and plain ones, no flush (that is at 32)
                step()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    frame = rec.frame()
    assert frame["step"].nunique() == 31 and frame["grad_norm"].notna().all()
    assert rec.record().activations["fraction"].notna().any()


def test_gradscaler_on_cuda_is_unscaled_and_a_skipped_step_is_not_a_step(tmp_path):
    from gradscope.scriptwatch import ScriptTarget, watch_script
    from gradscope.settings import Settings

    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""
        import json, sys
        import torch
        from torch import nn
        torch.manual_seed(0)
        x, y = torch.randn(32, 4, device="cuda") * 5, torch.randn(32, 1, device="cuda")
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)).cuda()
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        scaler = torch.amp.GradScaler("cuda", init_scale=2.0 ** 12)
        norms, losses = [], []
        for step in range(5):
            opt.zero_grad()
            with torch.autocast("cuda", dtype=torch.float16):
                loss = nn.functional.mse_loss(model(x).float(), y)
            if step == 2:
                loss = loss * float("inf")  # inf gradients: the scaler skips this step
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            if step != 2:
                norms.append({n: p.grad.norm().item() for n, p in model.named_parameters()})
                losses.append(loss.item())
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1e-3)
            scaler.step(opt)
            scaler.update()
        with open(sys.argv[1], "w") as f:
            json.dump({"norms": norms, "losses": losses}, f)
    """))
    outcome = watch_script(ScriptTarget(str(script), (str(tmp_path / "expected.json"),)), Settings(), None)
    expected = json.loads((tmp_path / "expected.json").read_text())
    (record,) = outcome.records
    names = ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert record.steps_recorded == 4 and record.meta["skipped_steps"] == 1
    recorded = record.params.pivot(index="step", columns="param", values="grad_norm")[names].to_numpy()
    np.testing.assert_allclose(recorded, [[n[k] for k in names] for n in expected["norms"]], rtol=1e-4)
    np.testing.assert_allclose(record.losses, expected["losses"], rtol=1e-5)
    assert all(math.isfinite(v) for v in record.params["grad_norm"])


def test_inspect_runs_on_cuda(tmp_path):
    from cli_helpers import SAMPLES, invoke

    report = tmp_path / "r.json"
    result = invoke("inspect", SAMPLES / "healthy_mlp.py", "--device", "cuda", "--steps", "20", "--json", report,
                    "--quiet")
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text())
    (run,) = data["runs"]
    assert run["meta"]["device"].startswith("cuda") and run["steps_recorded"] == 20


def test_reentrant_checkpointing_on_cuda_makes_one_pass_with_one_loss():
    """On CUDA the engine runs the checkpointed segment's inner backward on its own device thread."""
    from torch.utils.checkpoint import checkpoint

    model, x, y = _model_and_batch()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    names = [n for n, _ in model.named_parameters()]
    grads, losses = [], []
    with watch(model) as rec:
        for _ in range(3):
            opt.zero_grad()
            hidden = checkpoint(model[:3], x.requires_grad_(), use_reentrant=True)
            loss = nn.functional.mse_loss(model[3:](hidden), y)
            loss.backward()
            grads.append([p.grad.norm().item() for p in model.parameters()])
            losses.append(loss.item())
            opt.step()
    np.testing.assert_allclose(_pivot(rec.frame(), "grad_norm", names), grads, rtol=1e-5)
    np.testing.assert_allclose(rec.losses(), losses, rtol=1e-6)


def test_a_model_split_between_cpu_and_cuda_adds_no_host_syncs():
    """The loop itself syncs (its backward copies a gradient to the CPU); watching it must not add any."""
    import warnings

    torch.manual_seed(0)
    first, rest = nn.Linear(16, 32), nn.Sequential(nn.ReLU(), nn.Linear(32, 1)).cuda()
    model = nn.ModuleDict({"first": first, "rest": rest})
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(64, 16), torch.randn(64, 1, device="cuda")
    names = [n for n, _ in model.named_parameters()]

    def step():
        opt.zero_grad()
        nn.functional.mse_loss(rest(first(x).cuda()), y).backward()
        opt.step()

    def syncs_in(steps: int) -> int:
        torch.cuda.synchronize()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                for _ in range(steps):
                    step()
            finally:
                torch.cuda.set_sync_debug_mode("default")
        return sum("synchroniz" in str(w.message).lower() for w in caught)

    step()
    plain = syncs_in(5)
    with watch(model, stats_every=1) as rec:
        step()  # the first step makes the recorder's cached constants
        watched = syncs_in(5)
        grads = [p.grad.norm().item() for p in model.parameters()]
    assert watched == plain
    assert rec.frame()["step"].nunique() == 6
    np.testing.assert_allclose(_pivot(rec.frame(), "grad_norm", names)[-1], grads, rtol=1e-5)
