"""A single-layer GRU over feature sequences (batch_first) with a linear head on the last hidden state.

The task (in get_data) is one a GRU learns quickly: the class counts how many of the last step's first two
features are positive. Expected: no vanishing, exploding or non-finite findings.
"""

import torch
from torch import nn

SAMPLES, SEQ_LEN, FEATURES, CLASSES = 512, 12, 8, 3


class SequenceClassifier(nn.Module):
    def __init__(self, features: int = FEATURES, hidden: int = 32, classes: int = CLASSES):
        super().__init__()
        self.gru = nn.GRU(features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, seq, features) -> (batch, classes)
        out, _ = self.gru(x)
        return self.head(out[:, -1])


def build_model() -> nn.Module:
    return SequenceClassifier()


def get_data():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(SAMPLES, SEQ_LEN, FEATURES, generator=generator)
    y = (x[:, -1, 0] > 0).long() + (x[:, -1, 1] > 0).long()
    return x, y
