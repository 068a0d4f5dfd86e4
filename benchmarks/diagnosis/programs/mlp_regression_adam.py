"""Healthy: a 3-layer ReLU MLP regressing a smooth function of 10 features, trained with Adam (like a tabular baseline)."""

import torch
from torch import nn


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))


def get_data():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1024, 10, generator=g)
    y = torch.sin(x[:, :3].sum(1)) + 0.5 * x[:, 3] - 0.2 * x[:, 4] ** 2
    return x, y.unsqueeze(1)


def check(log) -> str:
    assert log.finite, "a loss was not finite"
    assert log.tail() < 0.6 * log.head(), f"loss {log.head():.3f} -> {log.tail():.3f} did not fall by 40%"
    return f"loss {log.head():.3f} -> {log.tail():.3f}"
