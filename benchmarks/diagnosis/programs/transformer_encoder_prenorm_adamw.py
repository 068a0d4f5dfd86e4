"""Healthy: a pre-norm (norm_first) TransformerEncoder tagging every position (B, T, C output), AdamW.

Each position's label is the token's value mod 4 plus whether its left neighbour is even: local attention suffices.
"""

import torch
from torch import nn

VOCAB, SEQ, DIM, CLASSES = 64, 16, 96, 8


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, DIM)
        self.pos = nn.Embedding(SEQ, DIM)
        layer = nn.TransformerEncoderLayer(DIM, 4, 4 * DIM, dropout=0.1, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(DIM), enable_nested_tensor=False)
        self.head = nn.Linear(DIM, CLASSES)

    def forward(self, tokens):  # (B, T) -> (B, T, CLASSES)
        return self.head(self.encoder(self.embed(tokens) + self.pos(torch.arange(tokens.shape[1]))))


def build_model() -> nn.Module:
    return Tagger()


def get_data():
    g = torch.Generator().manual_seed(20)
    x = torch.randint(0, VOCAB, (512, SEQ), generator=g)
    left_even = torch.cat([torch.zeros(512, 1, dtype=torch.long), (x[:, :-1] % 2 == 0).long()], 1)
    return x, x % 4 + 4 * left_even


def check(log) -> str:
    assert log.finite, "a loss was not finite"
    assert log.tail() < 0.7 * log.head(), f"loss {log.head():.3f} -> {log.tail():.3f} fell by less than 30%"
    return f"loss {log.head():.3f} -> {log.tail():.3f}"
