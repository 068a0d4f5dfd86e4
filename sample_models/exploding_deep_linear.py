"""A deep linear stack (10 Linear layers, no activations) whose orthogonal weights have gain 2.5 per layer.

The backward pass multiplies the gradient by each layer's transposed weight, so the gradient grows by about 2.5x per
layer towards the input (2.5^9 ~ 4e3 from the last layer to the first), and training only makes it worse.
Expected: `exploding`.
"""

from torch import nn

DEPTH, WIDTH, FEATURES, CLASSES, GAIN = 10, 32, 20, 3, 2.5


def build_model() -> nn.Module:
    sizes = [FEATURES] + [WIDTH] * (DEPTH - 1) + [CLASSES]
    layers = []
    for width_in, width_out in zip(sizes, sizes[1:]):
        linear = nn.Linear(width_in, width_out)
        nn.init.orthogonal_(linear.weight, gain=GAIN)
        nn.init.zeros_(linear.bias)
        layers.append(linear)
    return nn.Sequential(*layers)
