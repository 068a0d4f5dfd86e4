"""Bug (vanishing gradient, wrong activation): an 8-layer 1-D CNN for sensor-signal classification with a sigmoid
after every conv (ported from a 1990s-style recipe). Each sigmoid passes at most 1/4 of the gradient and the
default init shrinks it further, so the first conv's gradient is orders of magnitude below the head's and the early
layers barely learn under SGD. `build_fixed_model` swaps the sigmoids for ReLUs with BatchNorm."""

import torch
from torch import nn


def net(activation) -> nn.Sequential:
    layers, channels = [], 1
    for width in (8, 8, 16, 16, 16, 32, 32, 32):
        layers += [nn.Conv1d(channels, width, 5, padding=2), *activation(width)]
        channels = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(32, 3))


def build_model() -> nn.Module:
    return net(lambda width: [nn.Sigmoid()])


def build_fixed_model() -> nn.Module:
    return net(lambda width: [nn.BatchNorm1d(width), nn.ReLU()])


def get_data():
    g = torch.Generator().manual_seed(226)
    y = torch.randint(0, 3, (512,), generator=g)
    t = torch.linspace(0, 1, 64)
    frequency = torch.tensor([3.0, 7.0, 13.0])[y].unsqueeze(1)
    x = torch.sin(2 * torch.pi * frequency * t) + 0.5 * torch.randn(512, 64, generator=g)
    return x.unsqueeze(1), y


FIXED_BELOW = 0.6  # chance is ln 3 = 1.10


def check(log) -> str:
    first, head = log.grad("0.weight"), log.grad("18.weight")
    assert first < 1e-3 * head, f"conv 0's gradient {first:.2e} is not far below the head's {head:.2e}"
    return f"conv 0 gradient {first:.2e} vs head {head:.2e}; loss {log.head():.3f} -> {log.tail():.3f}"
