"""Bug (dying ReLU): the second hidden layer's bias initialised to -10, so its ReLU never fires.

The issue's observed case: everything above the dead layer gets zero gradient (it looks "unused"), the cause is
the dead layer below. Layer "3" is the dead ReLU (Sequential index).
"""

import torch
from torch import nn


def build_model() -> nn.Module:
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                          nn.Linear(64, 5))
    with torch.no_grad():
        model[2].bias.fill_(-10.0)
    return model


def get_data():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(512, 20, generator=g)
    y = (x @ torch.randn(20, 5, generator=g)).argmax(1)
    return x, y


def build_fixed_model() -> nn.Module:
    model = build_model()
    with torch.no_grad():
        model[2].bias.zero_()
    return model


FIXED_BELOW = 1.4  # chance is ln 5 = 1.61


def check(log) -> str:
    dead = log.dead_fraction("3")
    assert dead > 0.95, f"only {dead:.0%} of layer 3's units are dead"
    assert log.grad("0.weight") == 0.0, "layer 0 still gets gradient"
    return f"{dead:.0%} of ReLU 3 dead; layer 0 gradient 0; loss {log.head():.3f} -> {log.tail():.3f}"
