"""A 6-layer ReLU MLP with He (Kaiming) init and zero biases: gradients reach every layer at a similar scale.

Expected: no vanishing, exploding or non-finite findings.
"""

from torch import nn

DEPTH, WIDTH, FEATURES, CLASSES = 6, 64, 20, 3


def build_model() -> nn.Module:
    layers, width_in = [], FEATURES
    for _ in range(DEPTH - 1):
        linear = nn.Linear(width_in, WIDTH)
        nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        nn.init.zeros_(linear.bias)
        layers += [linear, nn.ReLU()]
        width_in = WIDTH
    layers.append(nn.Linear(width_in, CLASSES))
    return nn.Sequential(*layers)
