"""Bug (dying ReLU at the output): a calibration model that regresses the log-probability a reference language model
assigns to a sentence (always <= 0, around -3) from 20 sentence features. Its author ended the network with
`nn.ReLU()` "so the output is never garbage" (copied from a model predicting counts). MSE drives every output down
towards the negative targets, the output ReLU's pre-activation goes below 0 for every sample within a few steps,
and from then on the whole network gets a gradient of exactly 0: the final ReLU (module "5") is dead and the loss
stays at the mean squared target. `build_fixed_model` drops the output ReLU."""

import torch
from torch import nn


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1), nn.ReLU())


def build_fixed_model() -> nn.Module:
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))


def get_data():
    g = torch.Generator().manual_seed(308)
    x = torch.randn(2048, 20, generator=g)
    logp = -3.0 + 0.8 * torch.tanh(x @ torch.randn(20, 1, generator=g) / 3) - 0.2 * torch.rand(2048, 1, generator=g)
    return x, logp.clamp(max=0.0)


FIXED_BELOW = 1.0  # the targets' variance is ~0.3; predicting 0 for all costs ~9


def check(log) -> str:
    dead = log.dead_fraction("5")
    late = log.grad_norms["0.weight"][-10:]
    assert dead == 1.0 and max(late) == 0.0, f"output ReLU dead {dead:.0%}, late layer-0 gradient {max(late):.2e}"
    return (f"output ReLU dead for every sample; layer-0 gradient 0 over the last 10 steps; "
            f"loss {log.head():.2f} -> {log.tail():.2f}")
