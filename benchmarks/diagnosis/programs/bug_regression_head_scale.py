"""Bug (outputs far too large at init, regression): the output layer of a regression MLP initialised 100x too
large, so the step-0 loss is hundreds of times the targets' variance; Adam at a normal lr takes most of the run
just to shrink the head back."""

import torch
from torch import nn


def build_model() -> nn.Module:
    model = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
    with torch.no_grad():
        model[4].weight.mul_(100.0)
    return model


def get_data():
    g = torch.Generator().manual_seed(51)
    x = torch.randn(512, 10, generator=g)
    return x, x @ torch.randn(10, 1, generator=g) * 0.3  # target variance about 0.9


def build_fixed_model() -> nn.Module:
    model = build_model()
    model[4].reset_parameters()
    return model


FIXED_BELOW = 0.3


def check(log) -> str:
    _, y = log.batch
    variance = y.var().item()
    assert log.losses[0] > 50 * variance, f"step-0 loss {log.losses[0]:.3g} vs target variance {variance:.2f}"
    return f"step-0 loss {log.losses[0]:.3g} vs target variance {variance:.2f}; ends at {log.tail():.3g}"
