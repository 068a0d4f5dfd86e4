"""Bug (logits far too large at init): a classifier on pooled CNN features (non-negative, 0-3, as a frozen backbone's
global average pool gives them) whose author initialised the head with nn.init.normal_(std=1.0), a habit from small
logistic regressions. Over 512 hidden ReLU features that gives logits many times too large, so the step-0
cross-entropy is several times ln 10 and the first steps go to shrinking the head."""

import torch
from torch import nn


class FeatureClassifier(nn.Module):
    def __init__(self, n_in: int = 48, hidden: int = 512, classes: int = 10, head_std: float | None = 1.0):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, classes)
        if head_std is not None:
            nn.init.normal_(self.head.weight, std=head_std)
            nn.init.zeros_(self.head.bias)

    def forward(self, x):
        return self.head(self.body(x))


def build_model() -> nn.Module:
    return FeatureClassifier()


def build_fixed_model() -> nn.Module:
    return FeatureClassifier(head_std=None)  # nn.Linear's own init for the head


def get_data():
    g = torch.Generator().manual_seed(72)
    x = 3 * torch.rand(1024, 48, generator=g)
    y = ((x - 1.5) @ torch.randn(48, 10, generator=g)).argmax(1)
    return x, y


FIXED_BELOW = 1.9  # below chance (ln 10 = 2.30) by a margin


def check(log) -> str:
    chance = torch.log(torch.tensor(10.0)).item()
    assert log.losses[0] > 4 * chance, f"step-0 loss {log.losses[0]:.2f} is not far above ln 10"
    return f"step-0 loss {log.losses[0]:.1f} vs ln 10 = {chance:.2f}; ends at {log.tail():.2f}"
