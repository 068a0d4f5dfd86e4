"""Bug (missing normalisation): a 24-layer ReLU MLP under PyTorch's default Linear init and no normalisation or
residual connections; the default init shrinks the signal each layer, and the first layers get almost no gradient."""

import torch
from torch import nn


def build_model() -> nn.Module:
    layers, width = [], 16
    for _ in range(24):
        layers += [nn.Linear(width, 32), nn.ReLU()]
        width = 32
    return nn.Sequential(*layers, nn.Linear(32, 3))


def get_data():
    g = torch.Generator().manual_seed(40)
    x = torch.randn(512, 16, generator=g)
    return x, (x @ torch.randn(16, 3, generator=g)).argmax(1)


FIXED_BELOW = 0.9  # chance is ln 3 = 1.10 (no fix run: BatchNorm alone did not reach it under this SGD in 60 steps)


def check(log) -> str:
    first, last = log.grad("0.weight"), log.grad("48.weight")
    assert first < 1e-3 * last, f"layer 0's gradient {first:.1e} is not < 1e-3 x the head's {last:.1e}"
    return f"grad layer0/head = {first / last:.1e}; loss {log.head():.3f} -> {log.tail():.3f}"
