"""Bug (a layer accidentally frozen): a fine-tuning recipe's parameter groups give the first block lr 0 (a "freeze
the backbone" setting left on for training from scratch). Its weights receive gradients but never change.
Run: python bug_frozen_layer.py
"""

import argparse

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
        self.head = nn.Linear(64, 3)

    def forward(self, x):
        return self.head(self.backbone(x))


def train(steps: int = 60, backbone_lr: float = 0.0) -> dict:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(72)
    x = torch.randn(512, 16, generator=g)
    y = (torch.relu(x @ torch.randn(16, 16, generator=g)) @ torch.randn(16, 3, generator=g)).argmax(1)
    model = Net()
    before = model.backbone[0].weight.detach().clone()
    optimizer = torch.optim.Adam([{"params": model.backbone[0].parameters(), "lr": backbone_lr},
                                  {"params": model.backbone[2].parameters()},
                                  {"params": model.head.parameters()}], lr=3e-3)
    losses, grads = [], []
    for _ in range(steps):
        batch = torch.randint(0, 512, (32,), generator=g)
        optimizer.zero_grad()
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
