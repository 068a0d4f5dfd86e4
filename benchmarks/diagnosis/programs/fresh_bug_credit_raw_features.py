"""Bug (unnormalised inputs): a credit-default classifier fed its tabular columns in their own units (age in years,
income in dollars, balance, months as a customer), as a first Kaggle notebook does before adding a StandardScaler.
Income (~6e4) dominates the first layer's pre-activations, the logits start thousands of times too large and the
first SGD steps blow the loss up."""

import torch
from torch import nn


class CreditNet(nn.Module):
    def __init__(self, n_features: int = 4, hidden: int = 64):
        super().__init__()
        self.fc1 = nn.Linear(n_features, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, 2)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.out(self.act(self.fc2(self.act(self.fc1(x)))))


def build_model() -> nn.Module:
    return CreditNet()


def get_data():
    g = torch.Generator().manual_seed(71)
    z = torch.randn(1024, 4, generator=g)
    x = z * torch.tensor([12.0, 2.0e4, 3.0e3, 30.0]) + torch.tensor([42.0, 6.0e4, 5.0e3, 48.0])
    y = ((z @ torch.tensor([-0.6, -1.0, 1.2, -0.4])) + 0.3 * torch.randn(1024, generator=g) > 0).long()
    return x, y


class Scaler(nn.Module):
    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x):
        return (x - self.mean) / self.std


def build_fixed_model() -> nn.Module:
    """The StandardScaler the notebook forgot, fitted on the training columns."""
    x, _ = get_data()
    return nn.Sequential(Scaler(x.mean(0), x.std(0)), CreditNet())


FIXED_BELOW = 0.5  # well below chance (ln 2 = 0.69)


def check(log) -> str:
    blown = next((i for i, v in enumerate(log.losses) if not v == v or v > 100 * 0.69), None)
    assert blown is not None and blown < 5, f"the loss did not blow up in the first steps: {log.losses[:5]}"
    return f"loss {log.losses[0]:.3g} at step 0 (chance 0.69), above 100x chance or non-finite at step {blown}"
