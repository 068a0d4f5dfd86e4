"""Bug (wrong activation at the output): a regression net for targets around 50 ends in nn.Sigmoid, whose output
cannot exceed 1; the sigmoid saturates at 1 and the loss stays near (50 - 1)^2, far above the targets' variance
(worse than predicting their mean). A sigmoid output saturating on 0/1 targets is by design; here the loss's own
scale is what shows the fault."""

import torch
from torch import nn


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 1), nn.Sigmoid())


def get_data():
    g = torch.Generator().manual_seed(44)
    x = torch.randn(512, 6, generator=g)
    return x, 50 + 5 * (x @ torch.randn(6, 1, generator=g))


def build_fixed_model() -> nn.Module:
    return nn.Sequential(*list(build_model())[:-1])  # the same layers without the output Sigmoid


FIXED_BELOW = 100.0  # the targets' variance is ~150 around 50: any output that can reach 50 gets below 100


def check(log) -> str:
    out = log.model(log.batch[0])
    saturated = (out > 0.99).float().mean().item()
    assert saturated > 0.5, f"only {saturated:.0%} of the outputs are within 1% of the sigmoid's bound"
    variance = log.batch[1].var().item()
    assert log.tail() > 10 * variance, f"the loss ends at {log.tail():.1f}, not far above the variance {variance:.1f}"
    return f"{saturated:.0%} of outputs > 0.99; loss ends {log.tail():.1f} vs target variance {variance:.1f}"
