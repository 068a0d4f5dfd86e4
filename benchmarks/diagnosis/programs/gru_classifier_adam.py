"""Healthy: a bidirectional GRU over feature sequences with a linear head on the pooled states, Adam."""

import torch
from torch import nn


class SequenceClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(8, 32, batch_first=True, bidirectional=True)
        self.head = nn.Linear(64, 3)

    def forward(self, x):  # (B, T, 8) -> (B, 3)
        out, _ = self.gru(x)
        return self.head(out.mean(1))


def build_model() -> nn.Module:
    return SequenceClassifier()


def get_data():
    g = torch.Generator().manual_seed(21)
    x = torch.randn(512, 12, 8, generator=g)
    y = (x[:, :, 0].sum(1) > 1).long() + (x[:, :, 1].sum(1) > 1).long()
    return x, y


def check(log) -> str:
    assert log.finite, "a loss was not finite"
    assert log.tail() < 0.75 * log.head(), f"loss {log.head():.3f} -> {log.tail():.3f} fell by less than 25%"
    return f"loss {log.head():.3f} -> {log.tail():.3f}"
