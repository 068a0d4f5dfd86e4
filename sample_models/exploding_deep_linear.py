"""A deep linear stack (12 Linear layers, no activations) whose orthogonal weights have gain 1.5 per layer.

Every layer multiplies the signal by about 1.5 on the way forward and the gradient by about 1.5 on the way back
(1.5^12 ~ 130 end to end), so the first SGD steps are large, they make the weights larger still, and the gradient
norm grows by orders of magnitude within a few steps until it overflows. Expected with the defaults (SGD, lr 0.01):
`exploding`, then `nonfinite`. Gradient clipping or a 10x lower learning rate removes the explosion.
"""

from torch import nn

DEPTH, WIDTH, FEATURES, CLASSES, GAIN = 12, 32, 20, 3, 1.5


def build_model() -> nn.Module:
    sizes = [FEATURES] + [WIDTH] * (DEPTH - 1) + [CLASSES]
    layers = []
    for width_in, width_out in zip(sizes, sizes[1:]):
        linear = nn.Linear(width_in, width_out)
        nn.init.orthogonal_(linear.weight, gain=GAIN)
        nn.init.zeros_(linear.bias)
        layers.append(linear)
    return nn.Sequential(*layers)
