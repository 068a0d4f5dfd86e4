"""Bug (vanishing, bad init): a 10-layer ReLU MLP with N(0, 0.02^2) weights: the forward signal and the backward
gradient shrink ~10x per layer, so the early layers get almost no gradient and the loss sits at chance."""

import torch
from torch import nn


def build_model() -> nn.Module:
    layers, width = [], 24
    for _ in range(10):
        linear = nn.Linear(width, 48)
        nn.init.normal_(linear.weight, 0.0, 0.02)
        nn.init.zeros_(linear.bias)
        layers += [linear, nn.ReLU()]
        width = 48
    return nn.Sequential(*layers, nn.Linear(48, 3))


def get_data():
    g = torch.Generator().manual_seed(34)
    x = torch.randn(512, 24, generator=g)
    return x, (x @ torch.randn(24, 3, generator=g)).argmax(1)


def build_fixed_model() -> nn.Module:
    model = build_model()
    for module in model:
        if isinstance(module, nn.Linear):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    return model


FIXED_BELOW = 0.8  # chance is ln 3 = 1.10


def check(log) -> str:
    first, last = log.grad("0.weight"), log.grad("20.weight")
    assert first < 1e-4 * last, f"layer 0's gradient {first:.1e} is not < 1e-4 x the head's {last:.1e}"
    return f"grad layer0/head = {first / last:.1e}; loss {log.head():.3f} -> {log.tail():.3f}"
