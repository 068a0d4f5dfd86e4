"""Bug (forgotten zero_grad()): a regression script that never clears the gradients, so every step applies the sum
of all gradients so far; the total gradient norm grows step after step and the loss blows up.
Run: python bug_no_zero_grad.py [--steps N]
"""

import argparse

import torch
from torch import nn


def train(steps: int = 100) -> dict:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(70)
    x = torch.randn(256, 8, generator=g)
    y = x @ torch.randn(8, 1, generator=g)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    losses, grad_norms = [], []
    for step in range(steps):
        batch = torch.randint(0, 256, (32,), generator=g)
        loss = nn.functional.mse_loss(model(x[batch]), y[batch])
        loss.backward()  # the bug: no optimizer.zero_grad() before this
        grad_norms.append(torch.sqrt(sum(p.grad.pow(2).sum() for p in model.parameters())).item())
        optimizer.step()
        losses.append(loss.item())
    return {"losses": losses, "grad_norms": grad_norms}


def check(result: dict) -> str:
    norms, losses = result["grad_norms"], result["losses"]
    assert not norms[-1] == norms[-1] or norms[-1] > 5 * norms[0], f"grad norm {norms[0]:.3g} -> {norms[-1]:.3g}"
    assert not losses[-1] == losses[-1] or losses[-1] > losses[0], f"loss {losses[0]:.3g} -> {losses[-1]:.3g}"
    return f"total grad norm {norms[0]:.3g} -> {norms[-1]:.3g}; loss {losses[0]:.3g} -> {losses[-1]:.3g}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100)
    train(parser.parse_args().steps)
