"""Bug (learning rate far too high, SGD): the 2-layer GCN of f3_gcn_dense_adjacency_adam trained full-batch with
plain SGD at lr 50 (copied from a tutorial whose loss was a sum over nodes, not a mean). From step 2 on the updates
overshoot, the logits grow by orders of magnitude and the loss shoots ~1000x above its start.
The manifest's `fix` is lr 0.5."""

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
    g = torch.Generator().manual_seed(314)
    y = torch.arange(NODES) % CLASSES
    x = torch.randn(NODES, 16, generator=g)
    x[:, :CLASSES] += 0.8 * nn.functional.one_hot(y, CLASSES)
    return x.unsqueeze(0), y.unsqueeze(0)


FIXED_BELOW = 0.7  # chance is ln 4 = 1.39


def check(log) -> str:
    early = max(log.losses[:5])
    assert not log.finite or early > 5 * log.losses[0], f"loss {log.losses[0]:.3g}, at most {early:.3g} by step 4"
    return f"loss {log.losses[0]:.3g} at step 0, {early:.3g} by step 4, ends {log.tail():.3g}"
