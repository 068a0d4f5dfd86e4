"""Healthy: the same small ResNet trained with AdamW on a harder 6-class version of the data."""

import torch
from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, classes: int = 6):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.layer1 = BasicBlock(16, 16)
        self.layer2 = BasicBlock(16, 32, stride=2)
        self.layer3 = BasicBlock(32, 32)
        self.fc = nn.Linear(32, classes)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.fc(x.mean(dim=(2, 3)))


def build_model() -> nn.Module:
    return ResNet()


def get_data():
    g = torch.Generator().manual_seed(15)
    y = torch.randint(0, 6, (256,), generator=g)
    x = torch.randn(256, 3, 12, 12, generator=g) * 0.5
    for c in range(3):
        x[y == c, c] += 0.8
    x[y == 3, :, 6:, 6:] += 0.8
    x[y == 4, :, :6, :6] += 0.8
    x[y == 5, :, :6, 6:] += 0.8
    return x, y


def check(log) -> str:
    assert log.finite, "a loss was not finite"
    assert log.tail() < 0.7 * log.head(), f"loss {log.head():.3f} -> {log.tail():.3f} fell by less than 30%"
    return f"loss {log.head():.3f} -> {log.tail():.3f}"
