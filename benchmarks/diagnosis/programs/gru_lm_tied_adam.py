"""Healthy: a GRU language model whose decoder shares the embedding matrix (weight tying, Press & Wolf), Adam."""

import torch
from torch import nn

VOCAB, DIM, SEQ = 1000, 96, 16


class TiedGRU(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, DIM)
        self.rnn = nn.GRU(DIM, DIM, num_layers=2, batch_first=True)
        self.decoder = nn.Linear(DIM, VOCAB)
        self.decoder.weight = self.embed.weight  # tied: one matrix, gradient from both ends

    def forward(self, tokens):  # (B, T) -> (B, T, VOCAB)
        out, _ = self.rnn(self.embed(tokens))
        return self.decoder(out)


def build_model() -> nn.Module:
    return TiedGRU()


def get_data():
    # Sequences that count upwards with a random start and stride: the next token is predictable from the last two.
    g = torch.Generator().manual_seed(16)
    start = torch.randint(0, VOCAB, (512, 1), generator=g)
    stride = torch.randint(1, 4, (512, 1), generator=g)
    rows = (start + stride * torch.arange(SEQ + 1)) % VOCAB
    return rows[:, :-1].contiguous(), rows[:, 1:].contiguous()


def check(log) -> str:
    assert log.finite, "a loss was not finite"
    need = 1.0 if len(log.losses) >= 20 else 0.1  # a 5-step smoke run only has to start falling
    assert log.tail() < log.head() - need, f"loss {log.head():.2f} -> {log.tail():.2f} fell by less than {need} nat"
    return f"loss {log.head():.2f} -> {log.tail():.2f}"
