"""Bug (head initialised far too large): the ViT-tiny with its classifier head re-initialised by
`nn.init.normal_(head.weight, std=1.0)` (a copy of an embedding's init). After the final LayerNorm the features
have unit scale, so the logits have std ~7 over 8 classes and the step-0 loss is several times ln 8 = 2.08; Adam
at 1e-3 then spends the run shrinking the head instead of learning."""

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
    model = ViT()
    nn.init.normal_(model.head.weight, std=1.0)  # the bug
    return model


def build_fixed_model() -> nn.Module:
    return ViT()


SPOTS = [(1, 1), (1, 6), (1, 11), (6, 1), (6, 11), (11, 1), (11, 6), (11, 11)]


def get_data():
    g = torch.Generator().manual_seed(222)
    y = torch.randint(0, 8, (512,), generator=g)
    x = 0.5 * torch.randn(512, 1, 16, 16, generator=g)
    for label, (r, c) in enumerate(SPOTS):
        x[y == label, 0, r:r + 4, c:c + 4] += 1.5
    return x, y


FIXED_BELOW = 1.0


def check(log) -> str:
    assert log.losses[0] > 2 * 2.08, f"step-0 loss {log.losses[0]:.2f} is not far above ln 8 = 2.08"
    return f"step-0 loss {log.losses[0]:.2f} against ln 8 = 2.08; ends {log.tail():.2f}"
