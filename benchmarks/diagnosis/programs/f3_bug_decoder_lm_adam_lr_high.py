"""Bug (learning rate far too high, Adam): a GPT-style decoder-only LM (learned absolute positions, pre-norm, causal
mask, untied head) trained with Adam at lr 0.1, 100x the 1e-3 its recipe uses (the value was copied from an
SGD config). Each Adam step moves every weight by ~0.1, as large as the weights themselves: the attention logits
and the output logits jump, the loss climbs to ~1.8x its step-0 value (ln 32 = 3.47) within 5 steps and falls back
only to chance: the model learns nothing.
The manifest's `fix` is lr 1e-3."""

import torch
from torch import nn

VOCAB, LENGTH = 32, 24


class DecoderLM(nn.Module):
    def __init__(self, dim: int = 64, depth: int = 2, heads: int = 4):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, dim)
        self.pos = nn.Embedding(LENGTH, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, 4 * dim, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, VOCAB)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(LENGTH))

    def forward(self, tokens):
        t = tokens.shape[1]
        h = self.tok(tokens) + self.pos(torch.arange(t))
        h = self.blocks(h, mask=self.mask[:t, :t], is_causal=True)
        return self.head(self.norm(h))


def corpus(seed: int, n: int = 1024):
    """Token sequences (n, LENGTH + 1): x is the first LENGTH, y the next-token targets."""
    g = torch.Generator().manual_seed(seed)
    table = torch.randint(0, VOCAB, (VOCAB, VOCAB), generator=g)
    seq = torch.zeros(n, LENGTH + 1, dtype=torch.long)
    seq[:, :2] = torch.randint(0, VOCAB, (n, 2), generator=g)
    for i in range(2, LENGTH + 1):
        nxt = table[seq[:, i - 2], seq[:, i - 1]]
        noise = torch.rand(n, generator=g) < 0.1
        seq[:, i] = torch.where(noise, torch.randint(0, VOCAB, (n,), generator=g), nxt)
    return seq[:, :-1], seq[:, 1:]


def build_model() -> nn.Module:
    return DecoderLM()


def get_data():
    return corpus(307)


FIXED_BELOW = 3.1  # chance is ln 32 = 3.47; lr 1e-3 gets under it within 60 steps


def check(log) -> str:
    peak = max((v for v in log.losses if v == v), default=float("inf"))
    assert not log.finite or peak > 1.5 * log.losses[0], f"loss {log.losses[0]:.3g}, peak {peak:.3g}"
    assert not log.finite or log.tail() > 0.95 * log.losses[0], f"the loss came back: ends {log.tail():.3g}"
    return f"loss {log.losses[0]:.3g} at step 0, peak {peak:.3g}, ends {log.tail():.3g}"
