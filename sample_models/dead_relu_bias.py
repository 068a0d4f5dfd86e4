"""A 3-layer ReLU MLP whose middle layer's bias was set to -10: every unit of its ReLU is dead from step 0.

A dead ReLU passes no gradient, so the layers below it, and the weight right after it, get gradients of exactly 0.
Expected: `dead_units` at the dead ReLU (module "3") as the first finding, an error; the exactly-zero gradients it
causes are its symptoms (info), not `unused` errors (which would suggest a detached branch).
"""

import torch
from torch import nn

FEATURES, WIDTH, CLASSES = 20, 64, 3


def build_model() -> nn.Module:
    net = nn.Sequential(nn.Linear(FEATURES, WIDTH), nn.ReLU(), nn.Linear(WIDTH, WIDTH), nn.ReLU(),
                        nn.Linear(WIDTH, CLASSES))
    with torch.no_grad():
        net[2].bias.fill_(-10.0)  # the planted bug: pre-activations ~N(0, 0.3) - 10 never reach 0
    return net
