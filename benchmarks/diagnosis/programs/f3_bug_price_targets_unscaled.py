"""Bug (targets not normalised): a house-rent regression whose inputs are standardised but whose targets are the raw
monthly rents in euros (~1e4, spread ~2e3), fed to a default-initialised MLP whose outputs start near 0, trained
with Adam at 1e-3. The step-0 MSE is ~1e8, about 25x the targets' variance: Adam moves each weight by ~1e-3 per
step, so the output needs thousands of steps just to reach the targets' mean, and the loss stays near its step-0
value. Labelled initial_loss (the loss's scale against the targets' variance at step 0 is the root cause; nothing
in the gradients is pathological). `build_fixed_model` adds the usual fix in the model: the head's output is
de-standardised with the targets' mean and std (the net predicts standardised rent)."""

import torch
from torch import nn

MEAN, STD = 10000.0, 2000.0


def body() -> nn.Sequential:
    return nn.Sequential(nn.Linear(12, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))


class Destandardise(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = body()

    def forward(self, x):
        return self.net(x) * STD + MEAN


def build_model() -> nn.Module:
    return body()


def build_fixed_model() -> nn.Module:
    return Destandardise()


def get_data():
    g = torch.Generator().manual_seed(309)
    x = torch.randn(2048, 12, generator=g)
    z = x @ torch.randn(12, 1, generator=g) / 3.5 + 0.3 * torch.relu(x[:, :1]) + 0.2 * torch.randn(2048, 1, generator=g)
    return x, MEAN + STD * z


FIXED_BELOW = 2.0e6  # half the targets' variance (~4e6)


def check(log) -> str:
    _, y = log.batch
    variance = y.var().item()
    assert log.losses[0] > 10 * variance, f"step-0 loss {log.losses[0]:.3g} vs target variance {variance:.3g}"
    assert log.tail() > 10 * variance, f"the loss reached {log.tail():.3g}"
    return f"step-0 loss {log.losses[0]:.3g}, ends {log.tail():.3g}, against the targets' variance {variance:.3g}"
