"""Healthy: a DenseNet-style CNN (two dense blocks of three BN-ReLU-conv layers whose outputs are concatenated onto
their inputs, a 1x1 transition with average pooling between them) on 12x12 two-channel images of oriented bars,
SGD with momentum 0.9 at lr 0.05, as in the DenseNet recipe (convs without bias, as a BatchNorm follows each)."""

import torch
from torch import nn


class DenseLayer(nn.Module):
    def __init__(self, channels: int, growth: int):
        super().__init__()
        self.body = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(),
                                  nn.Conv2d(channels, growth, 3, padding=1, bias=False))

    def forward(self, x):
        return torch.cat([x, self.body(x)], dim=1)


def dense_block(channels: int, growth: int, layers: int) -> nn.Sequential:
    return nn.Sequential(*[DenseLayer(channels + i * growth, growth) for i in range(layers)])


def build_model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(2, 16, 3, padding=1, bias=False),
        dense_block(16, 8, 3),
        nn.BatchNorm2d(40), nn.ReLU(), nn.Conv2d(40, 20, 1, bias=False), nn.AvgPool2d(2),
        dense_block(20, 8, 3),
        nn.BatchNorm2d(44), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(44, 4))


def get_data():
    g = torch.Generator().manual_seed(301)
    y = torch.randint(0, 4, (512,), generator=g)
    x = 0.4 * torch.randn(512, 2, 12, 12, generator=g)
    for i in range(512):
        label = int(y[i])
        if label == 0:
            x[i, 0, 5:7, :] += 1.0
        elif label == 1:
            x[i, 0, :, 5:7] += 1.0
        elif label == 2:
            x[i, 1, 5:7, :] += 1.0
        else:
            x[i, 1, :, 5:7] += 1.0
    return x, y


def check(log) -> str:
    assert log.finite and log.tail() < 0.5 * log.head(), f"loss {log.head():.3f} -> {log.tail():.3f}"
    return f"loss {log.head():.3f} -> {log.tail():.3f}"
