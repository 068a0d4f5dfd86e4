"""Bug (clipping far too tight): clip_grad_norm_ with max_norm=1e-5 (meant to be 1.0; a typo in a config), so every
update is ~1e-5 x lr long; the weights barely move and the loss stays flat.
Run: python bug_clip_too_tight.py [--max-norm X]
"""

import argparse

import torch
from torch import nn


def train(max_norm: float = 1e-5, steps: int = 60) -> dict:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(71)
    x = torch.randn(512, 20, generator=g)
    y = (x @ torch.randn(20, 4, generator=g)).argmax(1)
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses, pre_clip = [], []
    full_before = nn.functional.cross_entropy(model(x), y).item()
    for _ in range(steps):
        batch = torch.randint(0, 512, (32,), generator=g)
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
        loss.backward()
        pre_clip.append(nn.utils.clip_grad_norm_(model.parameters(), max_norm).item())
        optimizer.step()
        losses.append(loss.item())
    full_after = nn.functional.cross_entropy(model(x), y).item()  # on all the data: no batch-to-batch noise
    return {"losses": losses, "pre_clip": pre_clip, "max_norm": max_norm, "full": (full_before, full_after)}


def check(result: dict) -> str:
    first, last = result["full"]
    assert abs(first - last) < 0.01 * first, f"the loss on all the data moved {first:.4f} -> {last:.4f}"
    assert min(result["pre_clip"]) > 100 * result["max_norm"], "the clip threshold was not far below the norms"
    return (f"gradient norm before clipping >= {min(result['pre_clip']):.2g} vs max_norm {result['max_norm']:g}; "
            f"loss {first:.4f} -> {last:.4f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-norm", type=float, default=1e-5)
    train(parser.parse_args().max_norm)
