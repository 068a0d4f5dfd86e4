"""Complex-valued parameters: the recorder reports the real L2 norm of their complex gradients (it used to crash in
torch._foreach_norm, which takes no float dtype for complex tensors)."""

import pytest
import torch
from torch import nn

import gradscope


def _complex_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4, dtype=torch.cfloat), nn.Linear(4, 1, dtype=torch.cdouble))


def test_complex_parameters_are_recorded_with_real_gradient_norms():
    model = _complex_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    expected = []
    with gradscope.watch(model, stats_every=1) as rec:
        for step in range(3):
            x = torch.randn(5, 3, dtype=torch.cfloat)
            opt.zero_grad()
            out = model[1](model[0](x).to(torch.cdouble))
            out.abs().pow(2).mean().backward()
            expected.append({n: p.grad.abs().pow(2).sum().sqrt().item() for n, p in model.named_parameters()})
            opt.step()
    frame = rec.frame()
    assert sorted(frame["step"].unique()) == [0, 1, 2]
    for step, norms in enumerate(expected):
        rows = frame[frame["step"] == step].set_index("param")
        assert set(rows.index) == set(norms)
        for name, norm in norms.items():
            assert rows.loc[name, "grad_norm"] == pytest.approx(norm, rel=1e-5)
    assert (frame["update_norm"] > 0).all()  # the snapshot of complex parameters works too


def test_batched_norms_of_complex_tensors_are_real_and_match_abs():
    from gradscope.recording.norms import batched_norms

    tensors = [torch.randn(4, 3, dtype=torch.cfloat), torch.randn(2, dtype=torch.cdouble), torch.randn(3)]
    norms = batched_norms(tensors, torch.device("cpu"))
    assert not norms.is_complex()
    expected = [t.abs().pow(2).sum().sqrt().item() for t in tensors]
    assert norms.tolist() == pytest.approx(expected, rel=1e-6)
