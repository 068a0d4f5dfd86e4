"""Bug (learning rate far too low, Adam): the ViT-tiny of f2_vit_tiny_adamw trained from scratch with Adam at
lr 2e-6, a fine-tuning rate used for pre-training. Adam moves each weight by about lr per step, so in 60 steps no
weight moves more than ~1e-4: the loss stays at chance (ln 8 = 2.08). The manifest's `fix` is lr 1e-3."""

import torch
from torch import nn


class ViT(nn.Module):
    def __init__(self, classes: int = 8, dim: int = 48, depth: int = 2, heads: int = 4):
        super().__init__()
        self.patch = nn.Conv2d(1, dim, 4, stride=4)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, 17, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        tokens = self.patch(x).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.cls.expand(len(x), -1, -1), tokens], dim=1) + self.pos
        return self.head(self.norm(self.encoder(tokens))[:, 0])


def build_model() -> nn.Module:
    return ViT()


SPOTS = [(1, 1), (1, 6), (1, 11), (6, 1), (6, 11), (11, 1), (11, 6), (11, 11)]


def get_data():
    g = torch.Generator().manual_seed(221)
    y = torch.randint(0, 8, (512,), generator=g)
    x = 0.5 * torch.randn(512, 1, 16, 16, generator=g)
    for label, (r, c) in enumerate(SPOTS):
        x[y == label, 0, r:r + 4, c:c + 4] += 1.5
    return x, y


FIXED_BELOW = 1.4  # chance is ln 8 = 2.08


def check(log) -> str:
    assert log.finite and log.tail() > 0.97 * log.head(), f"the loss fell: {log.head():.3f} -> {log.tail():.3f}"
    return f"loss {log.head():.3f} -> {log.tail():.3f} (chance 2.08)"
