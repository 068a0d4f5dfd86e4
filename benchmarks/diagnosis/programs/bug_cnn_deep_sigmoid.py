"""Bug (vanishing, wrong activation): an 8-layer CNN with sigmoid activations and no normalisation (a 1990s
design): the first conv layer's gradient is orders of magnitude below the head's."""

import torch
from torch import nn


def build_model() -> nn.Module:
    layers, c = [], 1
    for _ in range(8):
        layers += [nn.Conv2d(c, 8, 3, padding=1), nn.Sigmoid()]
        c = 8
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))


def get_data():
    g = torch.Generator().manual_seed(46)
    y = torch.randint(0, 2, (256,), generator=g)
    x = torch.randn(256, 1, 12, 12, generator=g) * 0.5
    x[y == 1] += 1.0  # brighter overall: average pooling sees it
    return x, y


def build_fixed_model() -> nn.Module:
    """ReLU in place of every sigmoid, He init: the verify mode's proof that the activation is the cause."""
    model = build_model()
    for i, module in enumerate(model):
        if isinstance(module, nn.Sigmoid):
            model[i] = nn.ReLU()
        elif isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    return model


FIXED_BELOW = 0.5  # chance is ln 2 = 0.69


def check(log) -> str:
    first, last = log.grad("0.weight"), log.grad("18.weight")
    assert first < 1e-3 * last, f"conv 0's gradient {first:.1e} is not < 1e-3 x the head's {last:.1e}"
    return f"grad conv0/head = {first / last:.1e}; loss {log.head():.3f} -> {log.tail():.3f}"
