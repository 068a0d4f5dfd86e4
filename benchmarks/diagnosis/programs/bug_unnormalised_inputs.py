"""Bug (unnormalised inputs): house-price-like features fed raw (areas in the thousands, years near 2000) to an MLP
under SGD; the first layer's gradient is scaled by the inputs and the first step overshoots."""

import torch
from torch import nn


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1))


def get_data():
    g = torch.Generator().manual_seed(39)
    z = torch.randn(512, 4, generator=g)
    x = z * torch.tensor([600.0, 1.0, 15.0, 20000.0]) + torch.tensor([1800.0, 3.0, 1990.0, 50000.0])
    y = (z @ torch.tensor([1.0, 0.5, -0.3, 0.8])).unsqueeze(1)  # the price, standardised
    return x, y


class Standardise(nn.Module):
    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x):
        return (x - self.mean) / self.std


def build_fixed_model() -> nn.Module:
    """The same MLP behind the missing standardisation (the data's own mean and std)."""
    x, _ = get_data()
    return nn.Sequential(Standardise(x.mean(0), x.std(0)), *build_model())


FIXED_BELOW = 0.5  # with standardised inputs this MLP fits the (variance ~2) target below 0.5


def check(log) -> str:
    blown = next((i for i, v in enumerate(log.losses) if not v == v or v > 1e6), None)
    assert blown is not None, f"the loss never blew up: {log.losses[:5]}"
    return f"loss {log.losses[0]:.3g} at step 0, non-finite or > 1e6 at step {blown}"
