"""Bug (detached branch): a two-tower model whose feature encoder's output is `.detach()`ed (left over from a
frozen-feature experiment), so the encoder never receives a gradient; only the head and the side tower learn."""

import torch
from torch import nn


class TwoTower(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())
        self.side = nn.Linear(16, 8)
        self.head = nn.Linear(40, 3)

    def forward(self, x):
        features = self.encoder(x).detach()  # the bug: cuts the encoder out of backprop
        return self.head(torch.cat([features, self.side(x)], dim=1))


def build_model() -> nn.Module:
    return TwoTower()


def get_data():
    g = torch.Generator().manual_seed(41)
    x = torch.randn(512, 16, generator=g)
    return x, (torch.relu(x @ torch.randn(16, 16, generator=g)) @ torch.randn(16, 3, generator=g)).argmax(1)


FIXED_BELOW = 0.0  # detaching loses information, not the loss: the own check is the encoder's missing gradient


def check(log) -> str:
    assert all(log.grad_norms[n] == [0.0] * len(log.losses) for n in log.grad_norms if n.startswith("encoder.")), \
        "an encoder parameter got a gradient"
    assert log.grad("head.weight") > 0, "the head got no gradient"
    return f"encoder.* gradient None at every step; head {log.grad('head.weight'):.2e}"
