"""Healthy: a 2-layer graph convolutional network (Kipf & Welling) for node classification on one random graph of
300 nodes with a dense, symmetrically normalised adjacency D^-1/2 (A + I) D^-1/2 stored as a buffer. The whole graph
is one sample (x: (1, 300, 16), y: (1, 300)), so every step is a full-batch step, as in the GCN paper; Adam at
0.01. Communities make neighbours share labels; node features are noisy hints of the label."""

import torch
from torch import nn

NODES, CLASSES = 300, 4


def adjacency() -> torch.Tensor:
    g = torch.Generator().manual_seed(302)
    community = torch.arange(NODES) % CLASSES
    same = community.unsqueeze(0) == community.unsqueeze(1)
    p = torch.where(same, torch.tensor(0.06), torch.tensor(0.004))
    a = (torch.rand(NODES, NODES, generator=g) < p).float().triu(1)
    a = a + a.T + torch.eye(NODES)
    d = a.sum(1).rsqrt()
    return d.unsqueeze(1) * a * d.unsqueeze(0)


class GCN(nn.Module):
    def __init__(self, features: int = 16, hidden: int = 32):
        super().__init__()
        self.register_buffer("adj", adjacency())
        self.gc1 = nn.Linear(features, hidden)
        self.gc2 = nn.Linear(hidden, CLASSES)

    def forward(self, x):
        h = torch.relu(self.adj @ self.gc1(x))
        return self.adj @ self.gc2(h)


def build_model() -> nn.Module:
    return GCN()


def get_data():
    g = torch.Generator().manual_seed(303)
    y = torch.arange(NODES) % CLASSES
    x = torch.randn(NODES, 16, generator=g)
    x[:, :CLASSES] += 0.8 * nn.functional.one_hot(y, CLASSES)
    return x.unsqueeze(0), y.unsqueeze(0)


def check(log) -> str:
    assert log.finite and log.tail() < 0.5 * log.head(), f"loss {log.head():.3f} -> {log.tail():.3f}"
    return f"loss {log.head():.3f} -> {log.tail():.3f}"
