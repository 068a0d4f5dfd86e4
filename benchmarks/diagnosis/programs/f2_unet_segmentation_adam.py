"""Healthy: a tiny U-Net (two poolings, transposed-conv upsampling, skip connections by concatenation, conv-BN-ReLU
blocks with in-place ReLUs) segmenting 24x24 images into background / disc / bar, per-pixel cross-entropy in the
file's own loss_fn, Adam at 2e-3: the shape of most segmentation tutorials, in small."""

import torch
import torch.nn.functional as F
from torch import nn


def block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                         nn.Conv2d(c_out, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class TinyUNet(nn.Module):
    def __init__(self, classes: int = 3, width: int = 8):
        super().__init__()
        self.down1, self.down2 = block(1, width), block(width, 2 * width)
        self.bottom = block(2 * width, 4 * width)
        self.up2 = nn.ConvTranspose2d(4 * width, 2 * width, 2, stride=2)
        self.dec2 = block(4 * width, 2 * width)
        self.up1 = nn.ConvTranspose2d(2 * width, width, 2, stride=2)
        self.dec1 = block(2 * width, width)
        self.out = nn.Conv2d(width, classes, 1)

    def forward(self, x):
        d1 = self.down1(x)
        d2 = self.down2(F.max_pool2d(d1, 2))
        b = self.bottom(F.max_pool2d(d2, 2))
        u2 = self.dec2(torch.cat([self.up2(b), d2], dim=1))
        u1 = self.dec1(torch.cat([self.up1(u2), d1], dim=1))
        return self.out(u1)


def build_model() -> nn.Module:
    return TinyUNet()


def get_data():
    g = torch.Generator().manual_seed(201)
    n, size = 192, 24
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    masks = torch.zeros(n, size, size, dtype=torch.long)
    for i in range(n):
        r, c = torch.randint(5, size - 5, (2,), generator=g).tolist()
        masks[i][(rows - r) ** 2 + (cols - c) ** 2 <= 12] = 1  # a disc
        bar = torch.randint(0, size - 3, (1,), generator=g).item()
        masks[i, bar:bar + 2, 2:size - 2][masks[i, bar:bar + 2, 2:size - 2] == 0] = 2  # a horizontal bar
    x = masks.float().unsqueeze(1) * 0.8 + 0.3 * torch.randn(n, 1, size, size, generator=g)
    return x, masks


def loss_fn(output, target):
    return F.cross_entropy(output, target)


def check(log) -> str:
    assert log.finite and log.tail() < 0.7 * log.head(), f"loss {log.head():.3f} -> {log.tail():.3f}"
    return f"loss {log.head():.3f} -> {log.tail():.3f}"
