"""Bug (learning-rate schedule stepped per batch): a tabular classifier script with SGD (lr 0.1, momentum 0.9) and
`ExponentialLR(gamma=0.5)`, meant to halve the lr once per epoch, but `scheduler.step()` sits inside the batch loop.
The lr is below 1e-4 after 10 steps and ~1e-25 by the end: the weights stop moving after the first few updates and
the loss stays where those left it. Labelled update_ratio (updates shrink to nothing while the gradients don't).
Run: python f3_bug_scheduler_per_batch.py [--per-epoch]
"""

import argparse

import torch
from torch import nn

BATCHES_PER_EPOCH = 20


def train(per_batch: bool = True, steps: int = 80) -> dict:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(321)
    x = torch.randn(4096, 20, generator=g)
    y = (x @ torch.randn(20, 6, generator=g) + 0.5 * torch.randn(4096, 6, generator=g)).argmax(1)
    model = nn.Sequential(nn.Linear(20, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 6))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.5)
    losses, lrs, grads = [], [], []
    for step in range(steps):
        batch = torch.randint(0, len(x), (64,), generator=g)
        loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
        optimizer.zero_grad()
        loss.backward()
        grads.append(model[0].weight.grad.norm().item())
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if per_batch or (step + 1) % BATCHES_PER_EPOCH == 0:  # the bug: per_batch steps it every batch
            scheduler.step()
        losses.append(loss.item())
    return {"losses": losses, "lrs": lrs, "grads": grads}


def tenth(values, last: bool) -> float:
    k = max(1, len(values) // 10)
    part = values[-k:] if last else values[:k]
    return sum(part) / len(part)


def check(result: dict) -> str:
    lrs, losses, grads = result["lrs"], result["losses"], result["grads"]
    assert lrs[10] < 1e-3 * lrs[0], f"lr at step 10 is {lrs[10]:.2g}"
    later = losses[20:]
    assert tenth(later, True) > 0.97 * tenth(later, False), "the loss still fell after step 20"
    assert min(grads[20:]) > 0.1 * grads[0], "the gradients vanished too"
    fixed = train(per_batch=False)["losses"]
    assert tenth(fixed, True) < 0.9 * tenth(losses, True), "stepping per epoch does not do better"
    return (f"lr {lrs[0]:g} -> {lrs[10]:.1e} at step 10; loss after step 20 {tenth(later, False):.3f} -> "
            f"{tenth(later, True):.3f} while layer 0's gradient stays >= {min(grads[20:]):.2g}; "
            f"stepped per epoch it ends {tenth(fixed, True):.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-epoch", action="store_true")
    train(per_batch=not parser.parse_args().per_epoch)
