"""A regression whose targets are in the thousands: with plain SGD the first steps overshoot, the weights grow
without bound, and within a few steps the loss overflows to Inf and then NaN.

Expected: `nonfinite`, naming the first step whose loss or gradient is not finite.
"""

import torch
from torch import nn

SAMPLES, FEATURES, TARGET_SCALE = 256, 8, 1e4


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(FEATURES, 32), nn.ReLU(), nn.Linear(32, 1))


def get_data():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(SAMPLES, FEATURES, generator=generator) * 10
    y = (x.sum(dim=1, keepdim=True) * TARGET_SCALE)
    return x, y
