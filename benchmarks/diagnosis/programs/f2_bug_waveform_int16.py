"""Bug (unnormalised inputs): a keyword-spotting 1-D CNN (no normalisation layers) fed raw int16 PCM samples as
floats, amplitudes in the thousands, instead of samples / 32768. The first conv's outputs, and its gradient
relative to its weights, are thousands of times the layers' above; SGD at a rate fit for unit-scale audio blows
up. `build_fixed_model` divides the input by 32768 first."""

import torch
from torch import nn


class Scale(nn.Module):
    def forward(self, x):
        return x / 32768.0


def net() -> list:
    return [nn.Conv1d(1, 16, 9, stride=2, padding=4), nn.ReLU(), nn.Conv1d(16, 32, 9, stride=2, padding=4), nn.ReLU(),
            nn.Conv1d(32, 32, 9, stride=2, padding=4), nn.ReLU(), nn.AdaptiveMaxPool1d(1), nn.Flatten(),
            nn.Linear(32, 4)]


def build_model() -> nn.Module:
    return nn.Sequential(*net())


def build_fixed_model() -> nn.Module:
    return nn.Sequential(Scale(), *net())


def get_data():
    g = torch.Generator().manual_seed(228)
    y = torch.randint(0, 4, (512,), generator=g)
    t = torch.arange(256) / 8000
    pitch = torch.tensor([300.0, 600.0, 1200.0, 2400.0])[y].unsqueeze(1)
    wave = torch.sin(2 * torch.pi * pitch * t) * (0.3 + 0.4 * torch.rand(512, 1, generator=g))
    wave = wave + 0.2 * torch.randn(512, 256, generator=g)
    return torch.round(wave * 32767).clamp(-32768, 32767).unsqueeze(1), y  # int16 PCM values, as floats


FIXED_BELOW = 0.6  # chance is ln 4 = 1.39


def check(log) -> str:
    assert not log.finite or log.tail() > 1.2 * log.head() or max(log.losses) > 20 * log.losses[0], \
        f"loss {log.head():.3g} -> {log.tail():.3g}: no blow-up"
    return f"loss {log.losses[0]:.3g} at step 0, max {max(log.losses):.3g}, finite: {log.finite}"
