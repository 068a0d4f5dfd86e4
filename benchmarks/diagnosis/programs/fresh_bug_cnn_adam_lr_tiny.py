"""Bug (learning rate far too low): a small CNN on 1x16x16 images trained with Adam at lr 1e-6, a typo for 1e-3
(or a fine-tuning rate copied into training from scratch). Every update moves the weights by ~1e-6 of their scale:
the loss stays at chance. The manifest's `fix` is the customary 1e-3."""

import torch
from torch import nn


def build_model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 4))


def get_data():
    g = torch.Generator().manual_seed(73)
    y = torch.randint(0, 4, (512,), generator=g)
    x = 0.5 * torch.randn(512, 1, 16, 16, generator=g)
    for label, (r, c) in enumerate([(2, 2), (2, 10), (10, 2), (10, 10)]):
        x[y == label, 0, r:r + 4, c:c + 4] += 1.5  # a bright square in one quadrant per class
    return x, y


FIXED_BELOW = 0.9  # chance is ln 4 = 1.39


def check(log) -> str:
    assert log.finite and log.tail() > 0.97 * log.head(), f"the loss fell: {log.head():.3f} -> {log.tail():.3f}"
    return f"loss {log.head():.3f} -> {log.tail():.3f} (chance 1.39)"
