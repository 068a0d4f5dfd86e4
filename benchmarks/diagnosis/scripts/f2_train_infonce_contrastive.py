"""Healthy: a SimCLR-style contrastive script: two noisy, feature-dropped views of each sample, an MLP encoder with
a projection head, L2-normalised embeddings, and the InfoNCE loss (cross-entropy over the batch's cosine
similarities at temperature 0.2, positives on the diagonal), Adam at 1e-3.
Run: python f2_train_infonce_contrastive.py [--steps N]
"""

import argparse

import torch
import torch.nn.functional as F
from torch import nn


def augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    keep = (torch.rand(x.shape, generator=g) > 0.2).float()
    return x * keep + 0.3 * torch.randn(x.shape, generator=g)


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    logits = a @ b.T / temperature
    labels = torch.arange(len(a))
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def train(steps: int = 80) -> dict:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(213)
    prototypes = torch.randn(16, 24, generator=g) * 2
    x = prototypes[torch.randint(0, 16, (2048,), generator=g)] + 0.5 * torch.randn(2048, 24, generator=g)
    encoder = nn.Sequential(nn.Linear(24, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Linear(128, 64))
    projector = nn.Sequential(nn.ReLU(), nn.Linear(64, 32))
    optimizer = torch.optim.Adam([*encoder.parameters(), *projector.parameters()], lr=1e-3)
    losses = []
    for _ in range(steps):
        batch = x[torch.randint(0, len(x), (64,), generator=g)]
        optimizer.zero_grad()
        loss = info_nce(projector(encoder(augment(batch, g))), projector(encoder(augment(batch, g))))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return {"losses": losses}


def check(result: dict) -> str:
    losses = result["losses"]
    head, tail = sum(losses[:8]) / 8, sum(losses[-8:]) / 8
    assert tail < 0.7 * head, f"InfoNCE {head:.3f} -> {tail:.3f}"
    return f"InfoNCE {head:.3f} -> {tail:.3f} (ln 64 = 4.16 at chance)"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=80)
    train(parser.parse_args().steps)
