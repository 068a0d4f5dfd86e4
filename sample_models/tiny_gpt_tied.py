"""A GPT-style decoder with tied input/output embeddings and bias-free LayerNorms (nanoGPT's layout, scaled down).

The tied embedding's gradient norm is hundreds of times a 32-weight LayerNorm's, which an older `exploding` rule
compared raw (and which flipped with batch size and run length); the rules now leave embeddings and norm layers out
of the cross-layer comparisons. The task (in get_data): each token is the previous one plus one, modulo VOCAB; the
loss is the built-in cross_entropy over (batch, seq, vocab) logits.
Expected: no error or warning findings, at any batch size or run length.
"""

import torch
from torch import nn

VOCAB, D_MODEL, HEADS, LAYERS, SEQ_LEN, SAMPLES = 64, 32, 4, 2, 16, 512


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(D_MODEL, bias=False)
        self.attn = nn.MultiheadAttention(D_MODEL, HEADS, bias=False, batch_first=True)
        self.ln_2 = nn.LayerNorm(D_MODEL, bias=False)
        self.mlp = nn.Sequential(nn.Linear(D_MODEL, 4 * D_MODEL, bias=False), nn.GELU(),
                                 nn.Linear(4 * D_MODEL, D_MODEL, bias=False))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class TinyGPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(VOCAB, D_MODEL)
        self.wpe = nn.Embedding(SEQ_LEN, D_MODEL)
        self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))
        self.ln_f = nn.LayerNorm(D_MODEL, bias=False)
        self.lm_head = nn.Linear(D_MODEL, VOCAB, bias=False)
        self.lm_head.weight = self.wte.weight  # tied: one tensor, owned by wte
        for module in self.modules():  # nanoGPT's init: N(0, 0.02) keeps the tied logits small at step 0
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # (batch, seq) -> (batch, seq, vocab)
        t = tokens.shape[1]
        mask = torch.triu(torch.full((t, t), float("-inf")), diagonal=1)
        x = self.wte(tokens) + self.wpe(torch.arange(t))
        for block in self.blocks:
            x = block(x, mask)
        return self.lm_head(self.ln_f(x))


def build_model() -> nn.Module:
    return TinyGPT()


def get_data():
    generator = torch.Generator().manual_seed(0)
    start = torch.randint(0, VOCAB, (SAMPLES, 1), generator=generator)
    tokens = (start + torch.arange(SEQ_LEN + 1)) % VOCAB
    return tokens[:, :-1], tokens[:, 1:]

