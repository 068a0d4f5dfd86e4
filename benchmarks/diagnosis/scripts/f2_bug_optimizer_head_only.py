"""Bug (layers accidentally frozen): a script that builds its optimizer from `model.head.parameters()` only (left
over from a linear-probe experiment) while it means to train the whole CNN from scratch. The backbone's convs get
gradients at every step but never change; only the head learns, on random conv features.
Run: python f2_bug_optimizer_head_only.py
"""

import argparse

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                      nn.Flatten())
        self.head = nn.Linear(32, 6)

    def forward(self, x):
        return self.head(self.backbone(x))


def train(steps: int = 60) -> dict:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(216)
    y = torch.randint(0, 6, (768,), generator=g)
    x = 0.5 * torch.randn(768, 3, 12, 12, generator=g)
    for label in range(6):
        x[y == label, label % 3, 2 * label:2 * label + 2, :] += 1.5
    model = Net()
    before = model.backbone[0].weight.detach().clone()
    optimizer = torch.optim.Adam(model.head.parameters(), lr=3e-3)  # the bug: the backbone is left out
    losses, grads = [], []
    for _ in range(steps):
        batch = torch.randint(0, len(x), (32,), generator=g)
        model.zero_grad()
        loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
        loss.backward()
        grads.append(model.backbone[0].weight.grad.norm().item())
        optimizer.step()
        losses.append(loss.item())
    moved = (model.backbone[0].weight.detach() - before).norm().item()
    return {"losses": losses, "moved": moved, "grads": grads}


def check(result: dict) -> str:
    assert result["moved"] == 0.0 and min(result["grads"]) > 0, "backbone.0 moved, or got no gradient"
    return f"backbone.0 gradient >= {min(result['grads']):.2e} at every step, weights moved {result['moved']}"


if __name__ == "__main__":
    argparse.ArgumentParser().parse_args()
    train()
