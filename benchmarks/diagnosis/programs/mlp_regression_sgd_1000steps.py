"""Healthy, long: a tiny tanh MLP fitting a 1-D curve for 1000 steps of SGD + momentum (loss falls, then flattens)."""

import math

import torch
from torch import nn


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1))


def get_data():
    x = torch.linspace(-math.pi, math.pi, 256).unsqueeze(1)
    return x, torch.sin(2 * x) * 0.8


def check(log) -> str:
    assert log.finite, "a loss was not finite"
    assert log.tail() < 0.2 * log.head(), f"loss {log.head():.4f} -> {log.tail():.4f} did not fall 5x"
    return f"loss {log.head():.4f} -> {log.tail():.4f} over {len(log.losses)} steps"
