"""Bug (dying ReLU, lr too high): a ReLU MLP under Adam at lr 0.3 (100x its usual 3e-3) with an unscaled target;
the first large steps push the second hidden layer's pre-activations negative for every input, and those units
never fire again (ReLU "3", the second one)."""

import torch
from torch import nn


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))


def get_data():
    g = torch.Generator().manual_seed(45)
    x = torch.randn(512, 10, generator=g)
    return x, 5 * (x @ torch.randn(10, 1, generator=g)) + 3


FIXED_BELOW = 20.0  # the target's variance is about 250


def check(log) -> str:
    dead = log.dead_fraction("3")
    assert dead > 0.5, f"only {dead:.0%} of ReLU 3's units are dead"
    return f"{dead:.0%} of ReLU 3 dead; loss {log.head():.1f} -> {log.tail():.1f}"
