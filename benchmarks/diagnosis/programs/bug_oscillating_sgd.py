"""Bug (oscillating loss, lr too high): linear regression on correlated, un-whitened features under SGD + momentum
at an lr just past the stable limit; the loss swings up and down with growing amplitude."""

import torch
from torch import nn


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 1))


def get_data():
    g = torch.Generator().manual_seed(38)
    base = torch.randn(512, 1, generator=g)
    x = base * 3 + 0.3 * torch.randn(512, 8, generator=g)  # eight noisy copies of one feature: a large eigenvalue
    return x, x @ torch.randn(8, 1, generator=g) * 0.3


FIXED_BELOW = 0.5


def check(log) -> str:
    ups = sum(1 for a, b in zip(log.losses, log.losses[1:]) if b > a)
    assert ups >= len(log.losses) // 4, f"the loss rose in only {ups} of {len(log.losses) - 1} steps"
    assert not log.finite or log.tail() > log.losses[0], f"loss ended {log.tail():.3g}, below step 0"
    return f"loss rose in {ups}/{len(log.losses) - 1} steps; {log.losses[0]:.3g} -> {log.losses[-1]:.3g}"
