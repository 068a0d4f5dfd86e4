"""Bug (detached branch): the GRU encoder-decoder of f2_seq2seq_gru_adam, with the encoder's final state passed to
the decoder as `state.detach()` (added to silence a "backward through the graph a second time" error in another
experiment). The embedding and the encoder never receive a gradient; the decoder can only learn the marginal
token distribution, so the loss stays near chance (ln 10 = 2.30)."""

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
        steps, _ = self.decoder(self.positions.expand(len(tokens), -1, -1), state.detach())  # the bug
        return self.out(steps)


def build_model() -> nn.Module:
    return Seq2Seq()


def get_data():
    g = torch.Generator().manual_seed(225)
    x = torch.randint(0, VOCAB, (1024, LENGTH), generator=g)
    return x, x.flip(1)


FIXED_BELOW = 0.0  # the own check is the encoder's missing gradient


def check(log) -> str:
    cut = [n for n in log.grad_norms if n.startswith(("embed.", "encoder."))]
    assert cut and all(max(log.grad_norms[n]) == 0.0 for n in cut), "an encoder parameter got a gradient"
    assert log.grad("out.weight") > 0, "the output layer got no gradient"
    return f"{len(cut)} embed/encoder parameters: no gradient at any step; loss {log.head():.3f} -> {log.tail():.3f}"
