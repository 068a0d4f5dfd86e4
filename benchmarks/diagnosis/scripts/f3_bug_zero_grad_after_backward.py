"""Bug (gradients cleared between backward and step): a regression script whose loop reads
`loss.backward(); optimizer.zero_grad(); optimizer.step()` (zero_grad() was moved down during a refactor). Every
gradient is computed and then set to None before the optimizer sees it, so Adam skips every parameter: the weights
never change and the loss stays at its starting level. Labelled update_ratio: the gradients exist at every
backward, the updates are exactly 0.
Run: python f3_bug_zero_grad_after_backward.py [--fixed]
"""

import argparse

import torch
from torch import nn


def train(fixed: bool = False, steps: int = 80) -> dict:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(322)
    x = torch.randn(2048, 8, generator=g)
    y = torch.sin(x[:, :1]) + 0.5 * x[:, 1:2] * x[:, 2:3] + 0.1 * torch.randn(2048, 1, generator=g)
    model = nn.Sequential(nn.Linear(8, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))
    start = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses, grads = [], []
    for _ in range(steps):
        batch = torch.randint(0, len(x), (64,), generator=g)
        loss = nn.functional.mse_loss(model(x[batch]), y[batch])
        if fixed:
            optimizer.zero_grad()
        loss.backward()
        grads.append(model[0].weight.grad.norm().item())
        if not fixed:
            optimizer.zero_grad()  # the bug: clears what backward just computed
        optimizer.step()
        losses.append(loss.item())
    moved = max((p.detach() - s).abs().max().item() for p, s in zip(model.parameters(), start))
    return {"losses": losses, "grads": grads, "moved": moved}


def check(result: dict) -> str:
    losses = result["losses"]
    assert result["moved"] == 0.0 and min(result["grads"]) > 0, f"weights moved {result['moved']:.3g}"
    fixed = train(fixed=True)["losses"]
    assert sum(fixed[-8:]) < 0.5 * sum(losses[-8:]), "the fixed order does not train either"
    return (f"layer 0's gradient >= {min(result['grads']):.2g} at every backward, no weight moved; loss "
            f"{sum(losses[:8]) / 8:.3f} -> {sum(losses[-8:]) / 8:.3f}; in the right order {sum(fixed[-8:]) / 8:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--fixed", action="store_true")
    train(fixed=parser.parse_args().fixed)
