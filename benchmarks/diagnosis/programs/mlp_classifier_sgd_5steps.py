"""Healthy, short: a 2-hidden-layer ReLU classifier for 10 classes, 5 steps of plain SGD (a smoke test's run)."""

import torch
from torch import nn


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(40, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))


def get_data():
    g = torch.Generator().manual_seed(12)
    x = torch.randn(512, 40, generator=g)
    y = (x @ torch.randn(40, 10, generator=g)).argmax(1)
    return x, y


def check(log) -> str:
    assert log.finite, "a loss was not finite"
    assert log.losses[-1] < log.losses[0], f"loss {log.losses[0]:.3f} -> {log.losses[-1]:.3f} did not fall"
    return f"loss {log.losses[0]:.3f} -> {log.losses[-1]:.3f} in 5 steps"
