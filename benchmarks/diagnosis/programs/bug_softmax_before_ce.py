"""Bug (softmax before cross-entropy): the model ends in nn.Softmax and is trained with CrossEntropyLoss, which
applies log-softmax again. The loss is squashed into [ln C - 1 + 1/C ..., ln C] and learning slows to a crawl."""

import torch
from torch import nn


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 10), nn.Softmax(dim=1))


def get_data():
    g = torch.Generator().manual_seed(42)
    x = torch.randn(512, 20, generator=g)
    return x, (x @ torch.randn(20, 10, generator=g)).argmax(1)


def build_fixed_model() -> nn.Module:
    return nn.Sequential(*list(build_model())[:-1])  # the same layers without the Softmax


FIXED_BELOW = 2.0  # chance is ln 10 = 2.30; without the softmax the same run gets below 2.0


def check(log) -> str:
    out = log.model(log.batch[0])
    assert torch.allclose(out.sum(1), torch.ones(len(out))), "the outputs are not probabilities"
    drop = log.head() - log.tail()
    assert drop < 0.05, f"the loss fell {drop:.3f} nats"
    return f"outputs sum to 1; loss {log.head():.4f} -> {log.tail():.4f}"
