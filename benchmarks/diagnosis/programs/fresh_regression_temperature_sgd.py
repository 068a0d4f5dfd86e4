"""Healthy: a daily-temperature regression (targets in degrees, mean ~15, std ~8, not standardised, as many tutorials
leave them) from 8 standardised weather features, a 2-layer ReLU MLP with SGD + momentum. A linear output learns the
offset in a few steps; the loss ends far below the targets' variance (what predicting their mean would cost)."""

import torch
from torch import nn


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))


def get_data():
    g = torch.Generator().manual_seed(74)
    x = torch.randn(1024, 8, generator=g)
    y = 15 + 6 * x[:, 0] - 3 * x[:, 1] + 2 * torch.tanh(x[:, 2] * x[:, 3]) + torch.randn(1024, generator=g)
    return x, y.unsqueeze(1)


def check(log) -> str:
    variance = log.batch[1].var().item()
    assert log.finite and log.tail() < 0.5 * variance, f"loss ends {log.tail():.2f}, not below half Var(y) {variance:.1f}"
    return f"loss {log.head():.1f} -> {log.tail():.2f}, target variance {variance:.1f}"
