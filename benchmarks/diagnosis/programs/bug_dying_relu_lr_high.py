"""Bug (dying ReLU, lr too high): a ReLU MLP under plain SGD at lr 3 with an unscaled target; the first large
steps push most first-layer pre-activations negative for every input, and those units never fire again."""

import torch
from torch import nn


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))


def get_data():
    g = torch.Generator().manual_seed(45)
    x = torch.randn(512, 10, generator=g)
    return x, 5 * (x @ torch.randn(10, 1, generator=g)) + 3


FIXED_BELOW = 20.0


def check(log) -> str:
    dead = log.dead_fraction("1")
    assert dead > 0.5, f"only {dead:.0%} of ReLU 1's units are dead"
    return f"{dead:.0%} of ReLU 1 dead; loss {log.head():.1f} -> {log.tail():.1f}"
