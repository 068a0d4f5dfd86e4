"""Bug (dying ReLU from the init): a CNN on [0, 1] images whose custom init calls
`nn.init.uniform_(m.weight, -bound, 0)` (a typo for `(-bound, bound)`) on every conv. With non-negative pixels and
all-negative weights, the first conv's pre-activations are below zero for every pixel of every image: its ReLU
(module "1") never fires, nothing above it gets a signal, and only the head's bias learns."""

import math

import torch
from torch import nn


def net() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                         nn.Flatten(), nn.Linear(128, 4))


def build_model() -> nn.Module:
    model = net()
    for m in model:
        if isinstance(m, nn.Conv2d):
            bound = 1 / math.sqrt(m.weight[0].numel())
            nn.init.uniform_(m.weight, -bound, 0)  # the bug: meant uniform_(m.weight, -bound, bound)
            nn.init.zeros_(m.bias)
    return model


def build_fixed_model() -> nn.Module:
    return net()


def get_data():
    g = torch.Generator().manual_seed(223)
    y = torch.randint(0, 4, (512,), generator=g)
    x = 0.3 * torch.rand(512, 1, 16, 16, generator=g)
    for label, (r, c) in enumerate([(2, 2), (2, 10), (10, 2), (10, 10)]):
        x[y == label, 0, r:r + 4, c:c + 4] += 0.7
    return x, y


FIXED_BELOW = 1.0  # chance is ln 4 = 1.39


def check(log) -> str:
    dead = log.dead_fraction("1")
    assert dead > 0.95, f"only {dead:.0%} of ReLU 1's units are dead"
    return f"{dead:.0%} of ReLU 1's units never fire; loss {log.head():.3f} -> {log.tail():.3f}"
