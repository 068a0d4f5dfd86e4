"""Bug (exploding, bad init): a 10-layer linear chain initialised with gain 2.5 (orthogonal x 2.5 per layer).

The issue's observed case: the output is 2.5^10 ~ 1e4 x too large, the loss starts near 1e7 and is NaN within a
step or two. In a linear chain every layer's gradient norm is the same, so ratios between layers cannot see it.
"""

import torch
from torch import nn


def build_model() -> nn.Module:
    layers = [nn.Linear(16, 16) for _ in range(10)]
    for layer in layers:
        nn.init.orthogonal_(layer.weight, gain=2.5)
        nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers, nn.Linear(16, 1))


def get_data():
    g = torch.Generator().manual_seed(31)
    x = torch.randn(512, 16, generator=g)
    return x, x @ torch.randn(16, 1, generator=g) * 0.5


def build_fixed_model() -> nn.Module:
    model = build_model()
    for layer in list(model)[:-1]:
        nn.init.orthogonal_(layer.weight, gain=1.0)
    return model


FIXED_BELOW = 1.0  # the targets' variance is about 4; a well-initialised chain fits them below 1


def check(log) -> str:
    first = log.losses[0]
    assert first > 1e5, f"step-0 loss {first:.3g} is not astronomically above the targets' scale"
    blown = next((i for i, v in enumerate(log.losses) if not v == v or v > 1e12), None)
    assert blown is not None, f"the loss never blew up: {log.losses[:5]}"
    return f"step-0 loss {first:.3g}; non-finite or > 1e12 at step {blown}"
