"""Bug (learning rate far too low, SGD): the TCN forecaster of f3_tcn_dilated_adam switched to plain SGD but kept
the lr 1e-6 of a fine-tuning config (the recipe's SGD lr is 0.05). Every update is ~1e-6 of its weight: in 80
steps the loss on the first batch moves by about a percent, where lr 0.05 takes it 50x down. The manifest's `fix`
is lr 0.05."""

import torch
from torch import nn


class CausalBlock(nn.Module):
    def __init__(self, channels: int, dilation: int):
        super().__init__()
        self.pad = 2 * dilation
        self.conv1 = nn.Conv1d(channels, channels, 3, dilation=dilation)
        self.conv2 = nn.Conv1d(channels, channels, 3, dilation=dilation)

    def forward(self, x):
        h = torch.relu(self.conv1(nn.functional.pad(x, (self.pad, 0))))
        h = self.conv2(nn.functional.pad(h, (self.pad, 0)))
        return torch.relu(x + h)


class TCN(nn.Module):
    def __init__(self, channels: int = 24):
        super().__init__()
        self.inp = nn.Conv1d(1, channels, 1)
        self.blocks = nn.Sequential(*[CausalBlock(channels, d) for d in (1, 2, 4, 8)])
        self.out = nn.Linear(channels, 1)

    def forward(self, x):
        return self.out(self.blocks(self.inp(x))[:, :, -1])


def build_model() -> nn.Module:
    return TCN()


def get_data():
    g = torch.Generator().manual_seed(315)
    start = torch.rand(1024, 1, generator=g) * 100
    freq = 0.05 + 0.1 * torch.rand(1024, 1, generator=g)
    t = start + torch.arange(65).float()
    s = torch.sin(freq * t) + 0.5 * torch.sin(2.7 * freq * t) + 0.05 * torch.randn(1024, 65, generator=g)
    s = s / s.std()
    return s[:, :64].unsqueeze(1), s[:, 64:]


FIXED_BELOW = 0.4  # the mean predictor scores ~1.0


def check(log) -> str:
    x, y = log.batch
    with torch.no_grad():
        now = nn.functional.mse_loss(log.model(x), y).item()
    assert abs(now - log.losses[0]) < 0.05 * log.losses[0], f"first batch's loss {log.losses[0]:.4f} -> {now:.4f}"
    return (f"first batch's loss {log.losses[0]:.4f} -> {now:.4f} after the run; "
            f"step losses {log.head():.3f} -> {log.tail():.3f}")
