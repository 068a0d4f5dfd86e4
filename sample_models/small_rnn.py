"""A single-layer GRU over feature sequences (batch_first) with a linear head on the last hidden state.

Expected: no vanishing, exploding or non-finite findings.
"""

import torch
from torch import nn


class SequenceClassifier(nn.Module):
    def __init__(self, features: int = 8, hidden: int = 32, classes: int = 3):
        super().__init__()
        self.gru = nn.GRU(features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, seq, features) -> (batch, classes)
        out, _ = self.gru(x)
        return self.head(out[:, -1])


def build_model() -> nn.Module:
    return SequenceClassifier()
