"""Healthy: a sequence classifier on nn.TransformerEncoder (2 post-norm layers, d_model 64), Adam.

The task: does the sequence contain token 7 more often than token 9 (needs attention over all positions)."""

import torch
from torch import nn

VOCAB, SEQ, DIM = 50, 24, 64


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, DIM)
        self.pos = nn.Parameter(torch.randn(SEQ, DIM) * 0.02)
        layer = nn.TransformerEncoderLayer(DIM, 4, 128, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(DIM, 2)

    def forward(self, tokens):  # (B, T) -> (B, 2)
        return self.head(self.encoder(self.embed(tokens) + self.pos).mean(1))


def build_model() -> nn.Module:
    return Classifier()


def get_data():
    g = torch.Generator().manual_seed(19)
    x = torch.randint(0, VOCAB, (512, SEQ), generator=g)
    x[torch.rand(x.shape, generator=g) < 0.15] = 7
    x[torch.rand(x.shape, generator=g) < 0.15] = 9
    return x, ((x == 7).sum(1) > (x == 9).sum(1)).long()


def check(log) -> str:
    assert log.finite, "a loss was not finite"
    assert log.tail() < 0.8 * log.head(), f"loss {log.head():.3f} -> {log.tail():.3f} fell by less than 20%"
    return f"loss {log.head():.3f} -> {log.tail():.3f}"
