"""Healthy: a binary classifier with one logit per sample and its own loss_fn (BCEWithLogitsLoss), SGD + momentum."""

import torch
from torch import nn


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1))


def get_data():
    g = torch.Generator().manual_seed(25)
    x = torch.randn(512, 12, generator=g)
    return x, ((x[:, 0] * x[:, 1] + x[:, 2]) > 0).float()


def loss_fn(output, target):
    return nn.functional.binary_cross_entropy_with_logits(output.squeeze(1), target)


def check(log) -> str:
    assert log.finite, "a loss was not finite"
    assert log.tail() < 0.7 * log.head(), f"loss {log.head():.3f} -> {log.tail():.3f} fell by less than 30%"
    return f"loss {log.head():.3f} -> {log.tail():.3f}"
