"""A 32-class MLP classifier whose last layer is scaled up 50x at init: its logits are far too large at step 0.

Cross-entropy over 32 classes starts near ln 32 = 3.47 when the logits are small; this one starts about ten times
higher, and the first steps go to shrinking the logits. Expected: no error findings; an `initial_loss` warning
naming the step-0 loss against ln 32.
"""

import torch
from torch import nn

FEATURES, WIDTH, CLASSES = 20, 64, 32


def build_model() -> nn.Module:
    net = nn.Sequential(nn.Linear(FEATURES, WIDTH), nn.ReLU(), nn.Linear(WIDTH, CLASSES))
    with torch.no_grad():
        net[2].weight.mul_(50.0)  # the planted bug: logits ~50x their default scale
    return net
