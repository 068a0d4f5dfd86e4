"""Bug (learning rate far too high, SGD): the tiny U-Net of f2_unet_segmentation_adam moved from Adam at 2e-3 to
SGD with momentum 0.9 while using a learning rate of 20 from a ResNet recipe's linear scaling rule gone
wrong (0.1 x a batch of 256 / 1, misapplied). The per-pixel loss jumps far above its start in the first steps. The manifest's `fix` is lr 0.05."""

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
    g = torch.Generator().manual_seed(230)
    n, size = 192, 24
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    masks = torch.zeros(n, size, size, dtype=torch.long)
    for i in range(n):
        r, c = torch.randint(5, size - 5, (2,), generator=g).tolist()
        masks[i][(rows - r) ** 2 + (cols - c) ** 2 <= 12] = 1
        bar = torch.randint(0, size - 3, (1,), generator=g).item()
        masks[i, bar:bar + 2, 2:size - 2][masks[i, bar:bar + 2, 2:size - 2] == 0] = 2
    x = masks.float().unsqueeze(1) * 0.8 + 0.3 * torch.randn(n, 1, size, size, generator=g)
    return x, masks


def loss_fn(output, target):
    return F.cross_entropy(output, target)


FIXED_BELOW = 0.3


def check(log) -> str:
    early = max(log.losses[:5])
    assert not log.finite or early > 5 * log.losses[0], f"loss {log.losses[0]:.3g}, at most {early:.3g} by step 4"
    return f"loss {log.losses[0]:.3g} at step 0, {early:.3g} by step 4, ends {log.tail():.3g}"
