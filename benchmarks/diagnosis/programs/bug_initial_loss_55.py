"""Bug (logits far too large at init): a 32-class classifier whose head is initialised 40x too large.

The issue's observed case: the step-0 loss is ~55 for 32 classes (chance is ln 32 = 3.47), and after the run the
loss is still above chance. Nothing vanishes or explodes between layers.
"""

import torch
from torch import nn


def build_model() -> nn.Module:
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 32))
    with torch.no_grad():
        model[4].weight.mul_(40.0)
    return model


def get_data():
    g = torch.Generator().manual_seed(32)
    x = torch.randn(1024, 32, generator=g)
    y = (x @ torch.randn(32, 32, generator=g)).argmax(1)
    return x, y


def build_fixed_model() -> nn.Module:
    model = build_model()
    model[4].reset_parameters()
    return model


FIXED_BELOW = 3.2  # below chance (3.47): a default-init head gets there in the same steps


def check(log) -> str:
    chance = torch.log(torch.tensor(32.0)).item()
    assert log.losses[0] > 8 * chance, f"step-0 loss {log.losses[0]:.1f} is not far above ln 32"
    assert log.tail() > chance, f"the run ended below chance ({log.tail():.2f})"
    return f"step-0 loss {log.losses[0]:.1f} vs ln 32 = {chance:.2f}; ends at {log.tail():.2f}"
