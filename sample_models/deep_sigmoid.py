"""A 12-layer sigmoid MLP with PyTorch's default init: the textbook case of vanishing gradients.

Each sigmoid passes back at most 1/4 of the gradient (its derivative peaks at 0.25) and default-init weights do not
make up for it, so the gradient shrinks by roughly an order of magnitude per layer on the way to the input.
Expected: `vanishing` on the early layers.
"""

from torch import nn

DEPTH, WIDTH, FEATURES, CLASSES = 12, 32, 20, 3


def build_model() -> nn.Module:
    layers, width_in = [], FEATURES
    for _ in range(DEPTH - 1):
        layers += [nn.Linear(width_in, WIDTH), nn.Sigmoid()]
        width_in = WIDTH
    layers.append(nn.Linear(width_in, CLASSES))
    return nn.Sequential(*layers)
