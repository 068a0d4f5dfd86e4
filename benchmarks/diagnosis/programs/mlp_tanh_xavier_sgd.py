"""Healthy: a 5-layer tanh MLP with Xavier (Glorot) init, the init made for tanh, plain SGD."""

import torch
from torch import nn


def build_model() -> nn.Module:
    layers, width = [], 16
    for _ in range(4):
        linear = nn.Linear(width, 64)
        nn.init.xavier_normal_(linear.weight, gain=nn.init.calculate_gain("tanh"))
        nn.init.zeros_(linear.bias)
        layers += [linear, nn.Tanh()]
        width = 64
    return nn.Sequential(*layers, nn.Linear(64, 4))


def get_data():
    g = torch.Generator().manual_seed(22)
    x = torch.randn(512, 16, generator=g)
    y = (torch.tanh(x @ torch.randn(16, 8, generator=g)) @ torch.randn(8, 4, generator=g)).argmax(1)
    return x, y


def check(log) -> str:
    assert log.finite, "a loss was not finite"
    assert log.tail() < 0.7 * log.head(), f"loss {log.head():.3f} -> {log.tail():.3f} fell by less than 30%"
    return f"loss {log.head():.3f} -> {log.tail():.3f}"
