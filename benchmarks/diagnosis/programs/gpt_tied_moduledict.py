"""Healthy: a nanoGPT-style decoder, 6 layers x 384 wide, bias-free LayerNorms, the token embedding tied to the
LM head, its parts in an nn.ModuleDict (`transformer.wte`, `transformer.h.0` ...), AdamW. Sequence and batch are
small so it runs in seconds on a CPU; the width is the real one."""

import math

import torch
from torch import nn
from torch.nn import functional as F

VOCAB, CTX, DIM, HEADS, LAYERS = 512, 16, 384, 6, 6


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(DIM, bias=False)
        self.c_attn = nn.Linear(DIM, 3 * DIM, bias=False)
        self.c_proj = nn.Linear(DIM, DIM, bias=False)
        self.ln_2 = nn.LayerNorm(DIM, bias=False)
        self.mlp = nn.Sequential(nn.Linear(DIM, 4 * DIM, bias=False), nn.GELU(), nn.Linear(4 * DIM, DIM, bias=False))

    def forward(self, x):  # (B, T, DIM)
        b, t, _ = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(DIM, dim=2)
        q, k, v = (z.view(b, t, HEADS, DIM // HEADS).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, DIM)
        x = x + self.c_proj(y)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(VOCAB, DIM), wpe=nn.Embedding(CTX, DIM),
            h=nn.ModuleList(Block() for _ in range(LAYERS)), ln_f=nn.LayerNorm(DIM, bias=False)))
        self.lm_head = nn.Linear(DIM, VOCAB, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying, as nanoGPT does
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * LAYERS) if name.endswith(("c_proj.weight", "mlp.2.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx):  # (B, T) -> (B, T, VOCAB)
        x = self.transformer.wte(idx) + self.transformer.wpe(torch.arange(idx.shape[1]))
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))


def build_model() -> nn.Module:
    return GPT()


def get_data():
    # Character-like text: repeated "words" drawn from a small lexicon, so the model can learn spelling quickly.
    g = torch.Generator().manual_seed(18)
    lexicon = [torch.randint(0, VOCAB, (int(n),), generator=g) for n in torch.randint(2, 6, (60,), generator=g)]
    stream = torch.cat([lexicon[int(i)] for i in torch.randint(0, 60, (2000,), generator=g)])
    rows = stream[: 300 * (CTX + 1)].view(300, CTX + 1)
    return rows[:, :-1].contiguous(), rows[:, 1:].contiguous()


def check(log) -> str:
    assert log.finite, "a loss was not finite"
    assert log.tail() < log.head() - 0.3, f"loss {log.head():.2f} -> {log.tail():.2f} fell by less than 0.3 nat"
    return f"loss {log.head():.2f} -> {log.tail():.2f}"
