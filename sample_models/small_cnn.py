"""A small CNN (3 conv + BatchNorm + ReLU blocks, global pooling, a linear head) on synthetic 3x32x32 images.

Expected: no vanishing, exploding or non-finite findings.
"""

from torch import nn


def block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]


def build_model() -> nn.Module:
    return nn.Sequential(*block(3, 8), *block(8, 16), *block(16, 16), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(16, 5))
