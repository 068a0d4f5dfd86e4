"""Bug (forgotten zero_grad()): a gradient-accumulation regression script that clears the gradients once, before
the loop, instead of after every optimizer step (the zero_grad() line sits one indentation level too far out).
Each step then applies the sum of every gradient so far: the gradient norm grows step after step and the updates
overshoot until the loss blows up.
Run: python f2_bug_accum_no_zero_grad.py [--steps N]
"""

import argparse

import torch
from torch import nn

ACCUMULATE = 2


def train(steps: int = 60) -> dict:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(215)
    x = torch.randn(1024, 10, generator=g)
    y = torch.tanh(x @ torch.randn(10, 1, generator=g)) + 0.1 * torch.randn(1024, 1, generator=g)
    model = nn.Sequential(nn.Linear(10, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    losses, grad_norms = [], []
    optimizer.zero_grad()  # the bug: only here, never again
    for micro in range(steps * ACCUMULATE):
        batch = torch.randint(0, len(x), (32,), generator=g)
        loss = nn.functional.mse_loss(model(x[batch]), y[batch]) / ACCUMULATE
        loss.backward()
        if (micro + 1) % ACCUMULATE == 0:
            grad_norms.append(torch.sqrt(sum(p.grad.pow(2).sum() for p in model.parameters())).item())
            optimizer.step()
        losses.append(loss.item() * ACCUMULATE)
    return {"losses": losses, "grad_norms": grad_norms}


def check(result: dict) -> str:
    norms, losses = result["grad_norms"], result["losses"]
    finite = [v for v in norms if v == v]
    assert max(finite) > 20 * norms[0], f"grad norm {norms[0]:.3g} -> peak {max(finite):.3g}"
    late = [v for v in losses[-10:] if v == v]
    assert not late or sum(late) / len(late) > 2 * losses[0], f"loss {losses[0]:.3g} -> {losses[-1]:.3g}"
    return f"total grad norm {norms[0]:.3g} -> peak {max(finite):.3g}; loss {losses[0]:.3g} -> {losses[-1]:.3g}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=60)
    train(parser.parse_args().steps)
