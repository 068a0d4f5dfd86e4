"""Bug (detached branch): a GRU text classifier whose embedding output is detached ("to save memory"), so the
embedding table never learns; the GRU and head learn on frozen random vectors."""

import torch
from torch import nn


class TextClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(300, 32)
        self.gru = nn.GRU(32, 32, batch_first=True)
        self.head = nn.Linear(32, 2)

    def forward(self, tokens):  # (B, T) -> (B, 2)
        out, _ = self.gru(self.embed(tokens).detach())
        return self.head(out[:, -1])


def build_model() -> nn.Module:
    return TextClassifier()


def get_data():
    g = torch.Generator().manual_seed(50)
    x = torch.randint(0, 300, (256, 10), generator=g)
    return x, (x < 150).sum(1).gt(5).long()


FIXED_BELOW = 0.0  # the own check is the embedding's missing gradient, not the loss


def check(log) -> str:
    assert log.grad_norms["embed.weight"] == [0.0] * len(log.losses), "the embedding got a gradient"
    return f"embed.weight gradient None at every step; gru {log.grad('gru.weight_ih_l0'):.2e}"
