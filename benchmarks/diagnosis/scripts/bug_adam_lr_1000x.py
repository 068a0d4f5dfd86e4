"""Bug (lr far too high): a training script with Adam at lr 3.0 (a "3e-4" typed as "3"; 1e4 x too high); the
loss leaves its starting value within a step or two and stays far above it.
Run: python bug_adam_lr_1000x.py [--lr LR]
"""

import argparse

import torch
from torch import nn


def train(lr: float = 3.0, steps: int = 40) -> dict:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(73)
    x = torch.randn(512, 20, generator=g)
    y = (x @ torch.randn(20, 8, generator=g)).argmax(1)
    model = nn.Sequential(nn.Linear(20, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 8))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        batch = torch.randint(0, 512, (64,), generator=g)
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return {"losses": losses}


def check(result: dict) -> str:
    losses = [v for v in result["losses"] if v == v]
    peak = max(losses)
    assert peak > 20 * losses[0], f"the loss peaked at {peak:.3g} from {losses[0]:.3g}"
    return f"loss {losses[0]:.2f} at step 0, peak {peak:.3g}, last {result['losses'][-1]:.3g}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=3.0)
    train(parser.parse_args().lr)
