"""Bug (learning rate far too high, AdamW): the MLP-Mixer of f2_mlp_mixer_adamw trained at lr 1.0 (a value from an
SGD recipe) instead of 1e-3. Every Adam step moves each weight by ~1, far beyond the weights' own scale: the
logits jump, the loss rises far above its start in the first steps and the run never recovers.
The manifest's `fix` is lr 1e-3."""

import torch
from torch import nn


class MixerBlock(nn.Module):
    def __init__(self, tokens: int, dim: int):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.token_mlp = nn.Sequential(nn.Linear(tokens, 2 * tokens), nn.GELU(), nn.Linear(2 * tokens, tokens))
        self.channel_mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
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
    g = torch.Generator().manual_seed(229)
    y = torch.randint(0, 4, (512,), generator=g)
    x = 0.5 * torch.randn(512, 1, 16, 16, generator=g)
    for label, (r, c) in enumerate([(1, 1), (1, 11), (11, 1), (11, 11)]):
        x[y == label, 0, r:r + 4, c:c + 4] += 1.5
    return x, y


FIXED_BELOW = 1.0  # chance is ln 4 = 1.39


def check(log) -> str:
    early = max(log.losses[:5])
    assert not log.finite or early > 5 * log.losses[0], f"loss {log.losses[0]:.3g}, at most {early:.3g} by step 4"
    return f"loss {log.losses[0]:.3g} at step 0, {early:.3g} by step 4, ends {log.tail():.3g}"
