"""Bug (learning rate far too low, Adam): a tabular churn classifier script whose AdamW learning rate reads 1e-6
where 1e-3 was meant (a typo, or a fine-tuning rate pasted into training from scratch). Adam moves every weight by
about lr per step, ~1e-4 of the default-initialised weights' scale over the whole run: the loss stays at chance.
Run: python f2_bug_adamw_lr_typo.py [--lr LR]
"""

import argparse

import torch
from torch import nn


def train(steps: int = 100, lr: float = 1e-6) -> dict:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(214)
    x = torch.randn(2048, 20, generator=g)
    y = ((x[:, :3].sum(1) + 0.5 * x[:, 3] * x[:, 4]) > 0).long()
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 64), nn.ReLU(),
                          nn.Linear(64, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    losses = []
    for _ in range(steps):
        batch = torch.randint(0, len(x), (64,), generator=g)
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return {"losses": losses}


def check(result: dict) -> str:
    losses, fixed = result["losses"], train(lr=1e-3)["losses"]  # the typo undone: the evidence it is the cause
    head, tail = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    fixed_tail = sum(fixed[-10:]) / 10
    assert tail > 0.97 * head, f"the loss fell: {head:.3f} -> {tail:.3f}"
    assert fixed_tail < 0.7 * head, f"at lr 1e-3 the loss does not fall either: {fixed_tail:.3f}"
    return f"loss {head:.3f} -> {tail:.3f} (chance 0.69); at lr 1e-3 it ends {fixed_tail:.3f}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=1e-6)
    train(lr=parser.parse_args().lr)
