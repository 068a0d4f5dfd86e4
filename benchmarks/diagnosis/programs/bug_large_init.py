"""Bug (exploding, bad init): a 6-layer ReLU MLP with N(0, 1) weights ("randn" init, no 1/sqrt(fan_in) scaling);
each layer multiplies the signal by ~8, the loss starts astronomically high and the first steps blow up."""

import torch
from torch import nn


def build_model() -> nn.Module:
    layers, width = [], 32
    for _ in range(6):
        linear = nn.Linear(width, 128)
        nn.init.normal_(linear.weight, 0.0, 1.0)
        nn.init.zeros_(linear.bias)
        layers += [linear, nn.ReLU()]
        width = 128
    return nn.Sequential(*layers, nn.Linear(128, 4))


def get_data():
    g = torch.Generator().manual_seed(36)
    x = torch.randn(512, 32, generator=g)
    return x, (x @ torch.randn(32, 4, generator=g)).argmax(1)


def build_fixed_model() -> nn.Module:
    model = build_model()
    for module in model:
        if isinstance(module, nn.Linear):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")  # He: std sqrt(2 / fan_in), not 1
    return model


FIXED_BELOW = 1.2  # chance is ln 4 = 1.39


def check(log) -> str:
    assert log.losses[0] > 1e4, f"step-0 loss {log.losses[0]:.3g} is not astronomically above ln 4"
    return f"step-0 loss {log.losses[0]:.3g} (chance 1.39); last loss {log.losses[-1]:.3g}"
