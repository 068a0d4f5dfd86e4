"""A small MLP that defines a projection layer its forward never calls (a common refactoring leftover).

Expected: `unused`, naming `skip.weight` and `skip.bias`.
"""

import torch
from torch import nn


class WithUnusedLayer(nn.Module):
    def __init__(self, features: int = 20, hidden: int = 32, classes: int = 3):
        super().__init__()
        self.fc1 = nn.Linear(features, hidden)
        self.skip = nn.Linear(features, hidden)  # meant for a residual path that forward() forgot
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x)))


def build_model() -> nn.Module:
    return WithUnusedLayer()
