"""Bug (learning rate far too low): a healthy ReLU classifier whose lr is 1e4 x below a working one; the weights
barely move and the loss stays where it started (slow convergence)."""

import torch
from torch import nn


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 4))


def get_data():
    g = torch.Generator().manual_seed(37)
    x = torch.randn(512, 20, generator=g)
    return x, (x @ torch.randn(20, 4, generator=g)).argmax(1)


FIXED_BELOW = 1.0  # chance is ln 4 = 1.39; at a normal lr the loss is below 1.0 in the same steps


def check(log) -> str:
    drop = (log.head() - log.tail()) / log.head()
    assert abs(drop) < 0.01, f"the loss moved {drop:.1%}"
    return f"loss {log.head():.4f} -> {log.tail():.4f} ({drop:.2%})"
