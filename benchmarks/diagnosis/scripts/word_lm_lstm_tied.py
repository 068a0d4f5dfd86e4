"""Healthy: PyTorch's word_language_model recipe in small: a 2-layer LSTM with tied embeddings, uniform(-0.1, 0.1)
init, plain SGD at lr 20 with gradient clipping at 0.25, truncated BPTT over one long token stream.
Run: python word_lm_lstm_tied.py [--batches N] [--lr LR] [--clip C]
"""

import argparse

import torch
from torch import nn

VOCAB, DIM, BPTT, BATCH = 1000, 64, 16, 16


class RNNModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Embedding(VOCAB, DIM)
        self.rnn = nn.LSTM(DIM, DIM, num_layers=2)
        self.decoder = nn.Linear(DIM, VOCAB)
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        self.decoder.weight = self.encoder.weight

    def forward(self, tokens, hidden):  # (T, B) -> (T, B, VOCAB)
        out, hidden = self.rnn(self.encoder(tokens), hidden)
        return self.decoder(out), hidden


def corpus() -> torch.Tensor:
    """A token stream of short "phrases" that repeat: (length, BATCH) columns, as batchify() makes them."""
    g = torch.Generator().manual_seed(60)
    phrases = [torch.randint(0, VOCAB, (int(n),), generator=g) for n in torch.randint(3, 8, (40,), generator=g)]
    stream = torch.cat([phrases[int(i)] for i in torch.randint(0, 40, (1500,), generator=g)])
    usable = len(stream) // BATCH * BATCH
    return stream[:usable].view(BATCH, -1).t().contiguous()


def train(batches: int = 40, lr: float = 20.0, clip: float = 0.25) -> dict:
    torch.manual_seed(0)
    data, model, losses = corpus(), RNNModel(), []
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)  # the example updates p.data by hand; same step
    hidden = None
    for i in range(batches):
        start = (i * BPTT) % (len(data) - BPTT - 1)
        inputs, targets = data[start:start + BPTT], data[start + 1:start + 1 + BPTT]
        if hidden is not None:
            hidden = tuple(h.detach() for h in hidden)  # repackage_hidden: truncated BPTT
        model.zero_grad()
        output, hidden = model(inputs, hidden)
        loss = nn.functional.cross_entropy(output.view(-1, VOCAB), targets.reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        losses.append(loss.item())
    return {"losses": losses}


def check(result: dict) -> str:
    losses = result["losses"]
    first, last = sum(losses[:4]) / 4, sum(losses[-4:]) / 4
    assert last < first - 1.0, f"loss {first:.2f} -> {last:.2f} fell by less than 1 nat"
    return f"loss {first:.2f} -> {last:.2f}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--lr", type=float, default=20.0)
    parser.add_argument("--clip", type=float, default=0.25)
    args = parser.parse_args()
    train(args.batches, args.lr, args.clip)
