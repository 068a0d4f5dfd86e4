"""Bug (gradient value clipping far too tight): a CNN script that calls
`nn.utils.clip_grad_value_(model.parameters(), 1e-6)` before every SGD step (the config's `clip: 1e-6` was meant
for an epsilon; value clipping at 1.0 was intended). Every gradient element is cut to +-1e-6, so with lr 0.05 and
momentum 0.9 each weight moves at most ~5e-7 per step: the loss does not move. Labelled update_ratio.
Run: python f3_bug_clip_value_tiny.py [--clip X]
"""

import argparse

import torch
from torch import nn


def train(clip: float = 1e-6, steps: int = 60) -> dict:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(323)
    y = torch.randint(0, 4, (1024,), generator=g)
    x = 0.5 * torch.randn(1024, 1, 12, 12, generator=g)
    for label in range(4):
        x[y == label, 0, 3 * label:3 * label + 3, :] += 1.5
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1),
                          nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses, peaks = [], []
    for _ in range(steps):
        batch = torch.randint(0, len(x), (32,), generator=g)
        loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
        optimizer.zero_grad()
        loss.backward()
        peaks.append(max(p.grad.abs().max().item() for p in model.parameters()))
        nn.utils.clip_grad_value_(model.parameters(), clip)
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        full = nn.functional.cross_entropy(model(x), y).item()
    return {"losses": losses, "peaks": peaks, "clip": clip, "full": full}


def check(result: dict) -> str:
    losses = result["losses"]
    assert min(result["peaks"]) > 1e3 * result["clip"], "the clip value is not far below the gradients"
    assert abs(result["full"] - losses[0]) < 0.05 * losses[0], f"loss {losses[0]:.4f} -> {result['full']:.4f}"
    fixed = train(clip=1.0)
    assert fixed["full"] < 0.5 * result["full"], f"clipping at 1.0 ends {fixed['full']:.3f}"
    return (f"largest gradient element >= {min(result['peaks']):.2g} vs clip {result['clip']:g}; loss "
            f"{losses[0]:.4f} at step 0, {result['full']:.4f} on all the data after; clip 1.0 ends {fixed['full']:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--clip", type=float, default=1e-6)
    train(parser.parse_args().clip)
