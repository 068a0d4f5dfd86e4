"""Healthy: an undercomplete autoencoder for 24-d sensor readings with a sigmoid bottleneck of 6 units (codes in
(0, 1), for a downstream binary hashing step), Tanh elsewhere, a linear output, trained on MSE with Adagrad at lr
0.05 (the recipe of an older hashing paper).
Run: python f3_train_autoencoder_adagrad.py [--steps N]
"""

import argparse

import torch
from torch import nn


def train(steps: int = 150) -> dict:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(319)
    latent = torch.rand(4096, 6, generator=g)
    x = torch.tanh(latent @ torch.randn(6, 24, generator=g)) + 0.05 * torch.randn(4096, 24, generator=g)
    x = (x - x.mean(0)) / x.std(0)
    encoder = nn.Sequential(nn.Linear(24, 64), nn.Tanh(), nn.Linear(64, 6), nn.Sigmoid())
    decoder = nn.Sequential(nn.Linear(6, 64), nn.Tanh(), nn.Linear(64, 24))
    model = nn.Sequential(encoder, decoder)
    optimizer = torch.optim.Adagrad(model.parameters(), lr=0.05)
    losses = []
    for _ in range(steps):
        batch = x[torch.randint(0, len(x), (64,), generator=g)]
        loss = nn.functional.mse_loss(model(batch), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return {"losses": losses}


def check(result: dict) -> str:
    losses = result["losses"]
    head, tail = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert tail < 0.5 * head, f"loss {head:.3f} -> {tail:.3f}"
    return f"reconstruction MSE {head:.3f} -> {tail:.3f} (standardised data: 1.0 for the mean)"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=150)
    train(parser.parse_args().steps)
