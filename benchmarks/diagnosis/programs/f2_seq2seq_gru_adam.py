"""Healthy: a GRU encoder-decoder that reverses a sequence of 6 tokens: the encoder's final state starts the
decoder, which reads learned position embeddings and predicts one token per position ((B, T, V) output, the
built-in cross-entropy per position). Adam at 3e-3, gradient flow through both GRUs and the shared embedding."""

import torch
from torch import nn

VOCAB, LENGTH = 10, 6


class Seq2Seq(nn.Module):
    def __init__(self, hidden: int = 64):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, 32)
        self.encoder = nn.GRU(32, hidden, batch_first=True)
        self.positions = nn.Parameter(torch.randn(LENGTH, 32) * 0.1)
        self.decoder = nn.GRU(32, hidden, batch_first=True)
        self.out = nn.Linear(hidden, VOCAB)

    def forward(self, tokens):
        _, state = self.encoder(self.embed(tokens))
        steps, _ = self.decoder(self.positions.expand(len(tokens), -1, -1), state)
        return self.out(steps)


def build_model() -> nn.Module:
    return Seq2Seq()


def get_data():
    g = torch.Generator().manual_seed(205)
    x = torch.randint(0, VOCAB, (1024, LENGTH), generator=g)
    return x, x.flip(1)


def check(log) -> str:
    assert log.finite and log.tail() < 0.75 * log.head(), f"loss {log.head():.3f} -> {log.tail():.3f}"
    return f"loss {log.head():.3f} -> {log.tail():.3f} (chance 2.30)"
