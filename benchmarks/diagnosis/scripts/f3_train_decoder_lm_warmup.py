"""Healthy: a GPT-style decoder-only language model (learned absolute position embeddings, no RoPE; pre-norm
blocks, causal mask, untied head) on a synthetic grammar, trained with AdamW (lr 3e-3, weight decay 0.1 on matrices
only, betas 0.9/0.95) and a linear warm-up over 10 steps followed by cosine decay, gradient clipping at 1.0.
Run: python f3_train_decoder_lm_warmup.py [--steps N]
"""

import argparse
import math

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
        h = self.tok(tokens) + self.pos(torch.arange(tokens.shape[1]))
        return self.head(self.norm(self.blocks(h, mask=self.mask, is_causal=True)))


def corpus(g: torch.Generator, n: int = 1024):
    table = torch.randint(0, VOCAB, (VOCAB, VOCAB), generator=g)
    seq = torch.zeros(n, LENGTH + 1, dtype=torch.long)
    seq[:, :2] = torch.randint(0, VOCAB, (n, 2), generator=g)
    for i in range(2, LENGTH + 1):
        noise = torch.rand(n, generator=g) < 0.1
        seq[:, i] = torch.where(noise, torch.randint(0, VOCAB, (n,), generator=g), table[seq[:, i - 2], seq[:, i - 1]])
    return seq


def train(steps: int = 80, warmup: int = 10) -> dict:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(316)
    seq = corpus(g)
    model = DecoderLM()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=3e-3, betas=(0.9, 0.95))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warmup if s < warmup else 0.5 * (1 + math.cos(math.pi * (s - warmup) / steps)))
    losses = []
    for _ in range(steps):
        batch = seq[torch.randint(0, len(seq), (32,), generator=g)]
        logits = model(batch[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, VOCAB), batch[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    return {"losses": losses}


def check(result: dict) -> str:
    losses = result["losses"]
    head, tail = sum(losses[:8]) / 8, sum(losses[-8:]) / 8
    assert tail < 0.8 * head, f"loss {head:.3f} -> {tail:.3f}"
    return f"loss {head:.3f} -> {tail:.3f} (ln 32 = 3.47)"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=80)
    train(parser.parse_args().steps)
