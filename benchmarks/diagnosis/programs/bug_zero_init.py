"""Bug (zero init): every weight and bias of a tanh MLP initialised to 0 ("to start neutral"). The hidden layers
output 0, so no hidden weight ever receives a gradient; only the output bias learns (the class prior)."""

import torch
from torch import nn


def build_model() -> nn.Module:
    model = nn.Sequential(nn.Linear(12, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 3))
    for p in model.parameters():
        nn.init.zeros_(p)
    return model


def get_data():
    g = torch.Generator().manual_seed(35)
    x = torch.randn(512, 12, generator=g)
    return x, (x @ torch.randn(12, 3, generator=g)).argmax(1)


def build_fixed_model() -> nn.Module:
    return nn.Sequential(nn.Linear(12, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 3))


FIXED_BELOW = 0.8  # chance is ln 3 = 1.10


def check(log) -> str:
    zero = [n for n in ("0.weight", "2.weight", "4.weight") if max(log.grad_norms[n]) == 0.0]
    assert zero == ["0.weight", "2.weight", "4.weight"], f"only {zero} had an all-zero gradient"
    return f"{', '.join(zero)}: gradient exactly 0 at every step; loss {log.head():.3f} -> {log.tail():.3f}"
