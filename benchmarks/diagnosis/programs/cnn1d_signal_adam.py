"""Healthy: a 1-D CNN with BatchNorm classifying noisy waveforms (sine, square, sawtooth) of random phase, Adam."""

import math

import torch
from torch import nn


def build_model() -> nn.Module:
    return nn.Sequential(nn.Conv1d(1, 16, 7, padding=3), nn.BatchNorm1d(16), nn.ReLU(), nn.MaxPool1d(2),
                         nn.Conv1d(16, 32, 5, padding=2), nn.BatchNorm1d(32), nn.ReLU(),
                         nn.AdaptiveMaxPool1d(1), nn.Flatten(), nn.Linear(32, 3))


def get_data():
    g = torch.Generator().manual_seed(23)
    y = torch.randint(0, 3, (512,), generator=g)
    phase = torch.rand(512, 1, generator=g) * 2 * math.pi
    t = torch.linspace(0, 4 * math.pi, 64) + phase
    waves = torch.stack([torch.sin(t), torch.sign(torch.sin(t)), (t % (2 * math.pi)) / math.pi - 1])
    x = waves[y, torch.arange(512)] + 0.3 * torch.randn(512, 64, generator=g)
    return x.unsqueeze(1), y


def check(log) -> str:
    assert log.finite, "a loss was not finite"
    assert log.tail() < 0.5 * log.head(), f"loss {log.head():.3f} -> {log.tail():.3f} did not halve"
    return f"loss {log.head():.3f} -> {log.tail():.3f}"
