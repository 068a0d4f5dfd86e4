"""The recorder against plain autograd: every number is recomputed by hand from p.grad / p.data in the test."""

import math

import numpy as np
import pytest
import torch
from torch import nn

import gradscope
from gradscope.recording.watch import watch


def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 1))


def _batch(seed=1, n=16):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 4, generator=g), torch.randn(n, 1, generator=g)


def _pivot(frame, column, names):
    return frame.pivot(index="step", columns="param", values=column)[names].to_numpy()


def test_grad_param_and_update_norms_match_plain_autograd():
    model, (x, y) = _mlp(), _batch()
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
    assert sorted(frame["step"].unique()) == [0, 1, 2, 3]
    np.testing.assert_allclose(_pivot(frame, "grad_norm", names), grads, rtol=1e-5)
    np.testing.assert_allclose(_pivot(frame, "param_norm", names), params, rtol=1e-5)
    np.testing.assert_allclose(_pivot(frame, "update_norm", names), updates, rtol=1e-4, atol=1e-9)


def test_accumulation_and_clipping_record_the_accumulated_pre_clipping_gradient():
    model, (x, y) = _mlp(), _batch(n=32)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    names = [n for n, _ in model.named_parameters()]
    expected, losses = [], []
    with watch(model) as rec:
        for _ in range(3):
            opt.zero_grad()
            step_loss = 0.0
            for k in range(4):  # four micro-batches per optimizer step
                loss = nn.functional.mse_loss(model(x[k * 8:(k + 1) * 8]), y[k * 8:(k + 1) * 8]) / 4
                loss.backward()
                step_loss += loss.item()
            expected.append([p.grad.norm().item() for p in model.parameters()])
            losses.append(step_loss)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1e-3)
            opt.step()
    frame = rec.frame()
    assert frame["step"].nunique() == 3  # one record per optimizer step, not per backward
    np.testing.assert_allclose(_pivot(frame, "grad_norm", names), expected, rtol=1e-5)
    np.testing.assert_allclose(rec.losses(), losses, rtol=1e-5)
    assert max(e for row in expected for e in row) > 1e-2  # clipping to 1e-3 would have hidden these


def test_direct_autograd_backward_is_measured_before_clipping_with_its_loss_weights():
    model, (x, y) = _mlp(), _batch()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    names = [n for n, _ in model.named_parameters()]
    expected, losses = [], []
    with watch(model) as rec:
        for _ in range(2):
            opt.zero_grad()
            a, b = nn.functional.mse_loss(model(x), y), model(x).abs().mean()
            # Not through Tensor.backward: two scalars, one pass; the objective is the weighted sum 2a + 0.5b.
            torch.autograd.backward([a, b], grad_tensors=[torch.tensor(2.0), torch.tensor(0.5)])
            expected.append([p.grad.norm().item() for p in model.parameters()])
            losses.append(2 * a.item() + 0.5 * b.item())
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1e-4)
            opt.step()
    np.testing.assert_allclose(_pivot(rec.frame(), "grad_norm", names), expected, rtol=1e-5)
    np.testing.assert_allclose(rec.losses(), losses, rtol=1e-5)


def test_a_backward_the_wrapper_cannot_see_is_measured_at_each_optimizer_step():
    from torch.autograd import backward as bound_early  # bound before watch() wraps torch.autograd.backward

    model, (x, y) = _mlp(), _batch()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    names = [n for n, _ in model.named_parameters()]
    grads, updates = [], []
    with watch(model, stats_every=1) as rec:
        for _ in range(4):
            opt.zero_grad()
            bound_early(nn.functional.mse_loss(model(x), y))
            grads.append([p.grad.norm().item() for p in model.parameters()])
            before = [p.detach().clone() for p in model.parameters()]
            opt.step()
            updates.append([(p.detach() - b).norm().item() for p, b in zip(model.parameters(), before)])
    frame = rec.frame()
    assert rec.steps == 4
    np.testing.assert_allclose(_pivot(frame, "grad_norm", names), grads, rtol=1e-5)
    np.testing.assert_allclose(_pivot(frame, "update_norm", names), updates, rtol=1e-4, atol=1e-9)


def test_a_backward_that_raises_does_not_swallow_the_step():
    class Boom(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t.clone()

        @staticmethod
        def backward(ctx, grad):
            raise RuntimeError("boom")

    model, (x, y) = _mlp(), _batch()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    names = [n for n, _ in model.named_parameters()]
    updates = []
    with watch(model, stats_every=1) as rec:
        for step in range(3):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            if step == 1:
                with pytest.raises(RuntimeError, match="boom"):
                    (loss + Boom.apply(model[0](x)).sum() * 0).backward()
            else:
                loss.backward()
            before = [p.detach().clone() for p in model.parameters()]
            opt.step()
            updates.append([(p.detach() - b).norm().item() for p, b in zip(model.parameters(), before)])
    assert rec.steps == 3
    np.testing.assert_allclose(_pivot(rec.frame(), "update_norm", names), updates, rtol=1e-4, atol=1e-9)
    assert rec.losses()[1] is None  # the pass that raised is not a loss of the step


def test_an_optimizer_fused_into_backward_makes_one_step_per_pass():
    # The pattern of PyTorch's "fuse the optimizer step into the backward pass" tutorial: a step per parameter,
    # from its post-accumulate-grad hook, which then frees the gradient.
    model, (x, y) = _mlp(), _batch()
    optimizers = {p: torch.optim.SGD([p], lr=0.1) for p in model.parameters()}

    def step_now(param):
        optimizers[param].step()
        optimizers[param].zero_grad()

    handles = [p.register_post_accumulate_grad_hook(step_now) for p in model.parameters()]
    try:
        with watch(model) as rec:
            for _ in range(3):
                nn.functional.mse_loss(model(x), y).backward()
    finally:
        for handle in handles:
            handle.remove()
    assert rec.steps == 3


def test_a_float64_loss_beyond_float32_range_stays_finite():
    torch.manual_seed(0)
    model = nn.Linear(4, 1).double()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    x = torch.randn(8, 4, dtype=torch.float64)
    with watch(model) as rec:
        opt.zero_grad()
        loss = model(x).mean() * 0 + 1e300
        loss.backward()
        opt.step()
    assert rec.losses() == [1e300]
    assert rec.record().nonfinite.empty


def test_reentrant_checkpointing_makes_one_pass_with_one_loss():
    from torch.utils.checkpoint import checkpoint

    model, (x, y) = _mlp(), _batch()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    names = [n for n, _ in model.named_parameters()]
    expected, losses = [], []
    with watch(model) as rec:
        for _ in range(2):
            opt.zero_grad()
            # The reentrant variant runs a backward of the segment inside the outer backward.
            hidden = checkpoint(model[:3], x.requires_grad_(), use_reentrant=True)
            loss = nn.functional.mse_loss(model[3:](hidden), y)
            loss.backward()
            expected.append([p.grad.norm().item() for p in model.parameters()])
            losses.append(loss.item())
            opt.step()
    np.testing.assert_allclose(_pivot(rec.frame(), "grad_norm", names), expected, rtol=1e-5)
    np.testing.assert_allclose(rec.losses(), losses, rtol=1e-6)


def test_a_loss_changed_in_place_after_backward_is_recorded_as_backpropagated():
    model, (x, y) = _mlp(), _batch()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with watch(model) as rec:
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        value = loss.item()
        loss.backward()
        with torch.no_grad():
            loss.mul_(1000.0)  # e.g. a running total that starts as this tensor
        opt.step()
    assert rec.losses() == pytest.approx([value], rel=1e-6)


def test_two_watches_in_one_loop_each_get_their_own_model_s_loss():
    (x, y), first, second = _batch(), _mlp(0), _mlp(1)
    opts = [torch.optim.SGD(m.parameters(), lr=0.1) for m in (first, second)]
    losses = {0: [], 1: []}
    with watch(first) as a, watch(second) as b:
        for _ in range(3):
            for opt in opts:
                opt.zero_grad()
            for i, model in enumerate((first, second)):  # both passes, then both steps: no zero_grad in between
                loss = nn.functional.mse_loss(model(x), y) * (i + 1)
                loss.backward()
                losses[i].append(loss.item())
            for opt in opts:
                opt.step()
    np.testing.assert_allclose(a.losses(), losses[0], rtol=1e-6)
    np.testing.assert_allclose(b.losses(), losses[1], rtol=1e-6)
    assert a.steps == b.steps == 3


def test_two_optimizers_after_one_backward_make_one_step():
    model, (x, y) = _mlp(), _batch()
    first = torch.optim.SGD(list(model.parameters())[:2], lr=0.1)
    rest = torch.optim.Adam(list(model.parameters())[2:], lr=0.01)
    with watch(model, stats_every=1) as rec:
        for _ in range(3):
            first.zero_grad(), rest.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            first.step(), rest.step()
    assert rec.steps == 3
    assert rec.frame()["update_norm"].gt(0).all()


def test_an_unused_parameter_has_no_gradient_rows_and_nan_norm():
    class Partly(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = nn.Linear(4, 1), nn.Linear(4, 1)

        def forward(self, x):
            return self.used(x)

    model, (x, y) = Partly(), _batch()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with watch(model) as rec:
        for _ in range(2):
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
    frame = rec.frame()
    unused = frame[frame["layer"] == "unused"]
    assert not unused["has_grad"].any() and unused["grad_norm"].isna().all()
    assert frame[frame["layer"] == "used"]["has_grad"].all()
    assert [layer.name for layer in rec.record().layers] == ["used", "unused"]  # never-run layers go last


def test_layer_order_follows_forward_not_definition():
    class Backwards(nn.Module):
        def __init__(self):
            super().__init__()
            self.last, self.first = nn.Linear(8, 1), nn.Linear(4, 8)

        def forward(self, x):
            return self.last(torch.relu(self.first(x)))

    model, (x, y) = Backwards(), _batch()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with watch(model) as rec:
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    assert [layer.name for layer in rec.record().layers] == ["first", "last"]


def test_activation_statistics_match_a_hand_count():
    model, (x, y) = _mlp(), _batch()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    with torch.no_grad():
        relu_out = torch.relu(model[0](x))
        sig_out = torch.sigmoid(model[2](relu_out))
    dead = 1 - (relu_out > 0).any(dim=0).float().mean().item()
    saturated = ((sig_out < 0.01) | (sig_out > 0.99)).float().mean().item()
    with watch(model) as rec:
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    acts = rec.record().activations.set_index(["layer", "kind"])["fraction"]
    assert acts[("1", "dead")] == pytest.approx(dead)
    assert acts[("3", "saturated")] == pytest.approx(saturated)


def test_nan_gradient_is_recorded_not_dropped():
    model, (x, y) = _mlp(), _batch()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with watch(model) as rec:
        for step in range(3):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y) * (float("nan") if step == 1 else 1.0)
            loss.backward()
            opt.step()
    record = rec.record()
    assert math.isnan(record.losses[1]) and math.isfinite(record.losses[0])
    first = record.nonfinite.iloc[0]
    assert first["step"] == 1 and first["where"] == "loss"
    assert record.params.query("step == 1")["grad_norm"].isna().all()


def test_hooks_and_patches_are_removed_even_when_the_loop_raises():
    model, (x, y) = _mlp(), _batch()
    original_backward, original_tensor_backward = torch.autograd.backward, torch.Tensor.backward
    with pytest.raises(RuntimeError, match="boom"):
        with watch(model):
            assert torch.autograd.backward is not original_backward  # wrapped while the watch is active
            nn.functional.mse_loss(model(x), y).backward()
            raise RuntimeError("boom")
    assert torch.autograd.backward is original_backward
    assert torch.Tensor.backward is original_tensor_backward
    for module in model.modules():
        assert not module._forward_hooks
    for p in model.parameters():
        assert not p._post_accumulate_grad_hooks
    from torch.optim import optimizer as optim_module
    assert not optim_module._global_optimizer_pre_hooks


def test_stats_every_measures_param_norms_only_on_those_steps():
    model, (x, y) = _mlp(), _batch()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with watch(model, stats_every=3) as rec:
        for _ in range(7):
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
    measured = rec.frame().groupby("step")["param_norm"].apply(lambda s: s.notna().all())
    assert [s for s, ok in measured.items() if ok] == [0, 3, 6]
    assert rec.frame()["grad_norm"].notna().all()  # gradients are measured every step


def test_watch_takes_statistics_every_sixteenth_step_by_default():
    model, (x, y) = _mlp(), _batch()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with watch(model) as rec:
        for _ in range(33):
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
    record = rec.record()
    measured = record.params.groupby("step")["param_norm"].apply(lambda s: s.notna().all())
    assert [s for s, ok in measured.items() if ok] == [0, 16, 32]
    assert sorted(record.activations["step"].unique()) == [0, 16, 32]


def test_top_level_watch_is_the_recording_watch():
    assert gradscope.watch is watch


def test_a_layer_used_by_its_parent_without_running_is_placed_after_the_parent():
    # MultiheadAttention uses out_proj.weight inside F.multi_head_attention_forward: out_proj's own forward never runs.
    class Attend(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
            self.head = nn.Linear(8, 1)

        def forward(self, x):
            return self.head(self.attn(x, x, x)[0].mean(dim=1))

    model = Attend()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with watch(model) as rec:
        opt.zero_grad()
        model(torch.randn(4, 5, 8)).sum().backward()
        opt.step()
    assert [layer.name for layer in rec.record().layers] == ["attn", "attn.out_proj", "head"]


def test_watch_records_closure_steps_with_their_own_gradient_loss_and_update():
    # optimizer.step(closure) runs zero_grad, forward and backward inside the step (Lightning, LBFGS); the old
    # recorder put step k-1's gradient in step k's row and lost the last step.
    model, (x, y) = _mlp(), _batch()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    grads, losses, updates = [], [], []
    with watch(model, stats_every=1) as rec:
        for k in range(3):
            def closure(k=k):
                opt.zero_grad()
                loss = nn.functional.mse_loss(model(x * (k + 1)), y)
                loss.backward()
                grads.append([p.grad.norm().item() for p in model.parameters()])
                losses.append(loss.item())
                return loss
            before = [p.detach().clone() for p in model.parameters()]
            opt.step(closure)
            updates.append([(p.detach() - b).norm().item() for p, b in zip(model.parameters(), before)])
    frame = rec.frame()
    np.testing.assert_allclose(frame.pivot(index="step", columns="param", values="grad_norm")[
        [n for n, _ in model.named_parameters()]].to_numpy(), grads, rtol=1e-5)
    np.testing.assert_allclose(frame.pivot(index="step", columns="param", values="update_norm")[
        [n for n, _ in model.named_parameters()]].to_numpy(), updates, rtol=1e-5)
    np.testing.assert_allclose(rec.losses(), losses, rtol=1e-6)
