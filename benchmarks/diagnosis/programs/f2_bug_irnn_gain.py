"""Bug (exploding, init too large): an IRNN (a ReLU RNN whose recurrent matrix starts as the identity, Le et al.
2015) over 40 time steps of a sensor series, with `weight_hh` initialised to 1.25 x the identity instead of 1.0 (a
"slightly more memory" tweak). The hidden state grows ~1.25^40 = 7500x across the sequence, so the step-0
loss is astronomically above the targets' scale and the gradients with it. `build_fixed_model` uses the identity."""

import torch
from torch import nn


class IRNN(nn.Module):
    def __init__(self, gain: float = 1.25):
        super().__init__()
        self.rnn = nn.RNN(3, 32, nonlinearity="relu", batch_first=True)
        with torch.no_grad():
            self.rnn.weight_hh_l0.copy_(gain * torch.eye(32))
            self.rnn.bias_hh_l0.zero_()
        self.head = nn.Linear(32, 1)

    def forward(self, x):
        steps, _ = self.rnn(x)
        return self.head(steps[:, -1])


def build_model() -> nn.Module:
    return IRNN(1.25)


def build_fixed_model() -> nn.Module:
    return IRNN(1.0)


def get_data():
    g = torch.Generator().manual_seed(227)
    x = 0.5 * torch.randn(512, 40, 3, generator=g)
    return x, x[:, :, 0].mean(dim=1, keepdim=True) * 3 + x[:, -5:, 1].mean(dim=1, keepdim=True)


FIXED_BELOW = 0.25


def check(log) -> str:
    target_scale = log.batch[1].pow(2).mean().item() + 1
    assert not log.finite or log.losses[0] > 100 * target_scale, \
        f"step-0 loss {log.losses[0]:.3g} is not far above E[y^2] + 1 = {target_scale:.2f}"
    return f"step-0 loss {log.losses[0]:.3g} against E[y^2] + 1 = {target_scale:.2f}; finite: {log.finite}"
