"""Bug (residual branch scaled up): a residual MLP whose blocks compute `x + self.scale * branch(x)` with
`scale = 10.0` (the config meant 0.1, a "small init of the residual branch" trick). Each of the 8 blocks multiplies
the activations' scale by ~10, so the forward signal and with it every gradient is orders of magnitude too large:
at step 0 every weight's gradient is >100x that of the same net with scale 0.1, and the first SGD step throws the
loss to ~1e30, then NaN. Labelled exploding (the gradients' size is the root cause; the huge step-0 loss and the
NaN that follow are its consequences).
`build_fixed_model` uses scale 0.1."""

import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, width: int, scale: float):
        super().__init__()
        self.scale = scale
        self.branch = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))

    def forward(self, x):
        return x + self.scale * self.branch(x)


def net(scale: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(16, 64), *[Block(64, scale) for _ in range(8)], nn.Linear(64, 6))


def build_model() -> nn.Module:
    return net(10.0)  # the bug


def build_fixed_model() -> nn.Module:
    return net(0.1)


def get_data():
    g = torch.Generator().manual_seed(311)
    x = torch.randn(1024, 16, generator=g)
    y = (x @ torch.randn(16, 6, generator=g) + torch.sin(2 * x[:, :6])).argmax(1)
    return x, y


FIXED_BELOW = 1.0  # chance is ln 6 = 1.79


def check(log) -> str:
    torch.manual_seed(0)
    reference = build_fixed_model()
    x, y = log.batch
    nn.functional.cross_entropy(reference(x), y).backward()
    ratios = {n: log.grad_norms[n][0] / p.grad.norm().item() for n, p in reference.named_parameters()
              if n.endswith("weight")}
    low = min(ratios, key=ratios.get)
    step = next((i for i, v in enumerate(log.losses) if not v < 1e6), None)
    assert ratios[low] > 100 and step is not None and step <= 3, (
        f"smallest step-0 gradient ratio {ratios[low]:.3g} ({low}); loss {log.losses[:4]}")
    return (f"step-0 gradients >= {ratios[low]:.3g}x those of the scale-0.1 net (every weight); "
            f"loss {log.losses[0]:.4g} at step 0, above 1e6 or NaN by step {step}")
