"""Healthy: a robust regression of delivery times from 6 standardised features with heavy-tailed noise (a few
deliveries take hours longer), a 2-layer SiLU MLP trained on the Huber loss (delta 1) in its own loss_fn, SGD with
Nesterov-free momentum 0.9 at lr 0.01, targets in standard units."""

import torch
import torch.nn.functional as F
from torch import nn


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 48), nn.SiLU(), nn.Linear(48, 48), nn.SiLU(), nn.Linear(48, 1))


def get_data():
    g = torch.Generator().manual_seed(206)
    x = torch.randn(2048, 6, generator=g)
    clean = x @ torch.tensor([0.8, -0.5, 0.3, 0.0, 0.2, 0.4]) + 0.5 * torch.sin(2 * x[:, 0])
    noise = 0.2 * torch.randn(2048, generator=g)
    outliers = torch.rand(2048, generator=g) < 0.03
    noise[outliers] += 8 * torch.rand(int(outliers.sum()), generator=g)
    return x, (clean + noise).unsqueeze(1)


def loss_fn(output, target):
    return F.huber_loss(output, target, delta=1.0)


def check(log) -> str:
    assert log.finite and log.tail() < 0.5 * log.head(), f"loss {log.head():.3f} -> {log.tail():.3f}"
    return f"Huber loss {log.head():.3f} -> {log.tail():.3f}"
