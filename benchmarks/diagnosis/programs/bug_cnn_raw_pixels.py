"""Bug (unnormalised inputs): a CNN without BatchNorm fed raw 0-255 pixel values (the ToTensor/255 step
forgotten), SGD at an lr tuned for [0, 1] inputs; the first step overshoots and the loss blows up."""

import torch
from torch import nn


def build_model() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(16, 3))


def get_data():
    g = torch.Generator().manual_seed(47)
    y = torch.randint(0, 3, (256,), generator=g)
    x = torch.rand(256, 3, 16, 16, generator=g) * 0.6
    for c in range(3):
        x[y == c, c] += 0.4
    return (x * 255).round(), y  # the bug: pixels in [0, 255]


class Rescale(nn.Module):
    def forward(self, x):
        return x / 255


def build_fixed_model() -> nn.Module:
    """The same CNN behind the missing x / 255."""
    return nn.Sequential(Rescale(), *build_model())


FIXED_BELOW = 0.7  # chance is ln 3 = 1.10; on x / 255 the same run gets below 0.7


def check(log) -> str:
    peak = max((v for v in log.losses if v == v), default=float("inf"))
    assert not log.finite or peak > 10 * log.losses[0], f"the loss peaked at {peak:.3g} from {log.losses[0]:.3g}"
    return f"loss {log.losses[0]:.3g} at step 0, peak {peak:.3g}, finite: {log.finite}"
