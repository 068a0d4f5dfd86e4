"""Healthy: a MobileNet-style CNN (a stem conv, then depthwise-separable blocks: 3x3 depthwise conv, BN, ReLU6, 1x1
pointwise conv, BN, ReLU6, two with stride 2) on 16x16 RGB images of coloured blobs, SGD with Nesterov momentum 0.9,
lr 0.05, weight decay 4e-5, as in the MobileNet recipe.
Run: python f3_train_mobilenet_nesterov.py [--steps N]
"""

import argparse

import torch
from torch import nn


def separable(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin), nn.ReLU6(),
                         nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU6())


def mobilenet(classes: int = 5) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6(),
                         separable(16, 32, 1), separable(32, 64, 2), separable(64, 64, 1), separable(64, 128, 2),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, classes))


def data(g: torch.Generator, n: int = 768):
    y = torch.randint(0, 5, (n,), generator=g)
    x = 0.5 * torch.randn(n, 3, 16, 16, generator=g)
    colours = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [1.0, 1.0, 0], [0, 1.0, 1.0]])
    rows = torch.randint(0, 10, (n,), generator=g)
    cols = torch.randint(0, 10, (n,), generator=g)
    for i in range(n):
        x[i, :, rows[i]:rows[i] + 6, cols[i]:cols[i] + 6] += colours[y[i]].view(3, 1, 1)
    return x, y


def train(steps: int = 60) -> dict:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(317)
    x, y = data(g)
    model = mobilenet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=4e-5)
    losses = []
    model.train()
    for _ in range(steps):
        batch = torch.randint(0, len(x), (32,), generator=g)
        loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return {"losses": losses}


def check(result: dict) -> str:
    losses = result["losses"]
    head, tail = sum(losses[:6]) / 6, sum(losses[-6:]) / 6
    assert tail < 0.5 * head, f"loss {head:.3f} -> {tail:.3f}"
    return f"loss {head:.3f} -> {tail:.3f} (ln 5 = 1.61)"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=60)
    train(parser.parse_args().steps)
