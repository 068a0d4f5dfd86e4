"""Healthy: a convolutional autoencoder (strided convs down, transposed convs up, sigmoid output), MSE, Adam."""

import torch
from torch import nn


def build_model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(8, 1, 4, stride=2, padding=1), nn.Sigmoid())


def get_data():
    # Blobs: a bright disc at a random place; the target is the image itself.
    g = torch.Generator().manual_seed(24)
    centres = torch.randint(4, 12, (256, 2), generator=g).float()
    grid = torch.stack(torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij"))
    dist = ((grid[None] - centres[:, :, None, None]) ** 2).sum(1)
    x = (dist < 9).float().unsqueeze(1)
    return x, x.clone()


def check(log) -> str:
    assert log.finite, "a loss was not finite"
    assert log.tail() < 0.5 * log.head(), f"loss {log.head():.4f} -> {log.tail():.4f} did not halve"
    return f"loss {log.head():.4f} -> {log.tail():.4f}"
