"""Healthy: an MLP-Mixer (4x4 patches, two mixer blocks of token-mixing and channel-mixing MLPs with GELU and
pre-LayerNorm, global average pooling) classifying 16x16 images, cross-entropy with label smoothing 0.1 in its
own loss_fn, AdamW at 1e-3 with weight decay 0.05, as in the Mixer paper's recipes, in small."""

import torch
import torch.nn.functional as F
from torch import nn


class MixerBlock(nn.Module):
    def __init__(self, tokens: int, dim: int):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.token_mlp = nn.Sequential(nn.Linear(tokens, 2 * tokens), nn.GELU(), nn.Linear(2 * tokens, tokens))
        self.channel_mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):  # x: (B, tokens, dim)
        x = x + self.token_mlp(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.channel_mlp(self.norm2(x))


class Mixer(nn.Module):
    def __init__(self, classes: int = 4, patch: int = 4, dim: int = 32, depth: int = 2):
        super().__init__()
        self.stem = nn.Conv2d(1, dim, patch, stride=patch)
        self.blocks = nn.Sequential(*[MixerBlock((16 // patch) ** 2, dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.stem(x).flatten(2).transpose(1, 2)
        return self.head(self.norm(self.blocks(x)).mean(dim=1))


def build_model() -> nn.Module:
    return Mixer()


def get_data():
    g = torch.Generator().manual_seed(202)
    y = torch.randint(0, 4, (512,), generator=g)
    x = 0.5 * torch.randn(512, 1, 16, 16, generator=g)
    for label, (r, c) in enumerate([(1, 1), (1, 11), (11, 1), (11, 11)]):
        x[y == label, 0, r:r + 4, c:c + 4] += 1.5
    return x, y


def loss_fn(output, target):
    return F.cross_entropy(output, target, label_smoothing=0.1)


def check(log) -> str:
    assert log.finite and log.tail() < 0.6 * log.head(), f"loss {log.head():.3f} -> {log.tail():.3f}"
    return f"loss {log.head():.3f} -> {log.tail():.3f} (chance 1.39)"
