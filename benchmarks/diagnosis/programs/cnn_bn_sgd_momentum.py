"""Healthy: a small VGG-style CNN with BatchNorm (conv-BN-ReLU x3, global pooling) on 3x16x16 images, SGD + momentum."""

import torch
from torch import nn


def block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


def build_model() -> nn.Module:
    return nn.Sequential(*block(3, 16), nn.MaxPool2d(2), *block(16, 32), nn.MaxPool2d(2), *block(32, 32),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 4))


def get_data():
    # Four classes told apart by which colour channel / quadrant is brighter: a CNN learns it in tens of steps.
    g = torch.Generator().manual_seed(2)
    y = torch.randint(0, 4, (512,), generator=g)
    x = torch.randn(512, 3, 16, 16, generator=g) * 0.5
    for c in range(3):
        x[y == c, c] += 1.0
    x[y == 3, :, :8, :8] += 1.0
    return x, y


def check(log) -> str:
    assert log.finite, "a loss was not finite"
    assert log.tail() < 0.5 * log.head(), f"loss {log.head():.3f} -> {log.tail():.3f} did not halve"
    return f"loss {log.head():.3f} -> {log.tail():.3f}"
