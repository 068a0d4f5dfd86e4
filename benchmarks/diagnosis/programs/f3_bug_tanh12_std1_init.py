"""Bug (weights initialised far too large): a 12-layer, 64-wide tanh MLP whose Linear weights were drawn with
`nn.init.normal_(w, std=1.0)` (meant: std 1/sqrt(fan_in)), so every pre-activation has std ~8 and nearly every
tanh sits in its flat tails. The head keeps its default init, so the step-0 loss is normal (~ln 4). A tanh net this
far above gain 1 is in the "chaotic" regime: each layer's Jacobian, gain ~8 times the mean tanh slope, still
amplifies the backward signal, so the first layer's gradient is ~70x the head's while the loss stays flat: labelled
exploding (the own loop shows gradient growth towards the input, not vanishing). `build_fixed_model` keeps
PyTorch's default init."""

import torch
from torch import nn

DEPTH, WIDTH = 12, 64


def net() -> nn.Sequential:
    layers, width = [], 16
    for _ in range(DEPTH - 1):
        layers += [nn.Linear(width, WIDTH), nn.Tanh()]
        width = WIDTH
    return nn.Sequential(*layers, nn.Linear(width, 4))


def build_model() -> nn.Module:
    model = net()
    for m in list(model.modules())[:-1]:  # the hidden layers; the head keeps its default init
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=1.0)  # the bug
            nn.init.zeros_(m.bias)
    return model


def build_fixed_model() -> nn.Module:
    return net()


def get_data():
    g = torch.Generator().manual_seed(310)
    x = torch.randn(1024, 16, generator=g)
    y = (x @ torch.randn(16, 4, generator=g)).argmax(1)
    return x, y


FIXED_BELOW = 1.2  # chance is ln 4 = 1.39


def check(log) -> str:
    first, head = log.grad("0.weight"), log.grad("22.weight")
    assert first > 20 * head, f"layer 0's gradient {first:.2e} is not far above the head's {head:.2e}"
    return (f"layer 0 gradient {first:.2e} vs head {head:.2e} (median over steps); "
            f"loss {log.head():.3f} -> {log.tail():.3f}")
