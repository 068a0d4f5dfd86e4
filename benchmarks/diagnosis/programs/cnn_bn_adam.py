"""Healthy: a LeNet-like CNN with BatchNorm on 1x28x28 digit-like images (strokes), Adam."""

import torch
from torch import nn


def build_model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 5), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 5), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 3))


def get_data():
    # Class 0: a horizontal bar, 1: a vertical bar, 2: a diagonal, at a random offset, plus noise.
    g = torch.Generator().manual_seed(13)
    y = torch.randint(0, 3, (384,), generator=g)
    x = torch.randn(384, 1, 28, 28, generator=g) * 0.3
    offsets = torch.randint(6, 22, (384,), generator=g)
    eye = torch.eye(28)
    for i in range(384):
        o = int(offsets[i])
        if y[i] == 0:
            x[i, 0, o - 1:o + 2, 4:24] += 1
        elif y[i] == 1:
            x[i, 0, 4:24, o - 1:o + 2] += 1
        else:
            x[i, 0] += eye.roll(o - 14, dims=1)
    return x, y


def check(log) -> str:
    assert log.finite, "a loss was not finite"
    assert log.tail() < 0.5 * log.head(), f"loss {log.head():.3f} -> {log.tail():.3f} did not halve"
    return f"loss {log.head():.3f} -> {log.tail():.3f}"
