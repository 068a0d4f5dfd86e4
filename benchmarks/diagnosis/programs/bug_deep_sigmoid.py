"""Bug (vanishing, wrong activation): a 10-layer sigmoid MLP under PyTorch's default init; layer 0 barely learns.

The fault of AUTOTRAINER's "vanishing gradient" class: each sigmoid multiplies the backward signal by at most 1/4.
"""

import torch
from torch import nn

DEPTH = 10


def build_model() -> nn.Module:
    layers, width = [], 20
    for _ in range(DEPTH):
        layers += [nn.Linear(width, 64), nn.Sigmoid()]
        width = 64
    return nn.Sequential(*layers, nn.Linear(64, 3))


def get_data():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(512, 20, generator=g)
    y = (x @ torch.randn(20, 3, generator=g)).argmax(1)
    return x, y


def build_fixed_model() -> nn.Module:
    """The same net with ReLU and He init: what the verify mode trains to show the activation is the cause."""
    model = build_model()
    for i, module in enumerate(model):
        if isinstance(module, nn.Sigmoid):
            model[i] = nn.ReLU()
        elif isinstance(module, nn.Linear):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
    return model


FIXED_BELOW = 0.9  # chance is ln 3 = 1.10; a ReLU/He version of this net gets well below 0.9 in the same steps


def check(log) -> str:
    first, last = log.grad("0.weight"), log.grad(f"{2 * DEPTH}.weight")
    assert first < 1e-4 * last, f"layer 0's gradient {first:.1e} is not < 1e-4 x the head's {last:.1e}"
    return f"grad layer0/head = {first / last:.1e}; loss {log.head():.3f} -> {log.tail():.3f}"
