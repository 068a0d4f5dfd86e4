"""Healthy: an LSTM language model with an untied 18k x 64 word embedding and its own decoder, trained with Adam.

Like the PyTorch word_language_model example. Only the rows a batch touches get gradient, so the embedding's raw
gradient norm is tiny next to the decoder's, while Adam still moves it at a healthy update/weight ratio.
"""

import torch
from torch import nn

VOCAB, EMBED, HIDDEN, SEQ = 18000, 64, 128, 12


class LanguageModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Embedding(VOCAB, EMBED)
        self.rnn = nn.LSTM(EMBED, HIDDEN, batch_first=True)
        self.decoder = nn.Linear(HIDDEN, VOCAB)
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)  # init_weights() of the word_language_model example
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)

    def forward(self, tokens):  # (B, T) -> (B, T, VOCAB)
        out, _ = self.rnn(self.encoder(tokens))
        return self.decoder(out)


def build_model() -> nn.Module:
    return LanguageModel()


def get_data():
    # A Zipf-like corpus with a bigram rule (the next word is often a fixed successor): learnable in a few steps.
    g = torch.Generator().manual_seed(11)
    ranks = torch.arange(1, VOCAB + 1, dtype=torch.float)
    words = torch.multinomial(1.0 / ranks, 400 * (SEQ + 1), replacement=True, generator=g)
    follow = torch.rand(words.shape, generator=g) < 0.5
    words[1:][follow[1:]] = (words[:-1][follow[1:]] * 7 + 3) % 500
    rows = words.view(400, SEQ + 1)
    return rows[:, :-1].contiguous(), rows[:, 1:].contiguous()


def check(log) -> str:
    assert log.finite, "a loss was not finite"
    assert log.tail() < log.head() - 0.1, f"loss {log.head():.2f} -> {log.tail():.2f} fell by less than 0.1 nat"
    return f"loss {log.head():.2f} -> {log.tail():.2f}"
