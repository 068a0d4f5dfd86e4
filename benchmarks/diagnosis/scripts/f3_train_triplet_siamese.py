"""Healthy: a Siamese embedding net (one shared MLP encoder, L2-normalised 16-d output) trained with
nn.TripletMarginLoss (margin 0.5) on anchor/positive/negative triples of noisy views of 10 prototype vectors, Adam at
1e-3. The check: the loss falls and a nearest-prototype classifier in embedding space becomes accurate.
Run: python f3_train_triplet_siamese.py [--steps N]
"""

import argparse

import torch
from torch import nn


def train(steps: int = 100) -> dict:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(318)
    prototypes = torch.randn(10, 32, generator=g)

    def views(labels):
        return prototypes[labels] + 1.2 * torch.randn(len(labels), 32, generator=g)

    encoder = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 16))

    def embed(x):
        return nn.functional.normalize(encoder(x), dim=1)

    criterion = nn.TripletMarginLoss(margin=0.5)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=1e-3)
    losses = []
    for _ in range(steps):
        anchor = torch.randint(0, 10, (64,), generator=g)
        negative = (anchor + torch.randint(1, 10, (64,), generator=g)) % 10
        loss = criterion(embed(views(anchor)), embed(views(anchor)), embed(views(negative)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        labels = torch.arange(10).repeat(30)
        centres = embed(prototypes)
        accuracy = (embed(views(labels)) @ centres.T).argmax(1).eq(labels).float().mean().item()
    return {"losses": losses, "accuracy": accuracy}


def check(result: dict) -> str:
    losses = result["losses"]
    head, tail = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert tail < 0.5 * head and result["accuracy"] > 0.6, (
        f"loss {head:.3f} -> {tail:.3f}, accuracy {result['accuracy']:.2f}")
    return f"triplet loss {head:.3f} -> {tail:.3f}; nearest-prototype accuracy {result['accuracy']:.0%} (chance 10%)"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100)
    train(parser.parse_args().steps)
