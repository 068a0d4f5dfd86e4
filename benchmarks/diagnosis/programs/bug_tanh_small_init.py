"""Bug (vanishing, bad init): an 8-layer tanh MLP with weights drawn from N(0, 0.01^2) (a tutorial's "small random
numbers"); each layer shrinks the signal ~20x, so the first layer's gradient is vanishingly small."""

import torch
from torch import nn


def build_model() -> nn.Module:
    layers, width = [], 20
    for _ in range(8):
        linear = nn.Linear(width, 64)
        nn.init.normal_(linear.weight, 0.0, 0.01)
        nn.init.zeros_(linear.bias)
        layers += [linear, nn.Tanh()]
        width = 64
    return nn.Sequential(*layers, nn.Linear(64, 4))


def get_data():
    g = torch.Generator().manual_seed(33)
    x = torch.randn(512, 20, generator=g)
    return x, (x @ torch.randn(20, 4, generator=g)).argmax(1)


def build_fixed_model() -> nn.Module:
    model = build_model()
    for module in model:
        if isinstance(module, nn.Linear):
            nn.init.xavier_normal_(module.weight, gain=nn.init.calculate_gain("tanh"))
    return model


FIXED_BELOW = 1.0  # chance is ln 4 = 1.39


def check(log) -> str:
    first, last = log.grad("0.weight"), log.grad("16.weight")
    assert first < 1e-4 * last, f"layer 0's gradient {first:.1e} is not < 1e-4 x the head's {last:.1e}"
    return f"grad layer0/head = {first / last:.1e}; loss {log.head():.3f} -> {log.tail():.3f}"
