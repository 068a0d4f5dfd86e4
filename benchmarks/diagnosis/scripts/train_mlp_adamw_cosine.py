"""Healthy: a typical tabular training script: DataLoader, an MLP with dropout and LayerNorm, AdamW with weight
decay, a cosine schedule with linear warm-up, clipping at 1.0, a few epochs.
Run: python train_mlp_adamw_cosine.py [--epochs N] [--lr LR]
"""

import argparse
import math

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def dataset() -> TensorDataset:
    g = torch.Generator().manual_seed(61)
    x = torch.randn(2048, 24, generator=g)
    w = torch.randn(24, 5, generator=g)
    return TensorDataset(x, (torch.tanh(x @ w) + 0.1 * torch.randn(2048, 5, generator=g)).argmax(1))


def train(epochs: int = 2, lr: float = 3e-3) -> dict:
    torch.manual_seed(0)
    loader = DataLoader(dataset(), batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0))
    model = nn.Sequential(nn.Linear(24, 128), nn.LayerNorm(128), nn.GELU(), nn.Dropout(0.1),
                          nn.Linear(128, 128), nn.LayerNorm(128), nn.GELU(), nn.Dropout(0.1), nn.Linear(128, 5))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    total, warmup = epochs * len(loader), 10
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warmup if s < warmup else 0.5 * (1 + math.cos(math.pi * s / total)))
    losses = []
    for _ in range(epochs):
        for x, y in loader:
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
    return {"losses": losses}


def check(result: dict) -> str:
    losses = result["losses"]
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.7 * first, f"loss {first:.3f} -> {last:.3f} fell by less than 30%"
    return f"loss {first:.3f} -> {last:.3f} over {len(losses)} steps"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=3e-3)
    args = parser.parse_args()
    train(args.epochs, args.lr)
